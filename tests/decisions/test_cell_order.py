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
