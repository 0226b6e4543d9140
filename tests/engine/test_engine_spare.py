"""From a process's second in-memory DuckDB engine on, each engine's close starts the next one's database
(`engine.duckdb`: an API caller's audit then connects beside the previous audit's estimates, not before
its scan). The next engine gets that database as it would a fresh one: nothing of the earlier engine's
inputs, views or settings, the same `duckdb_settings()`, its own sandbox. A process's first engine starts
none (the console script's one audit, the web service's fork server), and one made ahead is closed
before the process forks: a forked child that frees a parent's DuckDB database at its exit crashes
(the control below shows the crash).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from misflag.engine import DuckDBEngine
from misflag.engine import duckdb as engine_module
from misflag.errors import EngineError, InputError


@pytest.fixture(autouse=True)
def _nothing_pending() -> Iterator[None]:
    """Each test starts and ends with no database made ahead (one left over would go to another test)."""
    engine_module._take_ahead()
    yield
    engine_module._take_ahead()


def _settings(engine: DuckDBEngine) -> dict[str, str]:
    rows = engine.connection.execute("SELECT name, value FROM duckdb_settings()").fetchall()
    return {str(name): str(value) for name, value in rows}


def _catalog(engine: DuckDBEngine) -> list[tuple[str, str]]:
    """Every view and table the engine's database holds beside DuckDB's own."""
    query = (
        "SELECT 'view', view_name FROM duckdb_views() WHERE NOT internal "
        "UNION ALL SELECT 'table', table_name FROM duckdb_tables() ORDER BY 1, 2"
    )
    return [(str(kind), str(name)) for kind, name in engine.connection.execute(query).fetchall()]


def _engine_on(path: Path) -> DuckDBEngine:
    engine = DuckDBEngine(sandbox=True, threads=1)
    engine.register_file("input", path, "csv", {"header": True})
    return engine


def test_the_next_engine_gets_a_fresh_database(tmp_path: Path) -> None:
    first_log, second_log = tmp_path / "first.csv", tmp_path / "second.csv"
    first_log.write_text("secret\n41\n")
    second_log.write_text("a\n1\n2\n")
    DuckDBEngine().close()  # this process has made engines before: the rule below applies from the second
    earlier = _engine_on(first_log)
    earlier.execute("CREATE TABLE kept AS SELECT 1 AS x")
    earlier.close()
    assert len(engine_module._ahead) == 1  # its close started the next one's database
    made = engine_module._ahead[0]
    made.thread.join()
    taken = _engine_on(second_log)
    engine_module._take_ahead()  # what the spare test must compare with: a database made right here
    fresh = _engine_on(second_log)
    try:
        assert taken.connection is made.connection
        assert fresh.connection is not made.connection
        assert _catalog(taken) == _catalog(fresh) == [("table", "input")]  # no `kept`
        for engine in (taken, fresh):  # the first query locks each down
            assert engine.sql("SELECT SUM(a) AS s FROM input").to_pylist() == [{"s": 3}]
        with pytest.raises((EngineError, InputError)):  # the earlier engine's file is outside the sandbox
            taken.sql(f"SELECT * FROM read_csv('{first_log}')")
        assert _settings(taken) == _settings(fresh)
        assert _settings(taken)["allowed_paths"] == _settings(fresh)["allowed_paths"]
        assert str(second_log.resolve()) in _settings(taken)["allowed_paths"]
        assert str(first_log.resolve()) not in _settings(taken)["allowed_paths"]
    finally:
        taken.close()
        fresh.close()


#: A fresh process: its first engine's close starts nothing, its second's does; then it forks, and the
#: child exits as a normal Python process does (freeing what it inherited).
FORKING = textwrap.dedent(
    """
    import os, sys
    import misflag.engine.duckdb as m
    from misflag.engine import DuckDBEngine
    DuckDBEngine().close()
    first = len(m._ahead)
    DuckDBEngine().close()
    second = len(m._ahead)
    pid = os.fork()
    if pid == 0:
        sys.exit(0)
    _, status = os.waitpid(pid, 0)
    print(first, second, len(m._ahead), os.waitstatus_to_exitcode(status))
    """
)

#: The control: a DuckDB database alive in the parent when it forks, freed by the child at its exit.
INHERITED = textwrap.dedent(
    """
    import os, sys, duckdb
    kept = duckdb.connect()
    pid = os.fork()
    if pid == 0:
        sys.exit(0)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status))
    """
)


def _run(code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_only_from_the_second_engine_on_and_never_across_a_fork() -> None:
    first, second, after_fork, child = _run(FORKING)
    assert (first, second) == ("0", "1")
    assert after_fork == "0"  # closed before the fork
    assert child == "0"
    assert _run(INHERITED) != ["0"]  # what the close before the fork prevents: the child crashes


#: A process's second engine closed by an exit handler (a caller's clean-up at exit), printing how many
#: databases are then being made ahead.
CLOSED_AT_EXIT = """
import atexit
from misflag.engine import DuckDBEngine
from misflag.engine import duckdb as engine_module
DuckDBEngine().close()
second = DuckDBEngine()  # its close would start the next engine's database
atexit.register(lambda: (second.close(), print("AHEAD", len(engine_module._ahead))))
"""


def test_an_engine_closed_at_exit_starts_no_database_ahead() -> None:
    """A thread still inside DuckDB's connect when the process exits aborts it ('FATAL: exception not
    rethrown'): once the interpreter is exiting nothing is started."""
    done = subprocess.run([sys.executable, "-c", CLOSED_AT_EXIT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["AHEAD", "0"]
