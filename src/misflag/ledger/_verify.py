"""Verify a whole ledger: the hash chain entry by entry, the Merkle tree, every signed checkpoint.

An entry's hash is the RFC 6962 leaf hash of `prev || record`, where `record` is the UTF-8 of
`"{seq}\\x1f{kind}\\x1f{case}\\x1f{body}"` and `case` is the case id in single quotes, or `None`. The hash
therefore chains every entry to the one before it and is also the entry's leaf in the Merkle tree.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from misflag.ledger._events import CASE_EVENTS, SYSTEM_EVENTS
from misflag.ledger._keys import checkpoint_message, signature_valid
from misflag.ledger._merkle import MerkleTree

GENESIS = bytes(32)
KINDS = frozenset(CASE_EVENTS) | frozenset(SYSTEM_EVENTS)
ENTRY_COLUMNS = "seq, prev, hash, kind, case_id, body"
CHECKPOINT_COLUMNS = "tree_size, root, ts, key_id, signature"


def record_bytes(prev: bytes, seq: int, kind: str, case_id: str | None, body: str) -> bytes:
    """The bytes an entry's leaf hash covers (see the module docstring)."""
    case = "None" if case_id is None else f"'{case_id}'"
    return prev + f"{seq}\x1f{kind}\x1f{case}\x1f{body}".encode()


def entry_hash(prev: bytes, seq: int, kind: str, case_id: str | None, body: str) -> bytes:
    return hashlib.sha256(b"\x00" + record_bytes(prev, seq, kind, case_id, body)).digest()


@dataclass
class VerifyReport:
    """What `verify` found: sizes, the first problem (None when intact) and how long it took."""

    entries: int
    checkpoints: int
    sealed: int
    unsealed: int
    problem: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok}


def check_chain(rows: Iterable[Sequence[Any]]) -> tuple[list[bytes], str | None]:
    """Walk entries in seq order; return their hashes and the first broken link, if any."""
    sha = hashlib.sha256
    hashes: list[bytes] = []
    append = hashes.append
    prev = GENESIS
    for position, (seq, stored_prev, stored_hash, kind, case_id, body) in enumerate(rows):
        if seq != position:
            return (
                hashes,
                f"entry {position}: sequence number is {seq} (an entry is missing, moved or inserted)",
            )
        if bytes(stored_prev) != prev:
            return hashes, f"entry {seq}: does not link to the hash of entry {seq - 1}"
        if kind not in KINDS:
            return hashes, f"entry {seq}: unknown kind {kind!r}"
        case = "None" if case_id is None else f"'{case_id}'"
        digest = sha(b"\x00" + prev + f"{seq}\x1f{kind}\x1f{case}\x1f{body}".encode()).digest()
        if digest != bytes(stored_hash):
            return hashes, f"entry {seq}: content does not match its hash (edited)"
        append(digest)
        prev = digest
    return hashes, None


def check_checkpoints(
    tree: MerkleTree, rows: Iterable[Sequence[Any]], public_keys: Mapping[str, bytes]
) -> tuple[int, int, str | None]:
    """Check every checkpoint's root against the tree and its signature; return (count, sealed, problem)."""
    count = sealed = 0
    for size, root, timestamp, key, signature in rows:
        count += 1
        if size > tree.size:
            return (
                count,
                sealed,
                (f"checkpoint of {size} entries but the ledger holds {tree.size} (entries were deleted)"),
            )
        if tree.root(size) != bytes(root):
            return count, sealed, f"checkpoint at {size} entries: root does not match the entries"
        public = public_keys.get(key)
        if public is None:
            return count, sealed, f"checkpoint at {size} entries: signed by unknown key {key}"
        if not signature_valid(
            public, bytes(signature), checkpoint_message(size, bytes(root), timestamp, key)
        ):
            return count, sealed, f"checkpoint at {size} entries: invalid signature"
        sealed = max(sealed, size)
    return count, sealed, None


def verify_rows(
    entry_rows: Iterable[Sequence[Any]],
    checkpoint_rows: Iterable[Sequence[Any]],
    public_keys: Mapping[str, bytes],
    *,
    require_sealed: bool = False,
) -> VerifyReport:
    """Verify entries and checkpoints given as rows (columns ENTRY_COLUMNS and CHECKPOINT_COLUMNS)."""
    started = time.perf_counter()
    hashes, problem = check_chain(entry_rows)
    count = sealed = 0
    if problem is None:
        count, sealed, problem = check_checkpoints(MerkleTree(hashes), checkpoint_rows, public_keys)
    unsealed = len(hashes) - sealed
    if problem is None and require_sealed and unsealed:
        problem = f"{unsealed} entr{'y is' if unsealed == 1 else 'ies are'} after the last signed checkpoint"
    return VerifyReport(
        entries=len(hashes),
        checkpoints=count,
        sealed=sealed,
        unsealed=unsealed,
        problem=problem,
        seconds=time.perf_counter() - started,
    )
