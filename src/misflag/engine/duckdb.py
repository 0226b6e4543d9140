"""DuckDB, the embedded default engine, usable as a sandbox.

Every engine refuses extension auto-install and auto-load and runs one statement per call. A sandboxed
engine (`DuckDBEngine(sandbox=True)`, what `get_engine` returns) also locks itself down before its first
query: external access off except for the registered input files, configuration locked. Parquet files are
read through views (no copy), so the lock lists exactly the files registered; a sandboxed engine caches their
footers (DuckDB's `parquet_metadata_cache`) for its own life, one audit, so the column check, the row count
and the cell query do not each read them again. A memory limit and a time limit
(a timer that interrupts the running query) are available for web jobs.

A new in-memory database costs 10-20 ms (DuckDB builds its catalog of built-in functions) without holding
Python's lock: the command line starts one on another thread (`connect_ahead`) while it imports the rest
of a command, and the engine it then makes takes it. A process that has opened a second in-memory engine
(an API caller running audit after audit, a test run) starts the next one's database as each engine
closes, so an audit's connection is made beside the previous audit's estimates, not before its own scan.
Every engine still gets a database of its own, fresh: none is reused. A database made ahead and not yet
taken is closed before the process forks (a forked child that frees a parent's DuckDB database crashes).

The engine runs statements with `execute` on DuckDB's C client (`_duckdb`, duckdb >= 1.4). The `duckdb`
package around it is a Python relation layer whose import (importlib.metadata, email, a 4,600-line module)
was a third of the command line's work before its scan, and whose `sql()` binds a query twice; it is loaded
only for Arrow: results (`sql`) and inputs (`register_arrow`, whose scans of Python objects it sets up).
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:  # DuckDB's C client alone: see the module docstring
    import _duckdb as duckdb
except ImportError:  # duckdb < 1.4: the package is its C client
    import duckdb  # type: ignore[no-redef]

from misflag._text import shown
from misflag.engine._base import current_limits, quote_identifier, quote_literal
from misflag.engine._duckdb_errors import describe_read_error, first_line
from misflag.errors import EngineError, InputError, literal

if TYPE_CHECKING:  # DuckDB loads them itself when a result is converted (see engine.PendingQuery)
    import numpy as np
    import pyarrow as pa

#: The input is the one file named: a folder named like `truth=1/` on its path is not a Hive partition
#: (DuckDB would otherwise add or replace a `truth` column of 1 for every row).
ONE_FILE = ", hive_partitioning = false"


class DuckDBEngine:
    """In-process DuckDB: fast on one machine, reads CSV/Parquet directly."""

    name = "duckdb"
    dialect = "duckdb"

    def __init__(
        self,
        database: str = ":memory:",
        threads: int | None = None,
        *,
        sandbox: bool = False,
        memory_limit: str | None = None,
        timeout_s: float | None = None,
    ) -> None:
        limits = current_limits()
        in_memory = database == ":memory:"
        ahead = _take_ahead() if in_memory else None
        self.connection = ahead if ahead is not None else duckdb.connect(database)
        # from a process's second in-memory engine on, the next one's database is made as this one closes
        self._spare_after = in_memory and _count_in_memory() >= 2
        self.sandboxed = sandbox
        self.timeout_s = timeout_s if timeout_s is not None else limits.timeout_s
        self._locked = False
        self._files: dict[str, Path] = {}  # as the user named them, for messages
        self._allowed: dict[str, Path] = {}  # resolved, for the sandbox's allowed paths
        self._run("SET enable_progress_bar = false")  # misflag shows its own progress
        self._run("SET autoinstall_known_extensions = false")
        self._run("SET autoload_known_extensions = false")
        if sandbox:  # an audit reads its inputs' Parquet footers once, not once per query
            self._run("SET parquet_metadata_cache = true")
        if threads or os.environ.get("MISFLAG_THREADS"):
            self._run(f"SET threads = {int(threads or os.environ['MISFLAG_THREADS'])}")
        memory = memory_limit or limits.memory_limit
        if memory:
            self._run(f"SET memory_limit = {quote_literal(memory)}")

    def _run(self, statement: str) -> None:
        try:
            self.connection.execute(statement)
        except duckdb.Error as error:
            raise EngineError(f"DuckDB could not be configured: {first_line(error)}") from None

    def sandbox(self) -> None:
        """Lock down: no file, network or settings access beyond the registered inputs, from now on."""
        if self._locked:
            return
        allowed = "[" + ", ".join(quote_literal(str(path)) for path in self._allowed.values()) + "]"
        self._run(f"SET allowed_paths = {allowed}")
        self._run("SET enable_external_access = false")
        self._run("SET lock_configuration = true")
        self._locked = True

    def _one_statement(self, query: str) -> None:
        try:
            count = len(self.connection.extract_statements(query))
        except duckdb.Error as error:
            raise EngineError(f"DuckDB could not parse the query: {first_line(error)}") from None
        if count != 1:
            raise EngineError(f"DuckDB runs one statement per call; the query holds {count}")

    def sql(self, query: str) -> pa.Table:
        """Run one query and return Arrow; a sandboxed engine locks itself down first."""
        return self._query(query, _arrow_table)

    def numpy(self, query: str) -> dict[str, np.ndarray]:
        """Run one query and return its columns as numpy arrays (masked where NULL), converted by DuckDB
        itself: no pyarrow is loaded (see engine.Engine.numpy); errors as `sql`'s."""
        return self._query(query, _numpy_columns)

    def count_rows(self, name: str) -> int:
        """How many rows a registered table has, read as a Python number, not through Arrow: a file's
        audit counts its rows before pyarrow is loaded (see engine.PendingQuery)."""
        return int(self._query(f"SELECT COUNT(*) AS n FROM {quote_identifier(name)}", _first_value))

    def _query(self, query: str, fetch: Callable[[duckdb.DuckDBPyConnection, str], Any]) -> Any:
        """Run one query with `fetch` (on the connection), sandbox locked and timer started; errors as `sql`'s."""
        if self.sandboxed:
            self.sandbox()
        self._one_statement(query)
        timer = self._start_timer()
        try:
            with _ctrl_c():
                return fetch(self.connection, query)
        except duckdb.InterruptException:
            raise self._interrupted() from None
        except duckdb.Error as error:
            raise self._error(error, "DuckDB could not run the query") from None
        finally:
            if timer is not None:
                timer.cancel()

    def _start_timer(self) -> threading.Timer | None:
        if not self.timeout_s:
            return None
        timer = threading.Timer(self.timeout_s, self.interrupt)
        timer.daemon = True
        timer.start()
        return timer

    def _interrupted(self) -> EngineError:
        """The error of an interrupted query: past its time limit, or stopped by its caller."""
        if self.timeout_s:
            return EngineError(f"the query ran longer than {self.timeout_s:g} s and was stopped")
        return EngineError("the query was stopped before it finished")

    def interrupt(self) -> None:
        """Stop the running query (from another thread); it raises EngineError in its caller."""
        self.connection.interrupt()

    def execute(self, statement: str) -> None:
        """Run one statement that returns nothing (DDL)."""
        self._one_statement(statement)
        timer = self._start_timer()
        try:
            with _ctrl_c():
                self.connection.execute(statement)
        except duckdb.InterruptException:
            raise self._interrupted() from None
        except duckdb.Error as error:
            raise self._error(error, "DuckDB could not run the statement") from None
        finally:
            if timer is not None:
                timer.cancel()

    def _error(self, error: duckdb.Error, what: str) -> Exception:
        """A read error of a registered file is the input's fault (InputError); the rest EngineError."""
        message = str(error)
        for name, path in self._files.items():
            if str(path) in message or str(self._allowed[name]) in message:
                file_format = "parquet" if "parquet" in message.lower() else "csv"
                return InputError(describe_read_error(path, file_format, error))
        return EngineError(f"{what}: {first_line(error)}")

    def register_arrow(self, name: str, table: pa.Table) -> None:
        _load_package()
        self.connection.register(name, table)

    def register_file(self, name: str, path: Path, file_format: str, options: dict[str, Any]) -> None:
        """Parquet as a view (no copy: columns are read as queries need them); CSV parsed once into a table.

        A CSV file is text: every query over a view would parse it again, and its errors (bad UTF-8, a
        value that breaks the sniffed type) would surface mid-audit; the copy parses and validates it once.
        """
        if self._locked:
            raise EngineError("this engine is locked down; register every input before the first query")
        resolved = path.resolve()
        source = quote_literal(str(resolved))
        if file_format == "parquet":
            statement = f"CREATE OR REPLACE VIEW {quote_identifier(name)} AS SELECT * FROM read_parquet({source}{ONE_FILE})"
        elif file_format == "csv":
            settings = "".join(f", {_option(key, value)}" for key, value in options.items())
            statement = f"CREATE OR REPLACE TABLE {quote_identifier(name)} AS SELECT * FROM read_csv({source}{settings}{ONE_FILE})"
        else:
            raise InputError(f"unsupported file format {literal(shown(file_format))}")
        try:
            with _ctrl_c():
                self.connection.execute(statement)
        except duckdb.Error as error:
            raise InputError(describe_read_error(path, file_format, error)) from None
        self._files[name] = path
        self._allowed[name] = resolved

    def attach_database(self, path: Path) -> None:
        """Attach a DuckDB database file read-only as `misflag_source` (its path is a bound literal)."""
        if self._locked:
            raise EngineError("this engine is locked down; attach inputs before the first query")
        try:
            self.connection.execute(
                f"ATTACH IF NOT EXISTS {quote_literal(str(path))} AS misflag_source (READ_ONLY)"
            )
        except duckdb.Error as error:
            raise InputError(
                f"cannot open the DuckDB database {literal(str(path))}: {first_line(error)}"
            ) from None

    def attach_table(self, name: str, query: str) -> None:
        """Make the result of a query (e.g. a table of an attached database) available under `name`."""
        try:
            self.connection.execute(f"CREATE OR REPLACE VIEW {quote_identifier(name)} AS {query}")
        except duckdb.Error as error:
            raise InputError(f"cannot read the input table: {first_line(error)}") from None

    def columns(self, name: str) -> list[tuple[str, str]]:
        try:
            rows = self.connection.execute(f"DESCRIBE {quote_identifier(name)}").fetchall()
        except duckdb.Error as error:
            raise self._error(error, "DuckDB could not describe the input") from None
        return [(str(row[0]), str(row[1])) for row in rows]

    def close(self) -> None:
        """Close the database; in a process that runs engine after engine, start the next one's (see
        the module's docstring)."""
        self.connection.close()
        if self._spare_after:
            connect_ahead()


class _Ahead:
    """One in-memory connection being made on a thread, for the process that started it."""

    def __init__(self) -> None:
        self.process = os.getpid()
        self.connection: duckdb.DuckDBPyConnection | None = None
        # not a daemon: an exit before the engine takes it waits the few ms left rather than stop the
        # thread inside DuckDB's code
        self.thread = threading.Thread(target=self._connect, name="misflag-connect")

    def _connect(self) -> None:
        try:
            self.connection = duckdb.connect(":memory:")
        except duckdb.Error:  # the engine connects itself, and says what is wrong
            self.connection = None


_ahead: list[_Ahead] = []
_ahead_lock = threading.Lock()
#: (process id, in-memory engines it has made): a forked child counts its own from 0
_in_memory: list[int] = [os.getpid(), 0]


def _count_in_memory() -> int:
    """Count one more in-memory engine made by this process; how many it has made so far."""
    with _ahead_lock:
        if _in_memory[0] != os.getpid():
            _in_memory[:] = [os.getpid(), 0]
        _in_memory[1] += 1
        return _in_memory[1]


def connect_ahead() -> None:
    """Start making one in-memory DuckDB connection on another thread; the next in-memory
    `DuckDBEngine` of this process takes it (configured and locked down as any other) instead of
    connecting. Nothing is started while one is pending, no thread can start, or the process is exiting
    (an engine closed by an exit handler: a thread left inside DuckDB at the exit aborts the process)."""
    with _ahead_lock:
        if _ahead or not threading.main_thread().is_alive():
            return
        ahead = _Ahead()
        try:
            ahead.thread.start()
        except RuntimeError:  # no thread can be started (a process limit): the engine connects itself
            return
        _ahead.append(ahead)


def _take_ahead() -> duckdb.DuckDBPyConnection | None:
    """The connection `connect_ahead` made (waiting for it), once; None if there is none for this process.

    A forked child connects afresh and leaves its parent's where it is: DuckDB's threads do not survive a
    fork, and closing a database without them crashes the child."""
    with _ahead_lock:
        if not _ahead or _ahead[0].process != os.getpid():
            return None
        ahead = _ahead.pop()
    ahead.thread.join()
    return ahead.connection


def _close_ahead_before_fork() -> None:
    """Close a database made ahead and not taken, before this process forks: a forked child inherits
    it without DuckDB's threads, and freeing it there (at the child's exit) crashes the child."""
    connection = _take_ahead()
    if connection is not None:
        connection.close()


os.register_at_fork(before=_close_ahead_before_fork)


@contextmanager
def _ctrl_c() -> Iterator[None]:
    """A Ctrl-C that ends a statement running on this thread, raised as the KeyboardInterrupt it is.

    DuckDB's Python client (2.0.1) stops the statement and raises a bare `RuntimeError('Query
    interrupted')`, neither a KeyboardInterrupt nor a `duckdb.Error`: the command line reported it as an
    internal error (tests/engine/test_engine_ctrl_c.py). An interrupt from `interrupt()` (a time limit,
    a stopped job) is `duckdb.InterruptException`, handled where the statement runs."""
    try:
        yield
    except RuntimeError as error:
        if type(error) is RuntimeError and str(error) == "Query interrupted":
            raise KeyboardInterrupt from None
        raise


def _arrow_table(connection: duckdb.DuckDBPyConnection, query: str) -> pa.Table:
    """A query's result as Arrow, through the `duckdb` package (a statement with no result: an empty table)."""
    _load_package()
    relation = connection.sql(query)
    if relation is None:
        import pyarrow as pa

        return pa.table({})
    return relation.to_arrow_table()


def _load_package() -> None:
    """Import the `duckdb` package: connections' `sql`, and scans of Arrow and pandas objects."""
    importlib.import_module("duckdb")


def _numpy_columns(connection: duckdb.DuckDBPyConnection, query: str) -> dict[str, np.ndarray]:
    """A query's result as numpy columns (DDL: DuckDB's `Count` or `Success` column)."""
    return dict(connection.execute(query).fetchnumpy())


def _first_value(connection: duckdb.DuckDBPyConnection, query: str) -> Any:
    """The first column of a one-row result, as a Python value."""
    return connection.execute(query).fetchall()[0][0]


def _option(key: str, value: Any) -> str:
    """One `key = value` reader option, the key checked and the value a literal."""
    if not key.isidentifier():
        raise InputError(f"unknown CSV option {literal(shown(key))}")
    if isinstance(value, bool):
        return f"{key} = {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"{key} = {value!r}"
    return f"{key} = {quote_literal(str(value))}"
