"""DuckDB, the embedded default engine."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from misflag.engine._base import quote_identifier
from misflag.errors import EngineError, InputError


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBEngine:
    """In-process DuckDB: fast on one machine, reads CSV/Parquet directly."""

    name = "duckdb"
    dialect = "duckdb"

    def __init__(self, database: str = ":memory:", threads: int | None = None) -> None:
        self.connection = duckdb.connect(database)
        self.connection.execute("SET enable_progress_bar = false")  # misflag shows its own progress
        if threads or os.environ.get("MISFLAG_THREADS"):
            self.connection.execute(f"SET threads = {int(threads or os.environ['MISFLAG_THREADS'])}")

    def sql(self, query: str) -> pa.Table:
        try:
            relation = self.connection.sql(query)
            if relation is None:
                return pa.table({})
            return relation.to_arrow_table()
        except duckdb.Error as error:
            raise EngineError(f"DuckDB could not run the query: {_first_line(error)}") from None

    def execute(self, statement: str) -> None:
        """Run a statement that returns nothing (DDL)."""
        try:
            self.connection.execute(statement)
        except duckdb.Error as error:
            raise EngineError(f"DuckDB could not run the statement: {_first_line(error)}") from None

    def register_arrow(self, name: str, table: pa.Table) -> None:
        self.connection.register(name, table)

    def register_file(self, name: str, path: Path, file_format: str, options: dict[str, Any]) -> None:
        source = _sql_literal(str(path))
        if file_format == "parquet":
            reader = f"read_parquet({source})"
        elif file_format == "csv":
            settings = ", ".join(f"{key} = {value}" for key, value in options.items())
            reader = f"read_csv({source}{', ' + settings if settings else ''})"
        else:
            raise InputError(f"unsupported file format {file_format!r}")
        try:
            # A table, not a view: the file is parsed (and validated) once, then queried many times.
            self.connection.execute(
                f"CREATE OR REPLACE TABLE {quote_identifier(name)} AS SELECT * FROM {reader}"
            )
        except duckdb.Error as error:
            raise InputError(_describe_read_error(path, file_format, error)) from None

    def attach_table(self, name: str, query: str) -> None:
        """Make the result of a query (e.g. a table of an attached database) available under `name`."""
        try:
            self.connection.execute(f"CREATE OR REPLACE VIEW {quote_identifier(name)} AS {query}")
        except duckdb.Error as error:
            raise InputError(f"cannot read the input table: {_first_line(error)}") from None

    def columns(self, name: str) -> list[tuple[str, str]]:
        rows = self.connection.execute(f"DESCRIBE {quote_identifier(name)}").fetchall()
        return [(str(row[0]), str(row[1])) for row in rows]

    def close(self) -> None:
        self.connection.close()


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _describe_read_error(path: Path, file_format: str, error: BaseException) -> str:
    message = str(error)
    lowered = message.lower()
    if "unicode" in lowered or "utf-8" in lowered or "utf8" in lowered:
        return f"{path} is not valid UTF-8 text; re-encode it as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
    if file_format == "parquet":
        return f"{path} is not a readable Parquet file: {_first_line(error)}"
    return f"cannot read {path} as CSV: {_first_line(error)}"
