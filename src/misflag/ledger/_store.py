"""The ledger store: SQLite (WAL, synchronous=FULL) or PostgreSQL through SQLAlchemy 2, one writer at a time.

Appends take an exclusive write lock (SQLite `BEGIN IMMEDIATE`, PostgreSQL `LOCK TABLE`), check the
due-process rules against each case's history, chain the new entries to the head and commit once: a batch is
all-or-nothing and durable when `append` returns. A rejected event rolls the batch back and is itself logged.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from misflag.errors import LedgerError, LedgerRuleViolation, RuleError
from misflag.ledger import _schema as schema
from misflag.ledger._events import Event, canonical, system_event
from misflag.ledger._keys import checkpoint_message, default_key_path, key_id, load_or_create, public_bytes
from misflag.ledger._merkle import compact_root
from misflag.ledger._rules import CaseState, RuleSet, fold, violation
from misflag.ledger._verify import (
    CHECKPOINT_COLUMNS,
    ENTRY_COLUMNS,
    GENESIS,
    VerifyReport,
    entry_hash,
    verify_rows,
)

HEAD_REVISION = "0002"
MIGRATIONS = Path(__file__).with_name("migrations")


def now() -> str:
    """UTC time with microseconds, ISO 8601 with a Z."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def normalise_url(url: str) -> str:
    """Accept sqlite:///PATH, postgresql://... (psycopg 3) or a plain file path (SQLite)."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise LedgerError(f"not a ledger URL: {url!r} (use sqlite:///PATH or postgresql://...)") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise LedgerError("a SQLite ledger needs a file: sqlite:///PATH")
        if not Path(parsed.database).parent.is_dir():
            raise LedgerError(f"folder of the ledger file does not exist: {Path(parsed.database).parent}")
        engine = create_engine(parsed, connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi: Any, _record: Any) -> None:
            dbapi.isolation_level = None  # misflag issues BEGIN itself (IMMEDIATE for writes)
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=60000"):
                dbapi.execute(f"PRAGMA {pragma}")

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            immediate = connection.get_execution_options().get("ledger_write")
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    if backend == "postgresql":
        return create_engine(parsed, pool_pre_ping=True)
    raise LedgerError(f"unsupported ledger store {backend!r}: use sqlite:///PATH or postgresql://...")


class LedgerUnavailable(LedgerError):
    """The store cannot be reached, read or written (as opposed to an invalid request)."""


class Ledger:
    """One decision ledger. Open with `Ledger.open(url)`; every method is safe from several threads."""

    def __init__(self, url: str, *, key_path: Path | None = None, checkpoint_every: int = 1000) -> None:
        self.url = normalise_url(url)
        self.engine = _make_engine(self.url)
        self.key_path = key_path or default_key_path(self.url)
        self.checkpoint_every = checkpoint_every
        self.postgres = self.engine.dialect.name == "postgresql"
        self._lock = threading.Lock()
        self._key: Ed25519PrivateKey | None = None
        self._rules_cache: tuple[int, RuleSet] = (-1, RuleSet())

    @classmethod
    def open(
        cls, url: str, *, key_path: Path | None = None, checkpoint_every: int = 1000, create: bool = True
    ) -> Ledger:
        """Open (and with `create`, make or migrate) the ledger at `url`."""
        ledger = cls(url, key_path=key_path, checkpoint_every=checkpoint_every)
        database = make_url(ledger.url).database
        if not create and not ledger.postgres and database and not Path(database).exists():
            raise LedgerError(f"no ledger at {ledger.safe_url} (create it with `misflag ledger init`)")
        try:
            ledger._migrate(create)
        except SQLAlchemyError as error:
            ledger.close()
            raise LedgerUnavailable(
                f"cannot open the ledger at {ledger.safe_url}: {_first_line(error)}"
            ) from None
        return ledger

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def _migrate(self, create: bool) -> None:
        with self.engine.connect() as connection:
            current = MigrationContext.configure(
                connection, opts={"version_table": "ledger_alembic_version"}
            ).get_current_revision()
        if current == HEAD_REVISION:
            return
        if not create and current is None:
            raise LedgerError(f"no ledger at {self.safe_url} (create it with `misflag ledger init`)")
        if not create:
            raise LedgerError(
                f"the ledger at {self.safe_url} has schema revision {current}, this misflag needs "
                f"{HEAD_REVISION}: migrate it with `misflag ledger init` (additive; nothing is rewritten)"
            )
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One exclusive write transaction (committed on exit, rolled back on error)."""
        with self._lock, self.engine.connect() as connection:
            connection.execution_options(ledger_write=True)
            with connection.begin():
                if self.postgres:
                    connection.exec_driver_sql("LOCK TABLE ledger_entries IN SHARE ROW EXCLUSIVE MODE")
                yield connection

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as connection, connection.begin():
            yield connection

    # -- appending ---------------------------------------------------------------------------------------

    def append(self, events: Sequence[Event]) -> list[dict[str, Any]]:
        """Append case events atomically after checking the rules; return one receipt per entry."""
        if not events:
            return []
        for item in events:
            item.validate()
        try:
            with self._write() as connection:
                rules = self._rules(connection)
                states = self._case_states(connection, {item.case_id for item in events if item.case_id})
                for item in events:
                    state = states.setdefault(item.case_id or "", CaseState())
                    broken = violation(rules, state, item.kind, item.actor, item.role)
                    if broken:
                        raise _Rejected(item, *broken, rules)
                    state.apply(item.kind, item.actor, item.role)
                return self._insert(connection, events)
        except _Rejected as rejected:
            receipt = self._append_system(
                system_event(
                    "rejected",
                    rejected.event.actor,
                    rejected.event.role,
                    {
                        "kind": rejected.event.kind,
                        "case_id": rejected.event.case_id,
                        "rule": rejected.rule,
                        "message": rejected.message,
                        "rule_set_version": rejected.rules.version,
                    },
                )
            )
            raise LedgerRuleViolation(
                f"rejected {rejected.event.kind} on case {rejected.event.case_id}: {rejected.message} "
                f"(rule {rejected.rule}); the rejection is logged as entry {receipt['seq']}"
            ) from None
        except SQLAlchemyError as error:
            raise LedgerUnavailable(
                f"cannot write to the ledger at {self.safe_url}: {_first_line(error)}"
            ) from None

    def _append_system(self, item: Event) -> dict[str, Any]:
        with self._write() as connection:
            return self._insert(connection, [item])[0]

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
        if seq - sealed >= self.checkpoint_every:
            self._checkpoint(connection)
        return receipts

    def _case_states(self, connection: Connection, case_ids: set[str]) -> dict[str, CaseState]:
        """Fold each case's accepted events (in ledger order) into its state."""
        histories: dict[str, list[tuple[str, str, str]]] = {case: [] for case in case_ids}
        ordered = sorted(case_ids)
        table = schema.entries
        for start in range(0, len(ordered), 500):
            query = (
                select(table.c.case_id, table.c.kind, table.c.body)
                .where(table.c.case_id.in_(ordered[start : start + 500]))
                .order_by(table.c.seq)
            )
            for case, kind, body in connection.execute(query):
                parsed = json.loads(body)
                histories[case].append((kind, parsed["actor"], parsed["role"]))
        return {case: fold(history) for case, history in histories.items()}

    # -- rules -------------------------------------------------------------------------------------------

    def _rules(self, connection: Connection) -> RuleSet:
        table = schema.entries
        latest = connection.execute(
            select(func.max(table.c.seq)).where(table.c.kind == "rules_changed")
        ).scalar()
        if latest is None:
            return RuleSet()
        if self._rules_cache[0] != latest:
            body = connection.execute(select(table.c.body).where(table.c.seq == latest)).scalar_one()
            self._rules_cache = (latest, RuleSet.from_dict(json.loads(body)["payload"]["rule_set"]))
        return self._rules_cache[1]

    def rules(self) -> RuleSet:
        """The rule set in force: the latest `rules_changed` entry, or every rule on."""
        with self._read() as connection:
            return self._rules(connection)

    def set_rules(self, new: RuleSet, *, actor: str, role: str = "admin", reason: str = "") -> dict[str, Any]:
        """Put a new rule set in force: a signed `rules_changed` entry, sealed by a checkpoint at once.

        The version must go up; turning any rule off needs a reason, and the entry lists what was loosened.
        """
        with self._write() as connection:
            current = self._rules(connection)
            if new.version <= current.version:
                raise RuleError(f"rule set version must be above {current.version} (got {new.version})")
            loosened = new.loosened_from(current)
            if loosened and not reason.strip():
                raise RuleError(f"loosening {', '.join(loosened)} needs a reason (--reason)")
            key = self._signing_key(connection)
            statement = {
                "rule_set": new.to_dict(),
                "previous_version": current.version,
                "loosened": loosened,
                "reason": reason,
            }
            signature = key.sign(canonical(statement).encode()).hex()
            payload = statement | {"key_id": key_id(public_bytes(key)), "signature": signature}
            receipt = self._insert(connection, [system_event("rules_changed", actor, role, payload)])[0]
            self._checkpoint(connection)
            return receipt | {"loosened": loosened}

    # -- checkpoints and keys ----------------------------------------------------------------------------

    def _signing_key(self, connection: Connection) -> Ed25519PrivateKey:
        if self._key is None:
            self._key = load_or_create(self.key_path)
        public = public_bytes(self._key)
        name = key_id(public)
        known = connection.execute(select(schema.keys.c.key_id).where(schema.keys.c.key_id == name)).first()
        if known is None:
            connection.execute(insert(schema.keys), [{"key_id": name, "public_key": public, "ts": now()}])
        return self._key

    def _checkpoint(self, connection: Connection) -> dict[str, Any]:
        table = schema.checkpoints
        size = connection.execute(select(func.count()).select_from(schema.entries)).scalar_one()
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
        return self._checkpoint_row(connection, size)

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

    def checkpoint(self) -> dict[str, Any]:
        """Seal every entry so far under a signed Merkle root (returns the existing one if nothing is new)."""
        with self._write() as connection:
            return self._checkpoint(connection)

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

    # -- verification --------------------------------------------------------------------------------------

    def verify(
        self, *, require_sealed: bool = False, public_keys: dict[str, bytes] | None = None
    ) -> VerifyReport:
        """Recompute the whole chain, the Merkle tree and every checkpoint; report the first problem.

        `public_keys` pins the keys a third party trusts; by default the keys stored in the ledger are used.
        """
        try:
            with self._read() as connection:
                keys = (
                    public_keys
                    if public_keys is not None
                    else {
                        name: bytes(value)
                        for name, value in connection.exec_driver_sql(
                            "SELECT key_id, public_key FROM ledger_keys"
                        )
                    }
                )
                raw = connection.connection.dbapi_connection
                if raw is None:
                    raise LedgerUnavailable(f"lost the connection to {self.safe_url}")
                cursor = raw.cursor()  # plain DBAPI tuples read faster than SQLAlchemy rows
                cursor.execute(f"SELECT {ENTRY_COLUMNS} FROM ledger_entries ORDER BY seq")
                entries = cursor.fetchall()
                cursor.close()
                marks = connection.exec_driver_sql(
                    f"SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoints ORDER BY tree_size"
                ).fetchall()
        except SQLAlchemyError as error:
            raise LedgerUnavailable(
                f"cannot read the ledger at {self.safe_url}: {_first_line(error)}"
            ) from None
        return verify_rows(entries, marks, keys, require_sealed=require_sealed)


class _Rejected(Exception):
    def __init__(self, event: Event, rule: str, message: str, rules: RuleSet) -> None:
        super().__init__(message)
        self.event, self.rule, self.message, self.rules = event, rule, message, rules


def _first_line(error: Exception) -> str:
    text = str(getattr(error, "orig", None) or error)
    return text.splitlines()[0] if text else type(error).__name__
