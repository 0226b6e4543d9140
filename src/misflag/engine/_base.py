"""The thin engine interface: every audit's SQL is written once (DuckDB dialect) and runs on any engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

from misflag.errors import InputError

#: The dialect misflag's own SQL and users' expressions are written in.
SOURCE_DIALECT = "duckdb"


@runtime_checkable
class Engine(Protocol):
    """Runs misflag SQL and returns Arrow; loads inputs as named tables."""

    name: str
    dialect: str

    def sql(self, query: str) -> pa.Table:
        """Run one query written in misflag's SQL (DuckDB dialect) and return the result as Arrow."""
        ...

    def register_arrow(self, name: str, table: pa.Table) -> None:
        """Make an in-memory Arrow table queryable under `name`."""
        ...

    def register_file(self, name: str, path: Path, file_format: str, options: dict[str, Any]) -> None:
        """Make a CSV or Parquet file queryable under `name` (validated by the caller)."""
        ...

    def columns(self, name: str) -> list[tuple[str, str]]:
        """The (column, type) pairs of a registered table."""
        ...

    def close(self) -> None:
        """Release the engine's resources."""
        ...


@dataclass(frozen=True)
class Limits:
    """Resource limits for engines made while they are in force (web jobs set them)."""

    memory_limit: str | None = None
    timeout_s: float | None = None


_NO_LIMITS = Limits()
_LIMITS: ContextVar[Limits | None] = ContextVar("misflag_engine_limits", default=None)


def current_limits() -> Limits:
    """The limits in force in this thread or task (none by default)."""
    return _LIMITS.get() or _NO_LIMITS


@contextmanager
def engine_limits(memory_limit: str | None = None, timeout_s: float | None = None) -> Iterator[Limits]:
    """Engines made inside the block get a memory limit (e.g. "2GB") and a per-query time limit."""
    limits = Limits(memory_limit, timeout_s)
    token = _LIMITS.set(limits)
    try:
        yield limits
    finally:
        _LIMITS.reset(token)


def transpile(query: str, dialect: str) -> str:
    """Translate one statement of misflag SQL into an engine's dialect (identity for DuckDB).

    Raises ValueError for text that is not exactly one statement.
    """
    if dialect == SOURCE_DIALECT:
        return query
    import sqlglot  # only another engine's dialect needs it (importing sqlglot costs ~60 ms)

    statements = sqlglot.transpile(query, read=SOURCE_DIALECT, write=dialect)
    if len(statements) != 1:
        raise ValueError(f"expected one statement, found {len(statements)}")
    return statements[0]


def quote_identifier(name: str) -> str:
    """Quote a column or table name for misflag SQL."""
    return '"' + str(name).replace('"', '""') + '"'


def quote_literal(text: str | Path) -> str:
    """Quote a string (a path, a name) as a SQL string literal: the one way paths enter SQL text."""
    value = str(text)
    if "\x00" in value:
        raise InputError("a name or path holding a NUL character cannot be used")
    return "'" + value.replace("'", "''") + "'"
