"""Ctrl-C while DuckDB runs a statement on the calling thread: DuckDB's Python client ends the statement
with a bare `RuntimeError('Query interrupted')` (duckdb 2.0.1), not a KeyboardInterrupt nor a
`duckdb.Error`, so the command line printed `internal error (RuntimeError): Query interrupted — please
report this` (exit 1) where it promises `error: interrupted` (exit 130). Seen by sending SIGINT to
`misflag decisions audit` 0.17-0.2 s after its start, while the CSV was being read into DuckDB
(register_file). A real SIGINT is sent to this process while a CSV of 3 million rows (about 2 s of
parsing) is read, and while a query over it runs."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from misflag.cli import main
from misflag.engine import DuckDBEngine

ROWS = 3_000_000


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ctrl_c") / "big.csv"
    duckdb.sql(
        "COPY (SELECT i % 7 AS g, i % 2 AS truth, (i % 5 = 0)::INT AS flag, 'note ' || i AS note "
        f"FROM range({ROWS}) r(i)) TO '{path}' (HEADER)"
    )
    return path


@pytest.fixture(autouse=True)
def python_sigint_handler() -> Iterator[None]:
    """Python's own SIGINT handler, as a command's process has it, whatever an earlier test in this worker
    installed (in the suite of 2026-12-08 all three tests saw no KeyboardInterrupt after other modules ran on
    their worker, and pass alone)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _ctrl_c_after(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_ctrl_c_while_a_file_is_read_is_a_keyboard_interrupt(big_csv: Path) -> None:
    engine = DuckDBEngine(sandbox=True)
    timer = _ctrl_c_after(0.2)
    try:
        with pytest.raises(KeyboardInterrupt):
            engine.register_file("log", big_csv, "csv", {})
    finally:
        timer.join()
        engine.close()


def test_ctrl_c_while_a_query_runs_is_a_keyboard_interrupt(big_csv: Path) -> None:
    engine = DuckDBEngine(sandbox=True)
    engine.register_file("log", big_csv, "csv", {})
    timer = _ctrl_c_after(0.2)
    try:
        with pytest.raises(KeyboardInterrupt):
            engine.sql("SELECT g, COUNT(DISTINCT note), SUM(hash(note) % 7) FROM log GROUP BY g")
    finally:
        timer.join()
        engine.close()


def test_the_command_says_interrupted(big_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    timer = _ctrl_c_after(0.2)
    try:
        code = main(
            ["decisions", "audit", str(big_csv), "--flag", "flag", "--truth", "truth", "--group", "g"]
        )
    finally:
        timer.join()
    assert (code, capsys.readouterr().err) == (130, "error: interrupted\n")
