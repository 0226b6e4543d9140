"""The thin engine interface: every audit's SQL is written once (DuckDB dialect) and runs on any engine."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload, runtime_checkable

from misflag._beside import Beside
from misflag.errors import InputError

if TYPE_CHECKING:  # not imported here: an audit's scan starts before numpy and pyarrow load (PendingQuery)
    import numpy as np
    import pyarrow as pa

#: What a PendingQuery's fetch gives: `engine.sql`'s Arrow table, or `engine.numpy`'s columns.
Fetched = TypeVar("Fetched")

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

    def numpy(self, query: str) -> dict[str, np.ndarray]:
        """Run one query as `sql` does and return its columns as numpy arrays, each a masked array
        (`numpy.ma`) where it holds NULL: a decision audit's count table, read without pyarrow where
        the engine can (DuckDB), so the command line never loads it."""
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

    def count_rows(self, name: str) -> int:
        """How many rows a registered table has (the first query that reads a registered file)."""
        ...

    def close(self) -> None:
        """Release the engine's resources."""
        ...


class PendingQuery(Generic[Fetched]):
    """One query of `engine` running on a background thread, so the caller can work beside the scan.

    DuckDB's threads scan without the GIL (its Python client takes it only between tasks and to finish):
    the command line imports what the rest of an audit needs (numpy, the estimates) while DuckDB reads
    the file. `fetch` runs the query (`engine.sql` unless given, e.g. `engine.numpy`); `result()` gives
    what it returned or raises exactly what it raised; nothing else may use the engine until then, and
    `stop()` (interrupt where the engine can, then wait) must come before the engine is closed.
    """

    @overload
    def __init__(self: PendingQuery[pa.Table], engine: Engine, query: str) -> None: ...

    @overload
    def __init__(self, engine: Engine, query: str, fetch: Callable[[str], Fetched]) -> None: ...

    def __init__(self, engine: Engine, query: str, fetch: Callable[[str], Any] | None = None) -> None:
        self._engine = engine
        # where no thread can be started (a process limit) it runs here, as a direct call
        self._pending: Beside[Fetched] = Beside(fetch or engine.sql, query, name="misflag-query")

    def result(self) -> Fetched:
        """What the query's fetch gave (waits for it); the engine's own error if it failed."""
        table = self._pending.result()
        assert table is not None
        return table

    def stop(self) -> None:
        """Interrupt the query while it runs (DuckDB; Spark finishes it), and wait for the thread.

        Interrupted again every 50 ms: an interrupt that comes before the query has started is lost."""
        interrupt: Callable[[], None] | None = getattr(self._engine, "interrupt", None)
        if interrupt is None:
            self._pending.wait()
            return
        while not self._pending.wait(0.05):
            interrupt()


class PendingClose:
    """`engine.close()` on a background thread, so the caller finishes its own work beside it: DuckDB
    tears an in-memory database down (its catalog, its worker threads: 3 ms, more on a busy machine)
    without the GIL. `wait()` returns once the engine is closed, raising what `close` raised."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._error: BaseException | None = None
        # not a daemon: an exit waits for the close rather than stop the thread inside the engine's code
        self._thread = threading.Thread(target=self._close, name="misflag-close")
        try:
            self._thread.start()
        except RuntimeError:  # no thread can be started (a process limit): close here, as a direct call
            self._close()

    def _close(self) -> None:
        try:
            self._engine.close()
        except BaseException as error:  # handed to the caller of wait()
            self._error = error

    def wait(self) -> None:
        """Wait until the engine is closed; its error, if closing failed."""
        if self._thread.ident is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error


def arrow_columns(table: pa.Table) -> dict[str, np.ndarray]:
    """An Arrow table's columns as `Engine.numpy` gives them: numbers and booleans as their numpy
    dtype, text and other types as Python objects, a masked array where a column holds NULL (for an
    engine that returns Arrow, Spark)."""
    import numpy as np

    from misflag._arrow import buffer_values

    out: dict[str, np.ndarray] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        chunks = [chunk for chunk in column.chunks if len(chunk)]
        try:
            pieces = [buffer_values(chunk) for chunk in chunks]
            values = np.concatenate([v for v, _ in pieces]) if pieces else np.zeros(0)
            nulls = np.concatenate([n for _, n in pieces]) if pieces else np.zeros(0, dtype=bool)
        except ValueError:  # not fixed-width numbers: as Python objects (text, booleans, decimals)
            objects = column.to_pylist()
            nulls = np.array([v is None for v in objects], dtype=bool)
            values = np.empty(len(objects), dtype=object)
            values[:] = objects
            if objects and not nulls.any() and {type(v) for v in objects} == {bool}:
                values = values.astype(bool)
        out[name] = np.ma.masked_array(values, mask=nulls) if nulls.any() else values
    return out


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
