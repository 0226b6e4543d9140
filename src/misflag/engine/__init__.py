"""Engines: DuckDB (embedded default) and Spark (distributed), behind one small interface."""

from misflag._text import shown
from misflag.engine._base import (
    SOURCE_DIALECT,
    Engine,
    Limits,
    PendingClose,
    PendingQuery,
    arrow_columns,
    current_limits,
    engine_limits,
    quote_identifier,
    quote_literal,
    transpile,
)
from misflag.engine.duckdb import DuckDBEngine
from misflag.errors import InputError, literal

ENGINE_NAMES = ("duckdb", "spark")


def get_engine(name: str = "duckdb") -> Engine:
    """An engine by name: `duckdb` (default, in-process, sandboxed) or `spark` (local or cluster).

    The DuckDB engine locks itself down at its first query (see DuckDBEngine); limits set with
    `engine_limits` apply.
    """
    if name == "duckdb":
        return DuckDBEngine(sandbox=True)
    if name == "spark":
        from misflag.engine.spark import SparkEngine

        return SparkEngine()
    raise InputError(f"unknown engine {literal(shown(name))}; choose one of {', '.join(ENGINE_NAMES)}")


__all__ = [
    "ENGINE_NAMES",
    "SOURCE_DIALECT",
    "DuckDBEngine",
    "Engine",
    "Limits",
    "PendingClose",
    "PendingQuery",
    "arrow_columns",
    "current_limits",
    "engine_limits",
    "get_engine",
    "quote_identifier",
    "quote_literal",
    "transpile",
]
