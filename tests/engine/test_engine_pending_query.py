"""A query run on a background thread (engine.PendingQuery) gives what `engine.sql` gives, fails as it
fails, and can be stopped before the engine closes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

import duckdb
import pytest

from misflag.engine import DuckDBEngine, PendingQuery
from misflag.errors import EngineError, InputError

#: 3,000 rows in three groups of 1,000: the counts are known without running anything.
GROUPS = "SELECT range % 3 AS g, COUNT(*) AS n FROM range(3000) GROUP BY ALL ORDER BY g"
#: Minutes of work on any machine: a query that only ends when it is interrupted.
ENDLESS = "SELECT sum(a.range * b.range) AS s FROM range(200000000) a, range(100000) b"


def test_the_thread_gives_the_table() -> None:
    engine = DuckDBEngine()
    try:
        table = PendingQuery(engine, GROUPS).result()
    finally:
        engine.close()
    assert table.to_pylist() == [{"g": 0, "n": 1000}, {"g": 1, "n": 1000}, {"g": 2, "n": 1000}]


def _error_of(run: Callable[[], object]) -> BaseException:
    with pytest.raises((EngineError, InputError)) as caught:
        run()
    return caught.value


def test_a_failing_query_raises_the_engines_own_error() -> None:
    """The same class and the same one line as a direct call, raised in the caller's thread."""
    failing = "SELECT CAST('x' || range AS INTEGER) AS v FROM range(10)"
    direct, threaded = DuckDBEngine(), DuckDBEngine()
    try:
        expected = _error_of(lambda: direct.sql(failing))
        got = _error_of(lambda: PendingQuery(threaded, failing).result())
    finally:
        direct.close()
        threaded.close()
    assert type(got) is type(expected) is EngineError
    assert str(got) == str(expected)
    assert str(got).startswith("DuckDB could not run the query: Conversion Error")


def test_a_file_that_breaks_mid_read_is_the_inputs_error(tmp_path: Path) -> None:
    """A registered Parquet file replaced by garbage after registration: InputError naming the file, as
    `sql` raises it (the engine maps read errors of registered files to the input)."""
    messages = []
    for threaded in (False, True):
        path = tmp_path / f"log{threaded}.parquet"
        duckdb.sql(f"COPY (SELECT range AS x FROM range(100)) TO '{path}' (FORMAT parquet)")
        engine = DuckDBEngine()
        try:
            engine.register_file("input", path, "parquet", {})
            path.write_bytes(b"PAR1 not a parquet file at all")
            query = "SELECT SUM(x) AS s FROM input"
            error = _error_of(PendingQuery(engine, query).result if threaded else partial(engine.sql, query))
        finally:
            engine.close()
        assert type(error) is InputError
        messages.append(str(error).replace(str(path), "PATH"))
    assert messages[0] == messages[1]
    assert messages[0].startswith("PATH is not a readable Parquet file")


def test_stop_interrupts_a_running_query_so_the_engine_can_close() -> None:
    engine = DuckDBEngine()
    pending = PendingQuery(engine, ENDLESS)
    pending.stop()  # returns only once the thread has ended: the interrupt reached DuckDB
    with pytest.raises(EngineError, match="the query was stopped before it finished"):
        pending.result()
    assert engine.sql("SELECT 1 AS x").column(0)[0].as_py() == 1  # the connection is still usable
    engine.close()


def test_without_a_thread_the_query_runs_in_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no thread can be started (a process limit), the query runs at once, in the caller."""

    def refused(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refused)
    engine = DuckDBEngine()
    try:
        pending = PendingQuery(engine, GROUPS)
        assert pending.result().column("n").to_pylist() == [1000, 1000, 1000]
    finally:
        engine.close()
