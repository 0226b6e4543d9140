"""The ledger store's connections and trust: one writer at a time (SQLite `BEGIN IMMEDIATE`, a PostgreSQL
advisory lock), the keys pinned outside the database, and the sealed chain's grants (see _trust.py).
Appending and sealing live in _seal.py.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from misflag._text import PATH_SHOWN, clipped, hide_query_password
from misflag.errors import LedgerError, literal
from misflag.ledger import _schema as schema
from misflag.ledger._engine import (
    LedgerOwnerWarning,
    LedgerUnavailable,
    first_line,
    make_engine,
    normalise_url,
    setting,
)
from misflag.ledger._keys import (
    anchors_path,
    default_key_path,
    heads_path,
    key_id,
    load_or_create,
    parse_trusted,
    public_bytes,
    publish_head,
)
from misflag.ledger._rules import RuleSet
from misflag.ledger._trust import Authority
from misflag.ledger._verify import CHECKPOINT_COLUMNS, ENTRY_COLUMNS
from misflag.ledger._writer import LedgerTampered, load_or_create_writer_key, writer_key_path

LOG = logging.getLogger("misflag.ledger")
Frontier = list[tuple[int, bytes]]  # a Merkle tree's perfect subtrees, left to right: (height, hash)
SealMark = tuple[int, bytes, str, str, bytes]  # a checkpoint row: tree size, root, ts, key id, signature
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
        self.writer_key_path = writer_key_path(self.key_path)
        self._writer: bytes | None = None
        self._prove: Callable[[bytes], bytes] | None = (
            None  # the writer proof under that key (_writer.prover)
        )
        self._upgrading = False  # init is migrating a ledger whose entries predate writer proofs
        # seq -> hash of the unsealed entries this process wrote and committed (see SealingStore._own)
        self._written: dict[int, bytes] = {}
        self._connection: Connection | None = None  # the kept write connection (see _writer_connection)
        # the last checkpoint row whose signature and frontier were checked (or made) here: the row, its
        # stored frontier and that frontier parsed
        self._sealed_mark: tuple[SealMark, str, Frontier] | None = None
        self._key_listed: str | None = None  # the signing key id whose ledger_keys row was found
        # the first unsealed entry's body, the bound and when it is due for sealing (see SealingStore._tail_expired)
        self._tail_deadline: tuple[str, float, datetime | None] | None = None

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
            f"connected to the ledger at {self.named_url} as the owner of its tables, who can disable the "
            "append-only triggers: connect the service as a writer role (INSERT and SELECT only; "
            "`misflag ledger init --writer-role NAME` grants it)"
        )
        if policy == "refuse":
            raise LedgerError(message + "; set MISFLAG_LEDGER_ALLOW_OWNER=1 to run as the owner anyway")
        warnings.warn(message, LedgerOwnerWarning, stacklevel=3)

    @property
    def safe_url(self) -> str:
        return hide_query_password(make_url(self.url).render_as_string(hide_password=True))

    @property
    def named_url(self) -> str:
        """The store's URL as a message names it: `safe_url` (passwords hidden, controls and braces
        percent-encoded) cut to its first `PATH_SHOWN` characters and its length past them."""
        return clipped(self.safe_url, PATH_SHOWN)

    def close(self) -> None:
        self._stop.set()
        if self._sealer is not None:
            self._sealer.join()
        with self._lock:
            self._drop_writer()
        self.engine.dispose()

    def _writer_connection(self) -> Connection:
        """The connection writes go through, kept between them (under `_lock`): a pool checkout and
        reset per append cost a fifth of a single append's CPU."""
        if self._connection is None or self._connection.closed or self._connection.invalidated:
            self._connection = self.engine.connect().execution_options(ledger_write=True)
        return self._connection

    def _drop_writer(self) -> None:
        """Close the kept write connection (after a store error; the next write opens a fresh one)."""
        if self._connection is not None:
            with suppress(SQLAlchemyError):
                self._connection.close()
            self._connection = None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One exclusive write transaction (committed on exit, rolled back on error); checkpoints made in it
        are published once it is committed. PostgreSQL serialises writers with an advisory lock, which a
        writer role holding only INSERT and SELECT may take."""
        with self._lock:
            connection = self._writer_connection()
            heads: list[dict[str, Any]] = []
            written: dict[int, bytes] = {}  # seq -> hash of the entries this transaction inserts
            info = connection.info
            info["ledger_heads"], info["ledger_written"] = heads, written
            try:
                with self._transaction(connection):
                    yield connection
            except SQLAlchemyError:
                self._drop_writer()
                raise
            self._written.update(written)  # committed: this process's own, until a checkpoint seals them
            for head in heads:
                try:
                    publish_head(self.heads_path, head)
                except LedgerError as error:
                    warnings.warn(str(error), stacklevel=3)

    @contextmanager
    def _transaction(self, connection: Connection) -> Iterator[None]:
        """The write transaction: committed on exit, rolled back on error. PostgreSQL: SQLAlchemy's, with
        the advisory lock. SQLite: `BEGIN IMMEDIATE` and `COMMIT` on the DBAPI connection, as the plain
        anchor of the benchmark does (SQLAlchemy's transaction object and events cost a tenth of a single
        append's CPU); a statement run through SQLAlchemy inside joins it (the begin listener finds the
        transaction open) and SQLAlchemy's own transaction is closed after the commit. A failing BEGIN or
        COMMIT surfaces as SQLAlchemy's DBAPIError, as any other store error does; a connection that
        cannot roll back is dropped."""
        if self.postgres:
            with connection.begin():
                connection.exec_driver_sql(
                    "SELECT pg_advisory_xact_lock(hashtext('misflag-ledger.' || current_schema()))"
                )
                yield
            return
        raw = connection.connection.dbapi_connection
        if raw is None:
            raise LedgerUnavailable(f"lost the connection to {self.named_url}")
        self._dbapi("BEGIN IMMEDIATE", raw.execute, "BEGIN IMMEDIATE")
        try:
            yield
            self._dbapi("COMMIT", raw.commit)
        except BaseException:
            try:
                if connection.in_transaction():
                    connection.rollback()  # SQLAlchemy's transaction inside ours, and the DBAPI's
                else:
                    raw.rollback()
            except (SQLAlchemyError, sqlite3.Error):
                self._drop_writer()  # not used again; the error that got here is the one reported
            raise
        if connection.in_transaction():
            connection.commit()  # SQLAlchemy's transaction inside ours: nothing left to commit

    @staticmethod
    def _dbapi(statement: str, call: Callable[..., Any], *args: Any) -> None:
        """`call(*args)` on a SQLite DBAPI connection (the `statement` it runs); an error as SQLAlchemy's
        DBAPIError, as every other store error surfaces."""
        try:
            call(*args)
        except sqlite3.Error as error:
            raise DBAPIError.instance(statement, (), error, sqlite3.Error) from None

    def _fetch(self, connection: Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Rows of one statement (`?` placeholders) through the DBAPI cursor of `connection`'s transaction.

        The append path's few queries per batch cost more through SQLAlchemy (statement building, cache
        keys, result objects) than the rules and the hashing; database errors still surface as
        SQLAlchemyError, so callers report them as one line."""
        raw = connection.connection.dbapi_connection
        if raw is None:
            raise LedgerUnavailable(f"lost the connection to {self.named_url}")
        cursor = raw.cursor()
        try:
            cursor.execute(sql.replace("?", "%s") if self.postgres else sql, tuple(params))
            return list(cursor.fetchall())
        except self.engine.dialect.loaded_dbapi.Error as error:
            raise DBAPIError.instance(sql, params, error, self.engine.dialect.loaded_dbapi.Error) from None
        finally:
            cursor.close()

    def _execute_many(self, connection: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One prepared INSERT for all rows on the transaction's DBAPI cursor (`?` placeholders): the
        columns are plain int, bytes and str, and SQLAlchemy's per-statement work cost more than the
        hashing on single appends."""
        raw = connection.connection.dbapi_connection
        if raw is None:
            raise LedgerUnavailable(f"lost the connection to {self.named_url}")
        cursor = raw.cursor()
        try:
            cursor.executemany(sql.replace("?", "%s") if self.postgres else sql, rows)
        except self.engine.dialect.loaded_dbapi.Error as error:
            raise DBAPIError.instance(sql, rows, error, self.engine.dialect.loaded_dbapi.Error) from None
        finally:
            cursor.close()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as connection, connection.begin():
            yield connection

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
                    f"cannot read the ledger at {self.named_url}: {first_line(error)}"
                ) from None
            try:
                known.extend(marks, rows)
            except LedgerError as error:
                raise self._alarm(LedgerTampered(literal(str(error)))) from None
            return known

    def _alarm(self, error: LedgerTampered) -> LedgerTampered:
        """Log a refusal to vouch for what the database holds (an ERROR line), and return it to raise."""
        LOG.error("misflag ledger %s: %s", self.safe_url, error)
        return error

    def _writer_key(self) -> bytes:
        if self._writer is None:
            self._writer = load_or_create_writer_key(self.writer_key_path)
        return self._writer

    def public_keys(self) -> dict[str, bytes]:
        with self._read() as connection:
            return {
                name: bytes(value)
                for name, value in connection.execute(select(schema.keys.c.key_id, schema.keys.c.public_key))
            }
