"""The ledger store's write path: one writer at a time, entries chained and sealed by signed checkpoints.

Appends take an exclusive write lock (SQLite `BEGIN IMMEDIATE`, a PostgreSQL advisory lock), chain the new
entries to the head and commit once. A checkpoint is written automatically every `checkpoint_every` entries
or once the oldest unsealed entry is `checkpoint_seconds` old, and published to the heads file on commit.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from misflag.errors import LedgerError
from misflag.ledger import _schema as schema
from misflag.ledger._engine import (
    LedgerOwnerWarning,
    LedgerUnavailable,
    first_line,
    make_engine,
    normalise_url,
    now,
    setting,
)
from misflag.ledger._events import Event
from misflag.ledger._keys import (
    anchors_path,
    checkpoint_message,
    default_key_path,
    heads_path,
    key_id,
    load_or_create,
    parse_trusted,
    public_bytes,
    publish_head,
)
from misflag.ledger._merkle import compact_root
from misflag.ledger._rules import RuleSet
from misflag.ledger._trust import Authority
from misflag.ledger._verify import CHECKPOINT_COLUMNS, ENTRY_COLUMNS, GENESIS, entry_hash

DEFAULT_EVERY = 1000  # entries between automatic checkpoints
DEFAULT_SECONDS = 10.0  # seconds an entry may stay unsealed
OwnerPolicy = Literal["allow", "warn", "refuse"]


class Store:
    """Connection handling, appending rows to the chain, checkpoints and the trust anchors of one ledger."""

    def __init__(
        self,
        url: str,
        *,
        key_path: Path | None = None,
        checkpoint_every: int | None = None,
        checkpoint_seconds: float | None = None,
        trusted: Mapping[str, bytes] | None = None,
    ) -> None:
        """`checkpoint_every`/`checkpoint_seconds` bound the unsealed tail (default 1,000 entries, 10 s, or
        $MISFLAG_LEDGER_CHECKPOINT_EVERY / _SECONDS); `trusted` pins keys (default: the `.pub` anchors file)."""
        self.url = normalise_url(url)
        self.key_path = key_path or default_key_path(self.url)
        self.checkpoint_every = int(
            setting("MISFLAG_LEDGER_CHECKPOINT_EVERY", checkpoint_every, DEFAULT_EVERY)
        )
        self.checkpoint_seconds = setting(
            "MISFLAG_LEDGER_CHECKPOINT_SECONDS", checkpoint_seconds, DEFAULT_SECONDS
        )
        self.heads_path = heads_path(self.key_path)
        self.engine = make_engine(self.url)
        self.postgres = self.engine.dialect.name == "postgresql"
        self._trusted = dict(trusted) if trusted else None
        self._lock = threading.Lock()
        self._key: Ed25519PrivateKey | None = None
        self._rules_cache: tuple[int, RuleSet] = (-1, RuleSet())
        self._authority: Authority | None = None
        self._authority_lock = threading.Lock()
        self._stop = threading.Event()
        self._sealer: threading.Thread | None = None

    def connected_as_owner(self) -> bool:
        """PostgreSQL: whether this connection's role owns the ledger's tables or is a superuser."""
        if not self.postgres:
            return False
        with self._read() as connection:
            return bool(
                connection.exec_driver_sql(
                    "SELECT r.rolsuper OR pg_has_role(current_user, c.relowner, 'USAGE') "
                    "FROM pg_class c JOIN pg_roles r ON r.rolname = current_user "
                    "WHERE c.oid = 'ledger_entries'::regclass"
                ).scalar()
            )

    def _check_owner(self, policy: OwnerPolicy) -> None:
        if policy == "allow" or not self.connected_as_owner():
            return
        message = (
            f"connected to the ledger at {self.safe_url} as the owner of its tables, who can disable the "
            "append-only triggers: connect the service as a writer role (INSERT and SELECT only; "
            "`misflag ledger init --writer-role NAME` grants it)"
        )
        if policy == "refuse":
            raise LedgerError(message + "; set MISFLAG_LEDGER_ALLOW_OWNER=1 to run as the owner anyway")
        warnings.warn(message, LedgerOwnerWarning, stacklevel=3)

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        self._stop.set()
        if self._sealer is not None:
            self._sealer.join()
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One exclusive write transaction (committed on exit, rolled back on error); checkpoints made in it
        are published once it is committed. PostgreSQL serialises writers with an advisory lock, which a
        writer role holding only INSERT and SELECT may take."""
        with self._lock, self.engine.connect() as connection:
            connection.execution_options(ledger_write=True)
            heads: list[dict[str, Any]] = []
            connection.info["ledger_heads"] = heads
            with connection.begin():
                if self.postgres:
                    connection.exec_driver_sql(
                        "SELECT pg_advisory_xact_lock(hashtext('misflag-ledger.' || current_schema()))"
                    )
                yield connection
            for head in heads:
                try:
                    publish_head(self.heads_path, head)
                except LedgerError as error:
                    warnings.warn(str(error), stacklevel=3)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as connection, connection.begin():
            yield connection

    def _insert(self, connection: Connection, events: Sequence[Event]) -> list[dict[str, Any]]:
        head = connection.execute(
            select(schema.entries.c.seq, schema.entries.c.hash).order_by(schema.entries.c.seq.desc()).limit(1)
        ).first()
        seq, prev = (head[0] + 1, bytes(head[1])) if head else (0, GENESIS)
        timestamp = now()
        rows, receipts = [], []
        for item in events:
            body = item.body(timestamp)
            digest = entry_hash(prev, seq, item.kind, item.case_id, body)
            rows.append(
                {
                    "seq": seq,
                    "prev": prev,
                    "hash": digest,
                    "kind": item.kind,
                    "case_id": item.case_id,
                    "body": body,
                }
            )
            receipts.append(
                {
                    "seq": seq,
                    "hash": digest.hex(),
                    "kind": item.kind,
                    "case_id": item.case_id,
                    "ts": timestamp,
                }
            )
            seq, prev = seq + 1, digest
        connection.execute(insert(schema.entries), rows)
        sealed = connection.execute(select(func.max(schema.checkpoints.c.tree_size))).scalar() or 0
        if seq - sealed >= self.checkpoint_every or self._tail_expired(connection, sealed):
            self._checkpoint(connection, seq)
        return receipts

    def _tail_expired(self, connection: Connection, sealed: int) -> bool:
        """Whether the first unsealed entry is older than `checkpoint_seconds`."""
        body = connection.execute(
            select(schema.entries.c.body).where(schema.entries.c.seq == sealed)
        ).scalar()
        if body is None:
            return False
        written = datetime.fromisoformat(json.loads(body)["ts"])
        return (datetime.now(UTC) - written).total_seconds() >= self.checkpoint_seconds

    # -- trust ---------------------------------------------------------------------------------------------

    def pinned_keys(self) -> dict[str, bytes]:
        """The keys trusted from outside the database: given ones, else the `.pub` anchors file next to the
        signing key, else the public half of the signing key file; empty when there is none of these."""
        if self._trusted:
            return dict(self._trusted)
        anchors = anchors_path(self.key_path)
        if anchors.exists():
            return parse_trusted(str(anchors))
        if self.key_path.exists():
            public = public_bytes(load_or_create(self.key_path))
            return {key_id(public): public}
        return {}

    def authority(self) -> Authority:
        """The sealed chain's grants, extended by whatever was appended since the last call."""
        with self._authority_lock:
            if self._authority is None or not self._authority.schedule.ever:
                self._authority = Authority(self.pinned_keys())  # again while no key is pinned yet
            known = self._authority
            try:
                with self._read() as connection:
                    marks = connection.exec_driver_sql(
                        f"SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE tree_size > {known.size} "
                        "ORDER BY tree_size"
                    ).fetchall()
                    rows = connection.exec_driver_sql(
                        f"SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE seq >= {known.read} ORDER BY seq"
                    ).fetchall()
            except SQLAlchemyError as error:
                raise LedgerUnavailable(
                    f"cannot read the ledger at {self.safe_url}: {first_line(error)}"
                ) from None
            known.extend(marks, rows)
            return known

    # -- checkpoints and keys ----------------------------------------------------------------------------

    def require_signing_key(self) -> None:
        """Refuse (LedgerError) before any write when signing would need a key this ledger never had."""
        if self._key is None and not self.key_path.exists():
            with self._read() as connection:
                self._refuse_new_key(connection)

    def _refuse_new_key(self, connection: Connection) -> None:
        # a key file that is missing (wrong --key, another machine's default path) must not silently
        # become a second signing key: its checkpoints would fail every pinned verification
        if connection.execute(select(func.count()).select_from(schema.checkpoints)).scalar():
            raise LedgerError(
                f"signing key {self.key_path} does not exist, but this ledger is already signed by another "
                "key: point --key (or $MISFLAG_LEDGER_KEY) at its key file; a new key comes only from "
                "`misflag ledger init` on a new ledger or from `misflag ledger rotate-key`"
            )

    def _signing_key(self, connection: Connection) -> Ed25519PrivateKey:
        if self._key is None:
            if not self.key_path.exists():
                self._refuse_new_key(connection)
            self._key = load_or_create(self.key_path)
        public = public_bytes(self._key)
        name = key_id(public)
        known = connection.execute(select(schema.keys.c.key_id).where(schema.keys.c.key_id == name)).first()
        if known is None:
            connection.execute(insert(schema.keys), [{"key_id": name, "public_key": public, "ts": now()}])
        return self._key

    def _checkpoint(self, connection: Connection, size: int | None = None) -> dict[str, Any]:
        """Sign the tree of the first `size` entries (all by default); published when the write commits."""
        table = schema.checkpoints
        if size is None:
            head = connection.execute(select(func.max(schema.entries.c.seq))).scalar()
            size = 0 if head is None else head + 1
        last = connection.execute(
            select(table.c.tree_size, table.c.frontier).order_by(table.c.tree_size.desc()).limit(1)
        ).first()
        if last is not None and last.tree_size == size:
            return self._checkpoint_row(connection, size)
        start = last.tree_size if last else 0
        frontier = (
            [(height, bytes.fromhex(value)) for height, value in json.loads(last.frontier)] if last else []
        )
        leaves = [
            bytes(value)
            for value in connection.execute(
                select(schema.entries.c.hash)
                .where(schema.entries.c.seq >= start)
                .where(schema.entries.c.seq < size)
                .order_by(schema.entries.c.seq)
            ).scalars()
        ]
        root, frontier = compact_root(frontier, leaves)
        key = self._signing_key(connection)
        name, timestamp = key_id(public_bytes(key)), now()
        signature = key.sign(checkpoint_message(size, root, timestamp, name))
        connection.execute(
            insert(table),
            [
                {
                    "tree_size": size,
                    "root": root,
                    "ts": timestamp,
                    "key_id": name,
                    "signature": signature,
                    "frontier": json.dumps([[height, value.hex()] for height, value in frontier]),
                }
            ],
        )
        mark = self._checkpoint_row(connection, size)
        connection.info.setdefault("ledger_heads", []).append(mark)
        return mark

    def _checkpoint_row(self, connection: Connection, size: int) -> dict[str, Any]:
        row = connection.exec_driver_sql(
            f"SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE tree_size = {int(size)}"
        ).first()
        if row is None:
            raise LedgerError(f"no checkpoint at {size} entries")
        tree_size, root, timestamp, name, signature = row
        return {
            "tree_size": tree_size,
            "root": bytes(root).hex(),
            "timestamp": timestamp,
            "key_id": name,
            "signature": bytes(signature).hex(),
        }

    def checkpoint(self, publish: Path | None = None) -> dict[str, Any]:
        """Seal every entry so far under a signed Merkle root (the existing one if nothing is new); also
        append it to the witness file `publish`, if given."""
        with self._write() as connection:
            mark = self._checkpoint(connection)
        if publish is not None:
            publish_head(publish, mark)
        return mark

    def start_sealer(self) -> None:
        """Seal any unsealed tail now (one left by a crash), then every `checkpoint_seconds / 2` from a
        background thread (for servers)."""
        if self._sealer is not None:
            return
        if self.unsealed():
            self.checkpoint()

        def run() -> None:
            while not self._stop.wait(self.checkpoint_seconds / 2):
                try:
                    if self.unsealed():
                        self.checkpoint()
                except LedgerError as error:
                    warnings.warn(f"automatic checkpoint failed: {error}", stacklevel=1)

        self._sealer = threading.Thread(target=run, name="misflag-ledger-sealer", daemon=True)
        self._sealer.start()

    def unsealed(self) -> int:
        """Entries after the last checkpoint."""
        with self._read() as connection:
            head = connection.execute(select(func.max(schema.entries.c.seq))).scalar()
            sealed = connection.execute(select(func.max(schema.checkpoints.c.tree_size))).scalar()
        return (-1 if head is None else head) + 1 - (sealed or 0)

    def checkpoints(self) -> list[dict[str, Any]]:
        with self._read() as connection:
            sizes = connection.execute(select(schema.checkpoints.c.tree_size).order_by("tree_size")).scalars()
            return [self._checkpoint_row(connection, size) for size in list(sizes)]

    def public_keys(self) -> dict[str, bytes]:
        with self._read() as connection:
            return {
                name: bytes(value)
                for name, value in connection.execute(select(schema.keys.c.key_id, schema.keys.c.public_key))
            }
