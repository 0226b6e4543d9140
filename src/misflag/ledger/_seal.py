"""The ledger's write path: entries chained with the writer's proof, and sealed only after it is checked.

Appends chain new entries to the head (after checking that the head is the service's own), each with an
HMAC writer proof (_writer.py), and commit once. A checkpoint is written automatically every
`checkpoint_every` entries or once the oldest unsealed entry is `checkpoint_seconds` old, and published to
the heads file on commit. Before signing, the sealer checks the last checkpoint row (signed by this
ledger's key, within the table, its frontier matching its root) and every row it is about to seal (linked,
hashed, carrying a valid writer proof); it refuses and raises an alarm otherwise. A row this process wrote
is not proved twice: its hash, kept in memory since the insert, must be the stored one (see `_own`).
One append is one transaction: one statement reads the head, the sealed size and the rule set's entry,
one reads the histories of the cases a rule checks (none for a batch of flags), one prepared
`executemany` inserts, one commit (on SQLite, BEGIN IMMEDIATE and COMMIT on the DBAPI connection).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection, func, select

from misflag._text import shown
from misflag.errors import LedgerError
from misflag.ledger import _schema as schema
from misflag.ledger._base import LOG, Frontier, SealMark
from misflag.ledger._engine import now
from misflag.ledger._events import Event, stamp_ending
from misflag.ledger._keys import (
    checkpoint_message,
    key_id,
    public_bytes,
    publish_head,
    signature_valid,
)
from misflag.ledger._merkle import compact_root
from misflag.ledger._seal_keys import KeyedStore
from misflag.ledger._verify import (
    CHECKPOINT_COLUMNS,
    GENESIS,
    entry_hash,
    malformed_checkpoint,
    malformed_seq,
    malformed_size,
)
from misflag.ledger._writer import VOUCHED_COLUMNS, entry_mac, prover, refuse, unvouched

INSERT_SQL = f"INSERT INTO ledger_entries ({', '.join(VOUCHED_COLUMNS)}) VALUES ({', '.join('?' * 7)})"
INSERT_CHECKPOINT_SQL = (
    f"INSERT INTO ledger_checkpoints ({CHECKPOINT_COLUMNS}, frontier) VALUES ({', '.join('?' * 6)})"
)
# The last checkpoint row, the head's seq, the hash of the last entry that checkpoint seals and the
# lowest seq (a row numbered below 0, written around the store, would sit outside every range sealed).
LAST_SEALED_SQL = (
    f"SELECT {CHECKPOINT_COLUMNS}, frontier, (SELECT max(seq) FROM ledger_entries),"
    " (SELECT hash FROM ledger_entries WHERE seq = c.tree_size - 1),"
    " (SELECT min(seq) FROM ledger_entries)"
    " FROM ledger_checkpoints c ORDER BY tree_size DESC LIMIT 1"
)
# The latest rule change, the sealed size, the body of the first unsealed entry and the head entry.
TIP_SQL = (
    "SELECT (SELECT max(seq) FROM ledger_entries WHERE kind = 'rules_changed'), c.size, f.body, "
    + ", ".join(f"h.{name}" for name in VOUCHED_COLUMNS)
    + " FROM (SELECT COALESCE(max(tree_size), 0) AS size FROM ledger_checkpoints) c"
    " LEFT JOIN ledger_entries f ON f.seq = c.size"
    " LEFT JOIN ledger_entries h ON h.seq = (SELECT max(seq) FROM ledger_entries)"
)


def checkpoint_answer(size: int, root: bytes, timestamp: str, name: str, signature: bytes) -> dict[str, Any]:
    """A checkpoint as the store answers it and publishes it (root and signature in hex)."""
    return {
        "tree_size": size,
        "root": bytes(root).hex(),
        "timestamp": timestamp,
        "key_id": name,
        "signature": bytes(signature).hex(),
    }


class Tip(NamedTuple):
    """The store as an append finds it (TIP_SQL): the seq of the latest `rules_changed` entry, the size
    of the last checkpoint, the body of the first entry after it, and the head entry (VOUCHED_COLUMNS)."""

    rules_seq: int | None
    sealed: int
    first_unsealed: str | None
    head: tuple[Any, ...] | None


class SealingStore(KeyedStore):
    """Appending rows with the writer's proof, and checkpoints that seal only rows the writer vouches for."""

    def _vouched_rows(self, connection: Connection, where: str, params: Sequence[Any] = ()) -> list[Any]:
        """Rows (VOUCHED_COLUMNS) matching the SQL condition `where`, in ledger order."""
        columns = ", ".join(VOUCHED_COLUMNS)
        return self._fetch(
            connection, f"SELECT {columns} FROM ledger_entries WHERE {where} ORDER BY seq", params
        )

    def _own(self, written: dict[int, bytes], seq: int, stored_hash: bytes) -> bool:
        """Whether entry `seq`, as stored, is one this process wrote: its hash is the one computed here,
        in this transaction (`written`) or an earlier committed one. Such a row needs no second hash and proof check:
        the sealer signs the hash this process computed, so a row changed since (its body, by whoever
        can edit the file) breaks the signed root, which `verify` reports."""
        mine = written.get(seq) or self._written.get(seq)
        return mine is not None and mine == bytes(stored_hash)

    def _vouch(
        self,
        connection: Connection,
        rows: Sequence[Any],
        action: str,
        *,
        start: int | None = None,
        prev: bytes | None = None,
    ) -> None:
        """Refuse (alarm) unless every row is the service's own. Rows written before writer proofs existed
        (no proof at all) pass only under a verified checkpoint, or while `init` migrates the ledger."""
        legacy = [row for row in rows if row[6] is None]
        if legacy and not self._upgrading:
            sealed = self._last_sealed(connection)[0]
            stray = next((row for row in legacy if type(row[0]) is not int or not 0 <= row[0] < sealed), None)
            if stray is not None:
                raise self._alarm(
                    refuse(
                        f"entry {shown(stray[0])} ({shown(stray[3])}) carries no valid writer proof", action
                    )
                )
        key = self._writer_key()
        if self._upgrading:  # init sealing entries written before proofs existed: vouched as found
            rows = [(*row[:6], row[6] or entry_mac(key, bytes(row[2]))) for row in rows]
        checked = [row for row in rows if row[6] is not None]  # the rest: under a verified checkpoint
        problem = unvouched(checked, key, start=start, prev=prev) if checked else None
        if problem:
            raise self._alarm(refuse(problem, action))

    def _tip(self, connection: Connection) -> Tip:
        """The store as an append finds it, in one statement."""
        row = self._fetch(connection, TIP_SQL)[0]
        if type(row[1]) is not int:  # a checkpoint row of another type, written around the store
            raise self._alarm(refuse(malformed_size(row[1]) or "", "append"))
        return Tip(row[0], row[1], row[2], None if row[3] is None else tuple(row[3:]))

    def _insert(
        self,
        connection: Connection,
        events: Sequence[Event],
        unstamped: Sequence[str] | None = None,
        tip: Tip | None = None,
    ) -> list[dict[str, Any]]:
        """Chain `events` onto the head (with `unstamped`, their canonical JSON from `validate`) and seal
        when a checkpoint is due; `tip` is the store as read earlier in this transaction."""
        tip = tip or self._tip(connection)
        head = tip.head
        written = connection.info["ledger_written"]  # `_write` gives every transaction its own
        if head is not None and not self._own(written, head[0], head[2]):
            self._vouch(connection, [head], "append")  # never chain onto a row the service did not write
        first, prev = (head[0] + 1, bytes(head[2])) if head is not None else (0, GENESIS)
        prove = self._prove or prover(self._writer_key())
        self._prove = prove  # the keyed HMAC states, made once per store
        timestamp = now()  # one read of the service's clock: the batch's `ts` and the tail bound's reference
        ending = stamp_ending(timestamp)  # what each body's closing brace becomes
        bodies = unstamped or [item.unstamped() for item in events]
        rows, receipts, seq = [], [], first
        for item, text in zip(events, bodies, strict=True):  # one pass: body, hash, proof, row, receipt
            kind, case = item.kind, item.case_id
            body = text[:-1] + ending
            digest = entry_hash(prev, seq, kind, case, body)
            rows.append((seq, prev, digest, kind, case, body, prove(digest)))
            receipts.append(
                {"seq": seq, "hash": digest.hex(), "kind": kind, "case_id": case, "ts": timestamp}
            )
            written[seq] = digest
            seq, prev = seq + 1, digest
        self._execute_many(connection, INSERT_SQL, rows)
        due = not 0 <= tip.sealed <= seq or seq - tip.sealed >= self.checkpoint_every
        # when the first unsealed entry is this batch's, stamped just now, the tail is not yet too old
        oldest = tip.first_unsealed if tip.sealed < first else None
        if due or (oldest is not None and self._tail_expired(oldest, datetime.fromisoformat(timestamp))):
            self._checkpoint(connection, seq)
        return receipts

    def _tail_expired(self, first_unsealed: str, moment: datetime) -> bool:
        """Whether the first unsealed entry (its body) is at least `checkpoint_seconds` older than
        `moment` (the append's own clock read). Read as `verify` reads it (the canonical body ends in its
        `ts`); a body without a readable UTC time counts as new: the count bound or the background sealer
        seals it (or refuses it, if the service did not write it). The deadline is parsed once per first
        unsealed body (the same text and bound give the same deadline), not on every append."""
        cached, seconds = self._tail_deadline, self.checkpoint_seconds
        if cached is None or cached[0] != first_unsealed or cached[1] != seconds:
            cached = self._tail_deadline = (first_unsealed, seconds, self._deadline(first_unsealed, seconds))
        return cached[2] is not None and moment >= cached[2]

    @staticmethod
    def _deadline(body: str, seconds: float) -> datetime | None:
        """When the entry with canonical `body` has been unsealed for `seconds`; None when its `ts` is
        not a readable time with a UTC offset."""
        if body[-35:-29] == '"ts":"' and body[-3:] == 'Z"}' and body[-36] in ",{":
            text = body[-29:-2]
        else:
            try:
                text = json.loads(body)["ts"]
            except (ValueError, TypeError, KeyError, RecursionError):
                return None
        try:
            written = datetime.fromisoformat(text) if type(text) is str else None
            if written is None or written.tzinfo is None:
                return None
            return written + timedelta(seconds=seconds)
        except (ValueError, OverflowError):  # not a time, or one past year 9999 once the bound is added
            return None

    # -- checkpoints -----------------------------------------------------------------------------------

    def _last_sealed(self, connection: Connection) -> tuple[int, Frontier, bytes]:
        """The last checkpoint, checked: (size, frontier, hash of its last entry). A row this ledger's keys
        did not sign, one larger than the table, or a frontier that does not give its root is an alarm.
        One statement; a row already checked here (or signed here), frontier included, is not checked
        again."""
        found = self._fetch(connection, LAST_SEALED_SQL)
        if not found:
            return 0, [], GENESIS
        size, root, timestamp, name, signature, stored_frontier, head, last, first = found[0]
        ends = [malformed_seq(seq) for seq in (first, head) if seq is not None]
        malformed = next(filter(None, ends), None) or malformed_checkpoint([found[0]])
        if malformed:  # a row numbered as the store never numbers one, or a checkpoint row of odd types
            raise self._alarm(refuse(malformed))
        count = 0 if head is None else head + 1
        if not 0 <= size <= count:
            raise self._alarm(refuse(f"a checkpoint row claims {size} entries, the ledger holds {count}"))
        mark = (size, bytes(root), timestamp, name, bytes(signature))
        checked = self._sealed_mark
        if checked is not None and checked[:2] == (mark, stored_frontier):
            frontier = checked[2]
        else:
            frontier = self._checked_frontier(connection, mark, stored_frontier)
        if last is None:
            if size:
                raise self._alarm(refuse(f"entry {size - 1}, the last one sealed, is missing"))
            return size, frontier, GENESIS
        return size, frontier, bytes(last)

    def _checked_frontier(self, connection: Connection, mark: SealMark, stored: str) -> Frontier:
        """The frontier of checkpoint row `mark`, once its frontier gives its root and its signature is
        this ledger's; remembered as checked."""
        size, root, timestamp, name, signature = mark
        try:
            frontier = [(int(height), bytes.fromhex(value)) for height, value in json.loads(stored)]
        except (ValueError, TypeError, RecursionError):
            frontier = None
        heights = [height for height, _ in frontier or ()]
        if (  # the perfect subtrees of a tree of `size` leaves: one per bit of the size, highest first
            frontier is None
            or any(not 0 <= height < 64 or len(value) != 32 for height, value in frontier)
            or heights != sorted(set(heights), reverse=True)
            or sum(1 << height for height in heights) != size
        ):
            raise self._alarm(refuse(f"the checkpoint row at {size} entries is malformed"))
        if compact_root(frontier, [])[0] != root:
            raise self._alarm(refuse(f"the checkpoint row at {size} entries does not match its own root"))
        own = public_bytes(self._signing_key(connection))
        public = own if key_id(own) == name else self.authority().schedule.ever.get(name)
        if public is None or not signature_valid(
            public, signature, checkpoint_message(size, root, timestamp, name)
        ):
            raise self._alarm(refuse(f"the checkpoint row at {size} entries is not signed by this ledger"))
        self._sealed_mark = (mark, stored, frontier)
        return frontier

    def _checkpoint(self, connection: Connection, size: int | None = None) -> dict[str, Any]:
        """Sign the tree of the first `size` entries (all by default) once every entry after the last
        checkpoint is vouched for; published when the write commits."""
        start, frontier, last_hash = self._last_sealed(connection)  # checks the ends of the table
        if size is None:
            head = self._fetch(connection, "SELECT max(seq) FROM ledger_entries")[0][0]
            size = 0 if head is None else head + 1
        signed = start or self._fetch(connection, "SELECT count(*) FROM ledger_checkpoints")[0][0]
        if size <= start and signed:
            return self._checkpoint_row(connection, start)
        leaves = self._own_leaves(connection, start, size)
        if leaves is None:  # some row is not known here as this process's own: every row checked
            rows = self._vouched_rows(connection, "seq >= ? AND seq < ?", (start, size))
            if len(rows) != size - start:
                raise self._alarm(refuse(f"entries {start}..{size - 1} are not all present"))
            self._vouch(connection, rows, "seal", start=start, prev=last_hash)
            leaves = [bytes(row[2]) for row in rows]
        root, frontier = compact_root(frontier, leaves)
        key = self._signing_key(connection)
        name, timestamp = key_id(public_bytes(key)), now()
        signature = key.sign(checkpoint_message(size, root, timestamp, name))
        stored = json.dumps([[height, value.hex()] for height, value in frontier])
        self._execute_many(
            connection, INSERT_CHECKPOINT_SQL, [(size, root, timestamp, name, signature, stored)]
        )
        # our own signature and frontier: valid as they are, not checked again by the next seal
        self._sealed_mark = ((size, root, timestamp, name, signature), stored, frontier)
        head = checkpoint_answer(size, root, timestamp, name, signature)
        connection.info.setdefault("ledger_heads", []).append(head)
        return head

    def _own_leaves(self, connection: Connection, start: int, size: int) -> list[bytes] | None:
        """The hashes of entries `start`..`size - 1` if every one is this process's own (see `_own`), else
        None. The entries this transaction inserted are not read back; earlier ones are read (their
        hashes only, in one statement) and must be the hashes computed here."""
        known = self._written
        for seq in [seq for seq in known if seq < start]:  # sealed: no longer needed here
            del known[seq]
        written = connection.info["ledger_written"]
        ours = sorted(seq for seq in written if start <= seq < size)
        low, high = (ours[0], ours[-1] + 1) if ours else (size, size)
        if len(ours) != high - low or high != size or self._upgrading:
            return None
        stored = [
            digest  # bytes from sqlite3 and psycopg alike
            for (digest,) in self._fetch(
                connection,
                "SELECT hash FROM ledger_entries WHERE seq >= ? AND seq < ? ORDER BY seq",
                (start, low),
            )
        ]
        if stored != [known.get(seq) for seq in range(start, low)]:
            return None
        return stored + [written[seq] for seq in range(low, high)]

    def _checkpoint_row(self, connection: Connection, size: int) -> dict[str, Any]:
        found = self._fetch(
            connection,
            f"SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE tree_size = ?",
            (int(size),),
        )
        if not found:
            raise LedgerError(f"no checkpoint at {size} entries")
        return checkpoint_answer(*found[0])

    def checkpoint(self, publish: Sequence[Path] = ()) -> dict[str, Any]:
        """Seal every entry so far under a signed Merkle root (the existing one if nothing is new); also
        append it to each witness file in `publish`."""
        with self._write() as connection:
            mark = self._checkpoint(connection)
        for target in publish:
            publish_head(target, mark)
        return mark

    def start_sealer(self) -> None:
        """Seal any unsealed tail now (one left by a crash), then every `checkpoint_seconds / 2` from a
        background thread (for servers). A refusal is logged and retried; it never stops the thread."""
        if self._sealer is not None:
            return

        def seal() -> None:
            try:
                if self.unsealed():
                    self.checkpoint()
            except Exception as error:  # logged (an alarm is logged where it is raised) and retried
                LOG.error("misflag ledger: automatic checkpoint failed: %s", error)

        def run() -> None:
            while not self._stop.wait(self.checkpoint_seconds / 2):
                seal()

        seal()

        self._sealer = threading.Thread(target=run, name="misflag-ledger-sealer", daemon=True)
        self._sealer.start()

    def unsealed(self) -> int:
        """Entries after the last checkpoint row (negative when a checkpoint row claims more entries)."""
        with self._read() as connection:
            head = connection.execute(select(func.max(schema.entries.c.seq))).scalar()
            sealed = connection.execute(select(func.max(schema.checkpoints.c.tree_size))).scalar()
        return (-1 if head is None else head) + 1 - (sealed or 0)

    def checkpoints(self) -> list[dict[str, Any]]:
        with self._read() as connection:
            sizes = connection.execute(select(schema.checkpoints.c.tree_size).order_by("tree_size")).scalars()
            return [self._checkpoint_row(connection, size) for size in list(sizes)]
