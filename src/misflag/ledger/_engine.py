"""The ledger's database engine: URLs, SQLite pragmas and file mode, settings read from the environment."""

from __future__ import annotations

import math
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from misflag._text import hide_passwords, shown
from misflag.errors import LedgerError, literal, named_path


def file_problem(error: BaseException, path: str | Path) -> str:
    """Why the file at `path` (named with `named_path`) could not be used: an OSError's own words, or its
    errno's where those repeat the path (Arrow's do, whole); another error's text as written."""
    if isinstance(error, OSError):
        words = error.strerror or ""
        if words and str(path) not in words:
            return literal(words)
        return os.strerror(error.errno) if error.errno else type(error).__name__
    return literal(str(error))


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


def parse_url(url: str) -> URL:
    """`url` parsed by SQLAlchemy; a LedgerError naming it by its start when it is not a URL."""
    try:
        return make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port or an IPv6 host that is not one
        raise LedgerError(
            f"not a ledger URL: {literal(shown(hide_passwords(url)))} (use sqlite:///PATH or postgresql://...)"
        ) from None


def make_engine(url: str) -> Engine:
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise LedgerError("a SQLite ledger needs a file: sqlite:///PATH")
        if not Path(parsed.database).parent.is_dir():
            raise LedgerError(f"folder of the ledger file does not exist: {Path(parsed.database).parent}")
        engine = _create(parsed, connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi: Any, _record: Any) -> None:
            dbapi.isolation_level = None  # misflag issues BEGIN itself (IMMEDIATE for writes)
            dbapi.execute("PRAGMA busy_timeout=60000")
            if _ledger_or_empty(dbapi):  # WAL is kept in the file: never switch another program's database
                dbapi.execute("PRAGMA journal_mode=WAL")
            dbapi.execute("PRAGMA synchronous=FULL")

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            # on the DBAPI connection: through SQLAlchemy's statement machinery this BEGIN cost a sixth
            # of a single append's CPU; an error still surfaces as SQLAlchemy's DBAPIError. A write
            # transaction the store began on the DBAPI connection (Store._transaction) is joined.
            statement = (
                "BEGIN IMMEDIATE" if connection.get_execution_options().get("ledger_write") else "BEGIN"
            )
            raw = connection.connection.dbapi_connection
            if raw is not None and raw.in_transaction:
                return
            try:
                raw.execute(statement)  # type: ignore[union-attr]
            except sqlite3.Error as error:
                raise DBAPIError.instance(statement, (), error, sqlite3.Error) from None

        return engine
    if backend == "postgresql":
        return _create(parsed, pool_pre_ping=True)
    raise LedgerError(
        f"unsupported ledger store {literal(shown(backend))}: use sqlite:///PATH or postgresql://..."
    )


def _ledger_or_empty(dbapi: Any) -> bool:
    """Whether a SQLite file holds a ledger's entries table or no table at all (a new ledger): only then
    may opening it change the file (journal mode); any other database is refused unchanged by the store."""
    names = {row[0] for row in dbapi.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return not names or "ledger_entries" in names


def _create(parsed: URL, **options: Any) -> Engine:
    """SQLAlchemy's engine for `parsed`; a driver it does not have (`postgresql+://`, `sqlite+x:///`)
    is one line."""
    try:
        return create_engine(parsed, **options)
    except ArgumentError:  # NoSuchModuleError
        raise LedgerError(
            f"unsupported ledger driver {literal(shown(parsed.drivername))}: use sqlite:///PATH or postgresql://..."
        ) from None


def create_private(path: Path) -> None:
    """Create a new SQLite file readable by its owner only (SQLite gives its WAL files the same mode)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as error:
        raise LedgerError(
            f"cannot create the ledger file {named_path(path)}: {file_problem(error, path)}"
        ) from None


def setting(name: str, given: float | None, default: float) -> float:
    if given is not None:
        value = given
    else:
        try:
            value = float(os.environ.get(name) or default)
        except ValueError:
            raise LedgerError(f"{name} must be a number") from None
    if not math.isfinite(value) or value <= 0:  # nan passes `<= 0` and fails later in int()
        raise LedgerError(
            f"{name.removeprefix('MISFLAG_LEDGER_').lower()} must be a finite number above 0 (got {value:g})"
        )
    return value


class LedgerOwnerWarning(UserWarning):
    """The service is connected to PostgreSQL as the owner of the ledger's tables."""


class LedgerUnavailable(LedgerError):
    """The store cannot be reached, read or written (as opposed to an invalid request)."""


def first_line(error: Exception) -> str:
    text = str(getattr(error, "orig", None) or error)
    return text.splitlines()[0] if text else type(error).__name__
