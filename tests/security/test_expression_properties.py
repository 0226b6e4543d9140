"""Properties of the expression language, for generated valid expressions (synthetic data, hypothesis):

* the rendered SQL parses back to the same tree, and checking it again changes nothing;
* it means what the user wrote: DuckDB gives the same values for the user's text and for the rendering;
* DuckDB and Spark give the same values for it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from misflag.engine import DuckDBEngine
from misflag.io import check_expression, load_input, parse_expression

COLUMNS = ("id", "a", "b", "s")
ROWS = 24

_numbers = st.recursive(
    st.one_of(st.sampled_from(["a", "b", "0.25", "1.5"]), st.integers(-20, 20).map(str)),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda x: f"abs({x})"),
        inner.map(lambda x: f"-({x})"),
        inner.map(lambda x: f"round({x}, 1)"),
        inner.map(lambda x: f"floor({x})"),
        st.tuples(inner, inner).map(lambda t: f"coalesce({t[0]}, {t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"greatest({t[0]}, {t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"nullif({t[0]}, {t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"CASE WHEN a > 0 THEN {t[0]} ELSE {t[1]} END"),
    ),
    max_leaves=6,
)
_strings = st.one_of(
    st.just("s"),
    st.sampled_from(
        [
            "lower(s)",
            "upper(s)",
            "trim(s)",
            "substr(s, 1, 2)",
            "left(s, 2)",
            "concat(s, '-x')",
            "s || '/'",
            "coalesce(s, 'none')",
            "replace(s, 'a', 'o')",
            "CAST(a AS VARCHAR)",
            "CASE WHEN s LIKE 'a%' THEN 'A' WHEN s IS NULL THEN 'missing' ELSE s END",
        ]
    ),
)
_comparisons = st.one_of(
    st.tuples(_numbers, st.sampled_from(["=", "<>", "<", "<=", ">", ">="]), _numbers).map(
        lambda t: f"{t[0]} {t[1]} {t[2]}"
    ),
    st.tuples(_numbers, st.integers(-10, 0), st.integers(0, 10)).map(
        lambda t: f"{t[0]} BETWEEN {t[1]} AND {t[2]}"
    ),
    st.sampled_from(
        [
            "s LIKE 'a%'",
            "s ILIKE '%B%'",
            "s IN ('alpha', 'beta', 'Gamma')",
            "s NOT IN ('alpha')",
            "s IS NULL",
            "a IS NOT NULL",
            "a IN (1, 2, 3)",
            "starts_with(s, 'be')",
            "length(s) > 4",
        ]
    ),
)
_booleans = st.recursive(
    _comparisons,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda x: f"NOT ({x})"),
    ),
    max_leaves=4,
)
EXPRESSIONS = st.one_of(_numbers, _strings, _booleans)


def _table() -> pa.Table:
    """Integers with NULLs, doubles on a quarter grid (exact in binary), text with NULLs and case."""
    words = ["alpha", "beta", "Gamma", " pad ", "", None, "ab", "Beta"]
    return pa.table(
        {
            "id": pa.array(range(ROWS), pa.int64()),
            "a": pa.array([None if i % 7 == 3 else i - 10 for i in range(ROWS)], pa.int64()),
            "b": pa.array([None if i % 5 == 1 else (i - 12) / 4 for i in range(ROWS)], pa.float64()),
            "s": pa.array([words[i % len(words)] for i in range(ROWS)], pa.string()),
        }
    )


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("property") / "data.parquet"
    pq.write_table(_table(), path)
    return path


@pytest.fixture(scope="module")
def duckdb_engine(data_file: Path) -> Iterator[Any]:
    engine = DuckDBEngine(sandbox=True)
    load_input(engine, data_file)
    yield engine
    engine.close()


def _normal(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) or type(value).__name__ == "Decimal":
        number = float(value)
        return None if math.isnan(number) else round(number, 9)
    return value


def _values_all(engine: Any, sqls: list[str]) -> list[list[Any]]:
    """Each expression's values by id, all from one query (a column each)."""
    items = ", ".join(f"{sql} AS v{i}" for i, sql in enumerate(sqls))
    table = engine.sql(f"SELECT id, {items} FROM input ORDER BY id")
    return [[_normal(v) for v in table.column(f"v{i}").to_pylist()] for i in range(len(sqls))]


def _values(engine: Any, sql: str) -> list[Any]:
    return _values_all(engine, [sql])[0]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=EXPRESSIONS)
def test_rendering_parses_back_and_means_what_was_written(text: str, duckdb_engine: Any) -> None:
    checked = parse_expression(text, COLUMNS, "--group")
    rendered = checked.sql()
    assert sqlglot.parse_one(rendered, read="duckdb") == checked.tree
    assert check_expression(rendered, COLUMNS, "--group") == rendered
    assert _values(duckdb_engine, rendered) == _values(duckdb_engine, text)


@pytest.fixture(scope="module")
def spark_engine(data_file: Path, spark_available: None) -> Any:
    from misflag.engine.spark import SparkEngine

    engine = SparkEngine()
    load_input(engine, data_file)
    return engine


#: Expressions each Spark query of the agreement property compares (a Spark job costs far more than the
#: expressions in it): 5 examples of 5 check the 25 generated expressions one expression an example did.
SPARK_BATCH = 5


@pytest.mark.spark
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(EXPRESSIONS, min_size=SPARK_BATCH, max_size=SPARK_BATCH))
def test_duckdb_and_spark_agree(texts: list[str], duckdb_engine: Any, spark_engine: Any) -> None:
    rendered = [check_expression(text, COLUMNS, "--group") for text in texts]
    assert _values_all(spark_engine, rendered) == _values_all(duckdb_engine, rendered)
