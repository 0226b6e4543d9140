"""Inclusion and consistency proofs as small JSON documents a third party checks offline.

`check_proof` needs only this module's hashing, the RFC 9162 verification algorithms and an Ed25519
public key the checker pinned (`trusted_keys`): the keys a proof carries are for information and never
trusted. `prove` refuses to issue a proof on a checkpoint that the pinned keys do not verify.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from misflag._text import shown
from misflag.errors import LedgerError, literal
from misflag.ledger._keys import checkpoint_message, signature_valid
from misflag.ledger._merkle import MerkleTree, verify_consistency, verify_inclusion
from misflag.ledger._store import Ledger
from misflag.ledger._verify import entry_hash

PROOF_FORMAT = "misflag-ledger-proof/1"


def _tree(ledger: Ledger, size: int) -> MerkleTree:
    try:
        with ledger._read() as connection:
            hashes = [
                bytes(value)
                for (value,) in connection.exec_driver_sql(
                    f"SELECT hash FROM ledger_entries WHERE seq < {int(size)} ORDER BY seq"
                )
            ]
    except SQLAlchemyError as error:
        raise LedgerError(f"cannot read the ledger at {ledger.named_url}") from error
    if len(hashes) != size:
        raise LedgerError(f"the ledger holds {len(hashes)} of the {size} entries the checkpoint covers")
    return MerkleTree(hashes)


def _checkpoint(ledger: Ledger, size: int | None, covering: int = 0) -> dict[str, Any]:
    mark = _choose(ledger, size, covering)
    _check_signature(mark, ledger.authority().schedule.ever)
    return mark


def _choose(ledger: Ledger, size: int | None, covering: int) -> dict[str, Any]:
    marks = ledger.checkpoints()
    if size is not None:
        chosen = [mark for mark in marks if mark["tree_size"] == size]
        if not chosen:
            raise LedgerError(
                f"no checkpoint at {size} entries (sizes: {', '.join(str(m['tree_size']) for m in marks) or 'none'})"
            )
        return chosen[0]
    later = [mark for mark in marks if mark["tree_size"] > covering]
    if not later:
        raise LedgerError(
            f"entry {covering} is not under a signed checkpoint yet (run `misflag ledger checkpoint`)"
        )
    return later[-1]


def inclusion_proof(ledger: Ledger, seq: int, tree_size: int | None = None) -> dict[str, Any]:
    """Proof that entry `seq` is in the tree of a signed checkpoint (the latest by default)."""
    mark = _checkpoint(ledger, tree_size, covering=seq)
    if not 0 <= seq < mark["tree_size"]:
        raise LedgerError(f"entry {seq} is not covered by the checkpoint at {mark['tree_size']} entries")
    tree = _tree(ledger, mark["tree_size"])
    with ledger._read() as connection:
        row = connection.exec_driver_sql(
            f"SELECT prev, kind, case_id, body FROM ledger_entries WHERE seq = {int(seq)}"
        ).one()
    return {
        "format": PROOF_FORMAT,
        "type": "inclusion",
        "entry": {"seq": seq, "prev": bytes(row[0]).hex(), "kind": row[1], "case_id": row[2], "body": row[3]},
        "tree_size": mark["tree_size"],
        "path": [node.hex() for node in tree.inclusion_path(seq, mark["tree_size"])],
        "checkpoint": mark,
        "public_keys": _keys(ledger, [mark]),
    }


def consistency_proof(ledger: Ledger, first: int, second: int | None = None) -> dict[str, Any]:
    """Proof that the checkpoint at `first` entries is a prefix of the one at `second` (latest by default)."""
    old = _checkpoint(ledger, first)
    new = _checkpoint(ledger, second) if second is not None else _checkpoint(ledger, None, covering=first - 1)
    if new["tree_size"] < old["tree_size"]:
        raise LedgerError("the second checkpoint must be at least as large as the first")
    tree = _tree(ledger, new["tree_size"])
    path = tree.consistency_path(old["tree_size"], new["tree_size"])
    return {
        "format": PROOF_FORMAT,
        "type": "consistency",
        "first": old,
        "second": new,
        "path": [node.hex() for node in path],
        "public_keys": _keys(ledger, [old, new]),
    }


def _keys(ledger: Ledger, marks: list[dict[str, Any]]) -> dict[str, str]:
    known = ledger.public_keys()
    return {mark["key_id"]: known[mark["key_id"]].hex() for mark in marks if mark["key_id"] in known}


def _check_signature(mark: Mapping[str, Any], keys: Mapping[str, bytes]) -> None:
    public = keys.get(mark["key_id"])
    if public is None:
        raise LedgerError(f"checkpoint signed by key {mark['key_id']}, which is not trusted")
    message = checkpoint_message(
        int(mark["tree_size"]), bytes.fromhex(mark["root"]), mark["timestamp"], mark["key_id"]
    )
    if not signature_valid(public, bytes.fromhex(mark["signature"]), message):
        raise LedgerError(f"checkpoint at {mark['tree_size']} entries: signature does not verify")


def check_proof(proof: Mapping[str, Any], trusted_keys: Mapping[str, bytes]) -> str:
    """Check a proof offline against pinned keys; return a one-line description, or raise LedgerError."""
    if not trusted_keys:
        raise LedgerError("a proof is checked against pinned public keys only: give {trusted_keys}")
    try:
        if proof.get("format") != PROOF_FORMAT:
            raise LedgerError(f"not a {PROOF_FORMAT} document")
        keys = dict(trusted_keys)
        if proof["type"] == "inclusion":
            return _check_inclusion(proof, keys)
        if proof["type"] == "consistency":
            return _check_consistency(proof, keys)
        raise LedgerError(f"unknown proof type {literal(shown(proof['type']))}")
    except (KeyError, TypeError, ValueError) as error:
        raise LedgerError(f"malformed proof: {type(error).__name__} {error}") from None


def _check_inclusion(proof: Mapping[str, Any], keys: Mapping[str, bytes]) -> str:
    entry, mark = proof["entry"], proof["checkpoint"]
    _check_signature(mark, keys)
    leaf = entry_hash(
        bytes.fromhex(entry["prev"]), int(entry["seq"]), entry["kind"], entry["case_id"], entry["body"]
    )
    size = int(mark["tree_size"])
    if int(proof["tree_size"]) != size:
        raise LedgerError("the proof's tree size differs from its checkpoint's")
    path = [bytes.fromhex(node) for node in proof["path"]]
    if not verify_inclusion(leaf, int(entry["seq"]), size, path, bytes.fromhex(mark["root"])):
        raise LedgerError(f"entry {entry['seq']} is NOT included in the checkpoint at {size} entries")
    return f"entry {entry['seq']} is included in the signed checkpoint at {size} entries"


def _check_consistency(proof: Mapping[str, Any], keys: Mapping[str, bytes]) -> str:
    old, new = proof["first"], proof["second"]
    _check_signature(old, keys)
    _check_signature(new, keys)
    path = [bytes.fromhex(node) for node in proof["path"]]
    if not verify_consistency(
        int(old["tree_size"]),
        int(new["tree_size"]),
        bytes.fromhex(old["root"]),
        bytes.fromhex(new["root"]),
        path,
    ):
        raise LedgerError(
            f"checkpoint at {old['tree_size']} is NOT a prefix of the one at {new['tree_size']}"
        )
    return f"the signed checkpoint at {old['tree_size']} entries is a prefix of the one at {new['tree_size']}"
