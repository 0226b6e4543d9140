"""Engines as sandboxes: limits, one statement per call, paths quoted, Spark's reflection refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from misflag.engine import DuckDBEngine, engine_limits, get_engine, quote_literal, transpile
from misflag.engine.spark import _check_spark_sql
from misflag.errors import EngineError, InputError
from misflag.io import load_input

SLOW = "SELECT sum(a.range * b.range) AS s FROM range(200000000) a, range(1000) b"


def test_a_query_past_the_time_limit_is_interrupted() -> None:
    engine = DuckDBEngine(timeout_s=0.5)
    try:
        with pytest.raises(EngineError, match=r"longer than 0\.5 s"):
            engine.sql(SLOW)
        assert engine.sql("SELECT 1 AS x").column(0)[0].as_py() == 1  # the connection is still usable
    finally:
        engine.close()


def test_limits_apply_to_engines_made_inside_the_block() -> None:
    with engine_limits(memory_limit="200MB", timeout_s=0.5):
        engine = get_engine("duckdb")
    try:
        assert engine.sql("SELECT current_setting('memory_limit') AS m").column(0)[0].as_py() == "190.7 MiB"
        with pytest.raises(EngineError, match="longer than"):
            engine.sql(SLOW)
    finally:
        engine.close()
    outside = DuckDBEngine()
    assert outside.timeout_s is None
    outside.close()


def test_get_engine_locks_down_at_the_first_query(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("a\n1\n", encoding="utf-8")
    engine = get_engine("duckdb")
    try:
        load_input(engine, log)
        assert (
            engine.sql("SELECT current_setting('enable_external_access') AS e").column(0)[0].as_py() is False
        )
        with pytest.raises(EngineError, match="locked down"):
            load_input(engine, log, name="second")
    finally:
        engine.close()


def test_a_name_with_quotes_reaches_sql_only_as_a_literal(tmp_path: Path) -> None:
    odd = tmp_path / "it's \"x\"; COPY (SELECT 1) TO 'pwned'.csv"
    odd.write_text("a\n1\n2\n", encoding="utf-8")
    engine = DuckDBEngine(sandbox=True)
    try:
        assert load_input(engine, odd).rows == 2
    finally:
        engine.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [odd.name]
    assert quote_literal("a'b") == "'a''b'"
    with pytest.raises(InputError):
        quote_literal("a\x00b")


@pytest.mark.parametrize(
    "query",
    [
        "SELECT reflect('java.lang.Runtime', 'getRuntime')",
        "SELECT java_method('java.lang.System', 'getenv', 'HOME')",
        "SELECT try_reflect('java.lang.Runtime', 'getRuntime')",
        "SELECT input_file_name()",
        "SELECT 1; SELECT 2",
    ],
)
def test_spark_sql_refuses_reflection_and_second_statements(query: str) -> None:
    with pytest.raises(ValueError):
        _check_spark_sql(query)


def test_transpile_takes_one_statement() -> None:
    assert transpile("SELECT STARTS_WITH(a, 'x') FROM t", "spark") == "SELECT STARTSWITH(a, 'x') FROM t"
    with pytest.raises(ValueError, match="one statement"):
        transpile("SELECT 1; SELECT 2", "spark")
