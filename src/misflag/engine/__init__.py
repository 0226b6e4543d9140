"""Engines: DuckDB (embedded default) and Spark (distributed), behind one small interface."""

from misflag.engine._base import SOURCE_DIALECT, Engine, quote_identifier, transpile
from misflag.engine.duckdb import DuckDBEngine
from misflag.errors import InputError

ENGINE_NAMES = ("duckdb", "spark")


def get_engine(name: str = "duckdb") -> Engine:
    """An engine by name: `duckdb` (default, in-process) or `spark` (local or cluster)."""
    if name == "duckdb":
        return DuckDBEngine()
    if name == "spark":
        from misflag.engine.spark import SparkEngine

        return SparkEngine()
    raise InputError(f"unknown engine {name!r}; choose one of {', '.join(ENGINE_NAMES)}")


__all__ = [
    "ENGINE_NAMES",
    "SOURCE_DIALECT",
    "DuckDBEngine",
    "Engine",
    "get_engine",
    "quote_identifier",
    "transpile",
]
