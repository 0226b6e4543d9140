"""What the sealed chain grants, kept in memory and extended entry by entry: tokens, revocations, keys.

The API admits a token only if its `token_created` entry is in the chain, sealed under a checkpoint whose
root this process recomputed and whose signature a pinned key (or a key handed over by a signed rotation)
verifies. The tokens table is a cache for listings: a row planted there grants nothing. Each entry is hashed
once per process; a later rewrite of anything already read breaks the next checkpoint's root and is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from misflag.errors import LedgerError, literal
from misflag.ledger._events import canonical
from misflag.ledger._keys import checkpoint_message, signature_valid
from misflag.ledger._merkle import compact_root
from misflag.ledger._verify import (
    GENESIS,
    POWER,
    KeySchedule,
    entry_hash,
    malformed_checkpoint,
    malformed_entry,
)

NOT_SIGNED = ("key_id", "signature", "_ts", "_by")  # payload fields outside a rule change's signature


@dataclass(frozen=True)
class Grant:
    """A token the sealed chain created: its holder's name, role, public id and when it was made."""

    name: str
    role: str
    token_id: str
    created: str = ""


@dataclass(frozen=True)
class Revocation:
    """A sealed `token_revoked` entry: when and by whom."""

    ts: str
    actor: str


class Authority:
    """The verified prefix of one ledger (as far as its last checkpoint) and the tokens it grants."""

    def __init__(self, pinned: Mapping[str, bytes]) -> None:
        self.schedule = KeySchedule(pinned)
        self.size = 0
        self._head = GENESIS  # hash of the last sealed entry
        self.frontier: list[tuple[int, bytes]] = []
        self.tail: list[bytes] = []  # leaf hashes read past `size`, not yet under a checkpoint
        self.pending: list[tuple[int, str, dict[str, Any]]] = []
        self.tokens: dict[str, Grant] = {}
        self.revoked: dict[str, Revocation] = {}
        self.names: set[str] = set()
        self.rules: tuple[int, dict[str, Any]] | None = None  # seq and payload of the rule set in force

    @property
    def read(self) -> int:
        """Entries read so far (sealed or not)."""
        return self.size + len(self.tail)

    def extend(self, checkpoints: Sequence[Sequence[Any]], entries: Sequence[Sequence[Any]]) -> None:
        """Take new entries (seq >= self.read) and checkpoints (tree_size > self.size), in order."""
        prev = self.tail[-1] if self.tail else self._head
        malformed = malformed_checkpoint(checkpoints)
        if malformed:
            raise LedgerError(f"the ledger failed verification: {literal(malformed)}")
        try:
            for seq, stored_prev, stored_hash, kind, case_id, body in entries:
                if seq != self.read or bytes(stored_prev) != prev:
                    raise LedgerError(f"the ledger failed verification at entry {seq}: broken chain")
                digest = entry_hash(prev, seq, kind, case_id, body)
                if digest != bytes(stored_hash):
                    raise LedgerError(f"the ledger failed verification at entry {seq}: edited")
                if kind in POWER:
                    parsed = json.loads(body)
                    self.pending.append(
                        (seq, kind, parsed["payload"] | {"_ts": parsed["ts"], "_by": parsed["actor"]})
                    )
                self.tail.append(digest)
                prev = digest
        except (TypeError, ValueError):  # a row of another storage class (SQLite), written around the store
            # the type check only here, where a row failed: on every row it cost a third of the hashing
            found = (
                next(filter(None, map(malformed_entry, entries)), None)
                or "an entry whose body cannot be read (written around the store)"
            )
            raise LedgerError(f"the ledger failed verification: {literal(found)}") from None
        for size, root, timestamp, key, signature in checkpoints:
            if size <= self.size:
                continue
            if size > self.read:
                raise LedgerError(
                    f"the ledger failed verification: checkpoint of {size} entries, {self.read} read"
                )
            self._seal(size, bytes(root), timestamp, key, bytes(signature))

    def _seal(self, size: int, root: bytes, timestamp: str, key: str, signature: bytes) -> None:
        covered = size - self.size
        computed, frontier = compact_root(self.frontier, self.tail[:covered])
        if computed != root:
            raise LedgerError(f"the ledger failed verification: checkpoint at {size} entries does not match")
        for seq, kind, payload in [item for item in self.pending if item[0] < size]:
            if kind == "key_rotated":
                problem = self.schedule.rotate(seq, payload)
                if problem:
                    raise LedgerError(f"the ledger failed verification: {literal(problem)}")
        public = self.schedule.at(size).get(key)
        if public is None or not signature_valid(
            public, signature, checkpoint_message(size, root, timestamp, key)
        ):
            raise LedgerError(
                f"the ledger failed verification: checkpoint at {size} is not signed by a trusted key"
            )
        for seq, kind, payload in [item for item in self.pending if item[0] < size]:
            if kind == "token_created":
                grant = Grant(payload["name"], payload["role"], payload["id"], payload["_ts"])
                self.tokens[payload.get("token_hash") or payload["id"]] = grant
                self.names.add(grant.name)
            elif kind == "token_revoked":
                self.revoked.setdefault(payload["id"], Revocation(payload["_ts"], payload["_by"]))
            elif kind == "rules_changed":
                self._take_rules(seq, payload)
        self.pending = [item for item in self.pending if item[0] >= size]
        self._head = self.tail[covered - 1]
        self.tail = self.tail[covered:]
        self.frontier, self.size = frontier, size

    def _take_rules(self, seq: int, payload: dict[str, Any]) -> None:
        """A sealed rule change: signed by a key in force, with a version above the one it replaces (an
        old rule set replayed, even with its genuine signature, is refused)."""
        statement = {name: value for name, value in payload.items() if name not in NOT_SIGNED}
        public = self.schedule.at(seq).get(payload.get("key_id", ""))
        try:
            signature = bytes.fromhex(payload.get("signature", ""))
            version = payload["rule_set"]["version"]
        except (TypeError, ValueError, KeyError):
            raise LedgerError(f"the ledger failed verification: entry {seq}: malformed rule change") from None
        if public is None or not signature_valid(public, signature, canonical(statement).encode()):
            raise LedgerError(f"the ledger failed verification: entry {seq}: rule change not signed")
        previous = self.rules[1]["rule_set"]["version"] if self.rules else 0
        if not isinstance(version, int) or version <= previous:
            raise LedgerError(
                f"the ledger failed verification: entry {seq}: rule set version {version} does not "
                f"increase on {previous} (an old rule set replayed)"
            )
        self.rules = (seq, payload)

    def grant(self, digest: str) -> Grant | None:
        """The sealed, unrevoked grant of the token with this SHA-256 (hex), or None."""
        found = self.tokens.get(digest) or self.tokens.get(digest[:16])
        if found is None or found.token_id != digest[:16] or found.token_id in self.revoked:
            return None
        return found
