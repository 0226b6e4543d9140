"""The cell table's order (seeded bootstraps depend on it) against a plain Python sort of the rows."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pyarrow as pa

from misflag.decisions._cells import _sorted_columns


def _python_order(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Ascending on every column, NaN after the numbers, NULL last (the documented order)."""

    def key(value: Any) -> tuple[Any, ...]:
        if value is None:
            return (2,)
        if isinstance(value, float) and math.isnan(value):
            return (1,)
        return (0, value)

    return sorted(rows, key=lambda row: tuple(key(v) for v in row))


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left) and math.isnan(right):
        return True
    return bool(left == right)


def test_order_matches_python_sort_with_nan_null_and_unicode() -> None:
    picker = random.Random(7)
    labels = ["b", "a", "é", "Z", "ä", "", None, "a b", "\u202e"]
    numbers = [0.0, 1.0, -1.5, float("nan"), None, 2.0, 1e-9]
    rows = [
        (picker.choice(labels), picker.choice(numbers), picker.choice(numbers), picker.randint(1, 5))
        for _ in range(400)
    ]
    table = pa.table(
        {
            "g0": pa.array([r[0] for r in rows], pa.string()),
            "s0": pa.array([r[1] for r in rows], pa.float64()),
            "w": pa.array([r[2] for r in rows], pa.float64()),
            "n": pa.array([r[3] for r in rows], pa.int64()),
        }
    )
    got = _sorted_columns(table)
    expected = _python_order(rows)
    for position, row in enumerate(expected):
        for name, value in zip(("g0", "s0", "w", "n"), row, strict=True):
            cell = got[name][position]
            if value is None and name != "g0":
                assert np.isnan(cell)
            else:
                assert _same(cell, value), (position, name, cell, value)
    assert got["n"].dtype == np.int64


def test_a_million_distinct_weights_keep_their_order() -> None:
    """A weight distinct on every row (the issue's `1 + rid/1e9`) sorts without Python tuple keys."""
    size = 1_000_000
    weights = 1 + np.arange(size)[::-1] / 1e9
    table = pa.table({"g0": ["a", "b"] * (size // 2), "w": weights, "n": np.ones(size, dtype=np.int64)})
    got = _sorted_columns(table)
    assert list(got["g0"][: size // 2]) == ["a"] * (size // 2)
    assert np.all(np.diff(got["w"][: size // 2]) > 0)
    assert got["w"][0] == 1 + 1 / 1e9 and got["n"].sum() == size


#: Text with NULL and non-ASCII, numbers with NULL and NaN, a HUGEINT sum (counts mode's checks), a
#: boolean, and a count: every kind of column a cell query gives.
MIXED = """
SELECT CASE WHEN i % 7 = 0 THEN NULL ELSE ['b', 'a', 'é', 'Z', ''][1 + i % 5] END AS g0,
       CASE WHEN i % 5 = 0 THEN NULL WHEN i % 11 = 0 THEN 'nan'::DOUBLE ELSE (i % 3) - 0.5 END AS s0,
       SUM(i % 2)::HUGEINT AS bad, i % 4 = 0 AS flag, COUNT(*) AS n
FROM range(300) t(i) GROUP BY ALL
"""


def _same_arrays(left: dict[str, np.ndarray], right: dict[str, np.ndarray]) -> None:
    assert list(left) == list(right)
    for name in left:
        assert left[name].dtype == right[name].dtype, name
        assert [repr(v) for v in left[name].tolist()] == [repr(v) for v in right[name].tolist()], name


def test_duckdbs_numpy_columns_sort_as_its_arrow_table() -> None:
    """The command line reads the cells as DuckDB's numpy columns (no pyarrow); Spark's come as Arrow:
    both orders and values are the ones the Arrow table gave before."""
    import duckdb

    from misflag.engine import arrow_columns

    connection = duckdb.connect()
    try:
        numpy_columns = connection.sql(MIXED).fetchnumpy()
        table = connection.sql(MIXED).to_arrow_table()
    finally:
        connection.close()
    assert any(isinstance(column, np.ma.MaskedArray) for column in numpy_columns.values())
    _same_arrays(_sorted_columns(dict(numpy_columns)), _sorted_columns(table))
    _same_arrays(_sorted_columns(arrow_columns(table)), _sorted_columns(table))
    got = _sorted_columns(table)
    rows = list(zip(*(table.column(name).to_pylist() for name in table.column_names), strict=True))
    expected = _python_order(
        [tuple(float(v) if k == 2 and v is not None else v for k, v in enumerate(r)) for r in rows]
    )
    assert [g for g in got["g0"].tolist()] == [r[0] for r in expected]
    assert got["n"].dtype == np.int64 and int(got["n"].sum()) == 300
