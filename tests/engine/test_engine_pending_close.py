"""An engine closed on a background thread (engine.PendingClose) is closed once `wait()` returns, and its
error comes back there; the decision audit closes its engine beside the estimates and returns only
once it is closed, so a DuckDB input file is free the moment the audit returns."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from misflag.decisions import audit_decisions
from misflag.engine import DuckDBEngine, PendingClose


def test_the_engine_is_closed_when_wait_returns() -> None:
    engine = DuckDBEngine()
    engine.sql("SELECT 1 AS x")
    PendingClose(engine).wait()
    with pytest.raises(duckdb.ConnectionException):  # DuckDB's own word: the connection is closed
        engine.connection.execute("SELECT 1")


class _FailingClose:
    """An engine whose close fails (the protocol's other methods are not used)."""

    name = dialect = "failing"

    def close(self) -> None:
        raise OSError("the disk went away")


def test_a_failed_close_is_raised_by_wait() -> None:
    closing = PendingClose(_FailingClose())  # type: ignore[arg-type]
    with pytest.raises(OSError, match="the disk went away"):
        closing.wait()


def test_a_duckdb_input_is_free_for_a_writer_when_the_audit_returns(tmp_path: Path) -> None:
    """The audit attaches the file read-only; a writer opening it right after the audit returns (a
    lock conflict if the engine were still closing) succeeds, every time."""
    path = tmp_path / "log.duckdb"
    with duckdb.connect(str(path)) as writer:
        writer.execute(
            "CREATE TABLE log AS SELECT range % 2 AS flag, (range % 3 = 0)::INT AS truth FROM range(200)"
        )
    for round_ in range(5):
        result = audit_decisions(path, table="log", flag="flag", truth="truth", min_cell=1, replicates=100)
        assert result.value("n", "all") == 200 + round_
        with duckdb.connect(str(path)) as writer:  # read-write: refused while another holds the file
            writer.execute("INSERT INTO log VALUES (1, 1)")


def test_the_estimates_error_is_not_hidden_by_a_failed_close(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the estimates fail and the engine's close fails too, the audit raises the estimates' error:
    the one that says what is wrong with the audit (a close error in a `finally` replaced it)."""
    import misflag.decisions._audit_cells as cells
    from misflag.engine import duckdb as duckdb_engine
    from misflag.errors import InputError

    def failing_estimates(*args: object, **kwargs: object) -> None:
        raise InputError("the estimates found a problem")

    def failing_close(self: DuckDBEngine) -> None:
        raise OSError("the disk went away")

    monkeypatch.setattr(cells, "result_of", failing_estimates)
    monkeypatch.setattr(duckdb_engine.DuckDBEngine, "close", failing_close)
    table = {"flag": [0, 1] * 20, "truth": [1, 0, 0, 1] * 10}
    import pyarrow as pa

    with pytest.raises(InputError, match="the estimates found a problem"):
        audit_decisions(pa.table(table), flag="flag", truth="truth", min_cell=1, replicates=100)
