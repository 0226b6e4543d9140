"""A DuckDB database started ahead on a thread (`engine.duckdb.connect_ahead`) is taken once by the next
in-memory engine of the same process, which then reads, refuses and locks down exactly as a fresh one;
a forked child, a file database and a second engine connect afresh; an exit before anyone takes it is
clean.

What each engine is set to is read from DuckDB's own `duckdb_settings()`, not from misflag's code.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from misflag.engine import DuckDBEngine
from misflag.engine import duckdb as engine_module
from misflag.engine.duckdb import connect_ahead
from misflag.errors import EngineError, InputError


@pytest.fixture(autouse=True)
def _nothing_pending() -> Iterator[None]:
    """Each test starts and ends with no connection made ahead (one left over would go to another test)."""
    engine_module._take_ahead()
    yield
    engine_module._take_ahead()


def _pending() -> duckdb.DuckDBPyConnection:
    """The connection `connect_ahead` is making, once it is made."""
    ahead = engine_module._ahead[0]
    ahead.thread.join()
    assert ahead.connection is not None
    return ahead.connection


def _settings(engine: DuckDBEngine) -> dict[str, str]:
    rows = engine.connection.execute("SELECT name, value FROM duckdb_settings()").fetchall()
    return {str(name): str(value) for name, value in rows}


def test_the_next_engine_takes_it_once() -> None:
    connect_ahead()
    made = _pending()
    connect_ahead()  # one pending at a time: nothing new is started
    assert len(engine_module._ahead) == 1
    first, second = DuckDBEngine(sandbox=True), DuckDBEngine(sandbox=True)
    try:
        assert first.connection is made
        assert second.connection is not made
        assert first.connection.execute("SELECT 40 + 2").fetchall() == [(42,)]
    finally:
        first.close()
        second.close()


def test_an_engine_on_it_is_set_and_locked_as_a_fresh_one(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("a,b\n1,2\n3,4\n")
    other = tmp_path / "other.csv"
    other.write_text("secret\n1\n")
    settings = []
    for ahead in (True, False):
        if ahead:
            connect_ahead()
            _pending()
        engine = DuckDBEngine(sandbox=True, threads=1, memory_limit="500MB")
        try:
            engine.register_file("input", log, "csv", {"header": True})
            assert engine.sql("SELECT SUM(a) AS s FROM input").to_pylist() == [{"s": 4}]
            with pytest.raises((EngineError, InputError)):  # the sandbox: no file beside the input
                engine.sql(f"SELECT * FROM read_csv('{other}')")
            with pytest.raises(EngineError):  # the configuration is locked
                engine.execute("SET enable_external_access = true")
            settings.append(_settings(engine))
        finally:
            engine.close()
    taken, fresh = settings
    assert taken == fresh
    assert taken["threads"] == "1"
    assert taken["enable_external_access"] == "false"
    assert taken["lock_configuration"] == "true"
    assert taken["autoload_known_extensions"] == "false"


def test_a_file_database_connects_to_its_file(tmp_path: Path) -> None:
    path = tmp_path / "data.duckdb"
    with duckdb.connect(str(path)) as writer:
        writer.execute("CREATE TABLE t AS SELECT 7 AS x")
    connect_ahead()
    made = _pending()
    engine = DuckDBEngine(str(path))
    try:
        assert engine.connection is not made
        assert engine.connection.execute("SELECT x FROM t").fetchall() == [(7,)]
    finally:
        engine.close()


def _child_takes(result: multiprocessing.SimpleQueue) -> None:
    inherited = list(engine_module._ahead)
    engine = DuckDBEngine()
    result.put((inherited, engine.connection.execute("SELECT COUNT(*) FROM range(100000)").fetchall()))


def test_a_forked_child_connects_afresh() -> None:
    """DuckDB's worker threads do not survive a fork: the parent closes what it made ahead before it
    forks, so a child inherits none and connects afresh."""
    connect_ahead()
    _pending()
    context = multiprocessing.get_context("fork")
    result = context.SimpleQueue()
    child = context.Process(target=_child_takes, args=(result,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert result.get() == ([], [(100000,)])
    assert engine_module._ahead == []  # closed in the parent before the fork


def test_an_exit_before_it_is_taken_is_clean() -> None:
    """The thread is joined at exit, not stopped inside DuckDB's code: exit code 0, nothing on stderr."""
    code = "from misflag.engine.duckdb import connect_ahead; connect_ahead()"
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stderr) == (0, "")


#: The console script with its engine's connection recorded: was it the one made ahead?
CONSOLE = (
    "import sys; import misflag.engine.duckdb as m; taken = m._take_ahead; "
    "m._take_ahead = lambda: (c := taken(), print('AHEAD', c is not None, file=sys.stderr))[0]; "
    "sys.argv = ['misflag', *{argv!r}]; "
    "from misflag.cli import run; run()"
)


def test_the_console_scripts_decision_audit_runs_on_it(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("flag,truth,g\n" + "1,0,a\n0,1,b\n1,1,a\n0,0,b\n" * 10)
    argv = [
        "decisions", "audit", str(log), "--flag", "flag", "--truth", "truth", "--group", "g",
        "--replicates", "200", "--min-cell", "5", "--format", "csv",
    ]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", CONSOLE.format(argv=argv)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["AHEAD True"]
    assert done.stdout.startswith("attribute,group,stage,metric,")
