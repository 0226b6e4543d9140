"""Verify a whole ledger against trust anchors held outside it: the chain, the Merkle tree, every signed
checkpoint, the published heads of witnesses, and every row that grants power (tokens, keys).

An entry's hash is the RFC 6962 leaf hash of `prev || record`, where `record` is the UTF-8 of
`"{seq}\\x1f{kind}\\x1f{case}\\x1f{body}"` and `case` is the case id in single quotes, or `None`. The hash
therefore chains every entry to the one before it and is also the entry's leaf in the Merkle tree.

Only pinned keys are trusted; a `key_rotated` entry signed by a key in force hands signing to a new key.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from misflag._text import shown
from misflag.ledger._events import CASE_EVENTS, SYSTEM_EVENTS
from misflag.ledger._keys import checkpoint_message, signature_valid
from misflag.ledger._merkle import MerkleTree
from misflag.ledger._power import KeySchedule, check_power

GENESIS = bytes(32)
_sha256 = hashlib.sha256
KINDS = frozenset(CASE_EVENTS) | frozenset(SYSTEM_EVENTS)
# Entries sealed by a checkpoint in the transaction that writes them: those that grant power, and
# releases (each steers what every later audit of its input withholds).
POWER = frozenset({"token_created", "token_revoked", "rules_changed", "key_rotated", "released"})
ENTRY_COLUMNS = "seq, prev, hash, kind, case_id, body"
CHECKPOINT_COLUMNS = "tree_size, root, ts, key_id, signature"
LAST_SEQ = 2**63 - 2  # the largest seq an entry can have and still be followed by one (rowid, bigint)
_BINARY = (bytes, memoryview)


def malformed_seq(seq: Any) -> str | None:
    """Why `seq` cannot number an entry the store writes (not an integer, below 0 or past the last), or None."""
    if type(seq) is not int or not 0 <= seq <= LAST_SEQ:
        return f"an entry is numbered {shown(seq)}, which no entry the store writes can be"
    return None


def malformed_size(size: Any) -> str | None:
    """Why `size` cannot be a checkpoint's tree size (not a whole number of at least 0), or None."""
    if type(size) is not int or size < 0:
        return f"a checkpoint row claims {shown(size)} entries, which no checkpoint the store writes can"
    return None


def malformed_entry(row: Sequence[Any]) -> str | None:
    """Why an entry row (ENTRY_COLUMNS, or VOUCHED_COLUMNS with `mac`) is not of the types the store
    writes, or None. SQLite keeps any value of any storage class in any column but a rowid: a blob body or
    a text `prev`, written around the store, must be a finding, never a TypeError."""
    seq, prev, stored_hash, kind, case_id, body, *mac = row
    if numbering := malformed_seq(seq):
        return numbering
    if not (isinstance(prev, _BINARY) and isinstance(stored_hash, _BINARY) and type(kind) is str):
        return f"entry {seq}: its prev, hash or kind is of the wrong type (written around the store)"
    if type(body) is not str or (case_id is not None and type(case_id) is not str):
        return f"entry {seq}: its case id or body is not text (written around the store)"
    if mac and mac[0] is not None and not isinstance(mac[0], _BINARY):
        return f"entry {seq}: its writer proof is not binary (written around the store)"
    return None


def malformed_checkpoint(rows: Iterable[Sequence[Any]]) -> str | None:
    """Why a checkpoint row (CHECKPOINT_COLUMNS first) is not of the types the store writes, or None: a
    text tree size sorts above every number in SQLite, so it would be taken for the latest."""
    for size, root, timestamp, key, signature, *_ in rows:
        if sizing := malformed_size(size):
            return sizing
        if not (isinstance(root, _BINARY) and isinstance(signature, _BINARY)):
            return f"checkpoint at {size} entries: its root or signature is not binary (written around the store)"
        if type(timestamp) is not str or type(key) is not str:
            return f"checkpoint at {size} entries: its time or key id is not text (written around the store)"
    return None


def entry_hash(prev: bytes, seq: int, kind: str, case_id: str | None, body: str) -> bytes:
    """An entry's leaf hash: SHA-256 of 0x00, `prev` and the UTF-8 record (see the module docstring)."""
    case = "None" if case_id is None else f"'{case_id}'"
    return _sha256(b"\x00" + prev + f"{seq}\x1f{kind}\x1f{case}\x1f{body}".encode()).digest()


@dataclass
class VerifyReport:
    """What `verify` found: sizes, the first problem (None when intact) and how long it took.

    `pinned` says whether the keys it trusted were given by the caller (told out of band); a check
    anchored only on the store's own key files can show the ledger consistent, never `ok`: whoever runs
    the store can swap those files with the history. `anchors` are the ids of the keys it was anchored on
    (the fingerprint to pin, to compare with the one published)."""

    entries: int
    checkpoints: int
    sealed: int
    unsealed: int
    problem: str | None
    seconds: float
    witnessed: int = 0
    heads: int = 0
    keys: list[str] = field(default_factory=list)
    pinned: bool = True
    anchors: list[str] = field(default_factory=list)
    protection: list[str] = field(default_factory=list)  # the store's missing or altered refusals (_guard)

    @property
    def consistent(self) -> bool:
        """Whether the chain, the tree, every checkpoint and head check out under the keys trusted."""
        return self.problem is None

    @property
    def status(self) -> str:
        """`ok` (consistent under a key the caller pinned), `unpinned` (consistent, but under the store's
        own key anchors only) or `failed`."""
        if self.problem is not None:
            return "failed"
        return "ok" if self.pinned else "unpinned"

    @property
    def ok(self) -> bool:
        """Consistent under a key the caller pinned: the only answer a third party may rely on."""
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok, "status": self.status, "consistent": self.consistent}


MAX_SKEW = 60.0  # seconds an entry's timestamp may run ahead of the verifier's clock


@dataclass(frozen=True)
class TailPolicy:
    """The automatic checkpoint bound: a longer or older unsealed tail means the store did not seal it.
    `now` is the verifier's clock; entries stamped more than `skew` seconds after it are refused."""

    entries: int | None = None
    seconds: float | None = None
    now: datetime | None = None
    skew: float = MAX_SKEW


@dataclass
class Evidence:
    """Everything verify reads: entry and checkpoint rows, the rows that grant power, and witness heads."""

    entries: Iterable[Sequence[Any]]  # read once, in seq order: a list, or a cursor streaming the rows
    checkpoints: Sequence[Sequence[Any]]
    keys: Sequence[Sequence[Any]] = ()
    tokens: Sequence[Sequence[Any]] = ()
    revocations: Sequence[Sequence[Any]] = ()
    heads: Sequence[Mapping[str, Any]] = ()
    # One entry's body by seq (for the age of the unsealed tail); needed when `entries` is not a list.
    body_at: Callable[[int], Any] | None = None
    protection: Sequence[str] = ()  # what the store no longer refuses (see _guard.py); none in an export


def check_chain(
    rows: Iterable[Sequence[Any]], not_after: datetime | None = None
) -> tuple[list[bytes], list[tuple[int, str, str]], str | None]:
    """Walk entries in seq order; return their hashes, the entries that grant power, the first broken link
    (or the first entry stamped later than `not_after`, the verifier's clock plus the allowed skew)."""
    limit = stamp(not_after) if not_after else None
    sha = hashlib.sha256
    hashes: list[bytes] = []
    power: list[tuple[int, str, str]] = []
    append = hashes.append
    prev = GENESIS
    for position, (seq, stored_prev, stored_hash, kind, case_id, body) in enumerate(rows):
        if seq != position:
            number = seq if type(seq) is int else shown(seq)
            problem = (
                f"entry {position}: sequence number is {number} (an entry is missing, moved or inserted)"
            )
            return hashes, power, problem
        if stored_prev != prev:  # bytes or memoryview: both compare by content, no copy
            return hashes, power, f"entry {seq}: does not link to the hash of entry {seq - 1}"
        if kind not in KINDS:
            return hashes, power, f"entry {seq}: unknown kind {shown(kind)}"
        if case_id is None:
            record = f"{seq}\x1f{kind}\x1fNone\x1f{body}"
        else:
            record = f"{seq}\x1f{kind}\x1f'{case_id}'\x1f{body}"
        digest = sha(b"\x00" + prev + record.encode()).digest()
        if digest != stored_hash:
            return hashes, power, f"entry {seq}: content does not match its hash (edited)"
        if type(body) is not str or (case_id is not None and type(case_id) is not str):
            return hashes, power, malformed_entry((seq, prev, digest, kind, case_id, body))
        # later_than's common case inline (a call per entry cost a tenth of the walk): a body ending in
        # its own timestamp, at or before the limit, passes on two slices; anything else is parsed
        if (
            limit is not None
            and (body[-29:-2] > limit or body[-36:-29] not in _TS_KEYS or body[-3:] != 'Z"}')
            and later_than(body, limit)
        ):
            return hashes, power, f"entry {seq}: its timestamp is in the future (after {limit})"
        if kind in POWER:
            power.append((seq, kind, body))
        append(digest)
        prev = digest
    return hashes, power, None


_TS_KEYS = frozenset({',"ts":"', '{"ts":"'})  # how a canonical body's top-level timestamp starts


def stamp(moment: datetime) -> str:
    """A time as the store writes `ts`: ISO 8601, microseconds, UTC with a Z (27 characters)."""
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)  # the store's own times are UTC
    return utc.isoformat(timespec="microseconds").replace("+00:00", "Z")


def later_than(body: str, limit: str) -> bool:
    """Whether the entry's `ts` is after `limit`. The canonical body ends with its top-level
    `"ts":"<27 characters>"}` (keys sorted, and a quote cannot appear unescaped inside a string), so the
    common case is a slice and a string comparison; any other shape is parsed."""
    if body[-35:-29] == '"ts":"' and body[-2:] == '"}' and body[-3] == "Z" and body[-36] in ",{":
        return body[-29:-2] > limit
    try:
        written = datetime.fromisoformat(json.loads(body)["ts"])
        return written.tzinfo is None or stamp(written) > limit
    except (ValueError, TypeError, KeyError, RecursionError):
        return True  # an entry without a readable time is not trusted to be in the past


def check_rows(
    evidence: Evidence, schedule: KeySchedule, created: Mapping[str, tuple[str, str]], revoked: set[str]
) -> str | None:
    """Every token, revocation and key row must be explained by the verified chain or the pinned keys."""
    for digest, name, role, *_ in evidence.tokens:
        if created.get(digest, created.get(digest[:16])) != (name, role):
            return (
                f"token {digest[:16]} ({shown(name)}, {shown(role)}) is stored "
                "but no token_created entry explains it"
            )
    for digest, *_ in evidence.revocations:
        if digest[:16] not in revoked:
            return f"revocation of token {digest[:16]} is stored but no token_revoked entry explains it"
    for name, public, *_ in evidence.keys:
        if schedule.ever.get(name) != bytes(public):
            return (
                f"key {shown(name)} is stored but is neither pinned nor handed over by a signed key rotation"
            )
    return None


SignatureCheck = Callable[[bytes, bytes, bytes], bool]  # (public key, signature, message) -> valid


def check_checkpoints(
    tree: MerkleTree,
    rows: Sequence[Sequence[Any]],
    schedule: KeySchedule,
    valid: SignatureCheck,
) -> tuple[int, int, str | None]:
    """Check every checkpoint's root against the tree and its signature; return (count, sealed, problem)."""
    count = sealed = 0
    for size, root, timestamp, key, signature in rows:
        count += 1
        if size > tree.size:
            return count, sealed, f"checkpoint of {size} entries but the ledger holds {tree.size} (truncated)"
        if tree.root(size) != bytes(root):
            return count, sealed, f"checkpoint at {size} entries: root does not match the entries"
        public = schedule.at(size).get(key)
        if public is None:
            return (
                count,
                sealed,
                f"checkpoint at {size} entries: signed by key {shown(key)}, which is not trusted",
            )
        if not valid(public, bytes(signature), checkpoint_message(size, bytes(root), timestamp, key)):
            return count, sealed, f"checkpoint at {size} entries: invalid signature"
        sealed = max(sealed, size)
    return count, sealed, None


def check_heads(
    tree: MerkleTree,
    heads: Sequence[Mapping[str, Any]],
    schedule: KeySchedule,
    valid: SignatureCheck,
) -> str | None:
    """Every published head must be signed by a trusted key and lie on one history with the ledger as it is
    now and with every other head: heads of one size must carry one root, and a witness whose heads the
    ledger does not extend is named as a fork against the witnesses whose heads it does extend. (Heads
    that are all prefixes of one tree are pairwise consistent: the tree gives the consistency proof.)"""
    roots: dict[int, tuple[bytes, str]] = {}
    on_ledger: set[str] = set()
    off_ledger: dict[str, str] = {}
    for head in heads:
        size, when, source = head["tree_size"], head["timestamp"], head.get("source", "a witness")
        at, stamped = shown(size), shown(when)  # as the witness file holds them: any JSON value, any length
        public = schedule.ever.get(head["key_id"])
        try:
            root, signature = bytes.fromhex(head["root"]), bytes.fromhex(head["signature"])
        except (TypeError, ValueError):
            return f"witness head at {at} entries is malformed"
        if public is None or not valid(
            public, signature, checkpoint_message(size, root, when, head["key_id"])
        ):
            return f"witness head at {at} entries ({stamped}) is not signed by a trusted key"
        other_root, other_source = roots.setdefault(size, (root, source))
        if other_root != root:
            return (
                f"fork: {other_source} and {source} hold two different signed roots for the first {at} "
                "entries (the key holder signed two histories)"
            )
        if size > tree.size:
            off_ledger.setdefault(
                source,
                f"truncated: a head of {at} entries was published at {stamped}, the ledger holds {tree.size}",
            )
        elif tree.root(size) != root:
            off_ledger.setdefault(
                source, f"rewritten: the first {at} entries differ from the head published at {stamped}"
            )
        else:
            on_ledger.add(source)
    for source, problem in off_ledger.items():
        agreeing = sorted(on_ledger - {source})
        if agreeing:
            return f"fork: {source} is not on the history that {', '.join(agreeing)} and the ledger share ({problem})"
        return f"{problem} ({source})"
    return None


def check_tail(count: int, sealed: int, body_at: Callable[[int], Any], policy: TailPolicy) -> str | None:
    """The unsealed tail must be within the automatic checkpoint bound (else it was never sealed, or cut)."""
    unsealed = count - sealed
    if not unsealed:
        return None
    if policy.entries is not None and unsealed >= policy.entries:
        return (
            f"{unsealed} entries follow the last checkpoint, but the store seals every {policy.entries}: "
            "checkpoints were removed or the tail was written around the store"
        )
    if policy.seconds is not None and policy.now is not None:
        written = datetime.fromisoformat(json.loads(body_at(sealed))["ts"])
        age = (policy.now - written).total_seconds()
        if age > 2 * policy.seconds:
            return (
                f"the {unsealed} entries after the last checkpoint are {age:,.0f} s old, beyond the automatic "
                f"checkpoint bound of {policy.seconds:g} s: they may have been rewritten "
                "(seal them with `misflag ledger checkpoint` only if you trust them)"
            )
    return None


def verify_rows(
    evidence: Evidence,
    pinned: Mapping[str, bytes],
    *,
    require_sealed: bool = False,
    allow_unsigned: bool = False,
    allow_unprotected: bool = False,
    policy: TailPolicy = TailPolicy(),
) -> VerifyReport:
    """Verify a ledger given as rows (columns ENTRY_COLUMNS and CHECKPOINT_COLUMNS) against pinned keys.
    A store that no longer refuses rewrites fails after every check of the rows, unless `allow_unprotected`."""
    started = time.perf_counter()
    entries = evidence.entries
    body_at = evidence.body_at
    if body_at is None:  # the tail's age needs one body by position
        listed = entries if isinstance(entries, Sequence) else list(entries)
        entries, body_at = listed, lambda seq: listed[seq][5]
    not_after = policy.now + timedelta(seconds=policy.skew) if policy.now else None
    hashes, power, problem = check_chain(entries, not_after)
    schedule = KeySchedule(pinned)
    count = sealed = 0
    witnessed = max((head["tree_size"] for head in evidence.heads), default=0)
    problem = problem or malformed_checkpoint(evidence.checkpoints)
    if problem is None and not pinned and (evidence.checkpoints or evidence.heads):
        problem = "no pinned public key to trust: give --public-key (printed by `misflag ledger init`)"
    if problem is None:
        tree = MerkleTree(hashes)
        # Rotations come first: a checkpoint may be signed by a key handed over earlier in the chain.
        sealed = max((int(row[0]) for row in evidence.checkpoints if int(row[0]) <= len(hashes)), default=0)
        created, revoked, power_problem = check_power(power, schedule, sealed)
        # A published head is the checkpoint it copies (same key, signature and bytes signed): each
        # distinct triple is checked once per verify, and an identical one gets the same answer.
        valid = functools.cache(signature_valid)
        count, sealed, problem = check_checkpoints(tree, evidence.checkpoints, schedule, valid)
        problem = problem or check_heads(tree, evidence.heads, schedule, valid) or power_problem
        problem = problem or check_rows(evidence, schedule, created, revoked)
        problem = problem or check_tail(len(hashes), sealed, body_at, policy)
    unsealed = len(hashes) - sealed
    if problem is None and not count and not allow_unsigned:
        problem = (
            "no signed checkpoint: nothing in this ledger is vouched for by a key "
            "(`misflag ledger init` signs the first; --allow-unsigned accepts a ledger without one)"
        )
    if problem is None and evidence.protection and not allow_unprotected:
        problem = evidence.protection[0]
    if problem is None and require_sealed and unsealed:
        problem = f"{unsealed} entr{'y is' if unsealed == 1 else 'ies are'} after the last signed checkpoint"
    return VerifyReport(
        entries=len(hashes),
        checkpoints=count,
        sealed=sealed,
        unsealed=unsealed,
        problem=problem,
        seconds=time.perf_counter() - started,
        witnessed=witnessed,
        heads=len(evidence.heads),
        keys=sorted(schedule.ever),
        anchors=sorted(pinned),
        protection=list(evidence.protection),
    )
