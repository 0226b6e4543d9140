"""The thin engine interface: every audit's SQL is written once (DuckDB dialect) and runs on any engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa
import sqlglot

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


def transpile(query: str, dialect: str) -> str:
    """Translate misflag SQL into an engine's dialect (identity for DuckDB)."""
    if dialect == SOURCE_DIALECT:
        return query
    return ";\n".join(sqlglot.transpile(query, read=SOURCE_DIALECT, write=dialect))


def quote_identifier(name: str) -> str:
    """Quote a column or table name for misflag SQL."""
    return '"' + name.replace('"', '""') + '"'
