"""`misflag._json.rows_json` writes exactly what `json.dumps(..., indent=1, default=str)` writes for the same
row objects, at every nesting depth, on hostile names and values."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from misflag._json import rows_json

TEXT = ["plain", 'quote " \\ back', "tab\tnl\nnul\x00\x1f", "é 中文 🙂 \u202e", "%s %d %%", "", None]
FLOAT = [0.1, -0.0, 1e-05, 1e16, 1e308, 5e-324, float("nan"), float("inf"), float("-inf"), None]
BOOL = [True, False, None]
INT = [-3, 0, 2**70, None]
DATE = [datetime.date(2024, 2, 29), None]  # not JSON: json.dumps writes str() of it (default=str)
NAMES = ["time", 'odd "key" %s é', "flag", "count", "day"]


def _columns(rows: int) -> list[list[Any]]:
    return [[values[i % len(values)] for i in range(rows)] for values in (TEXT, FLOAT, BOOL, INT, DATE)]


def _nested_in_json(rows: list[dict[str, Any]], depth: int) -> str:
    """json.dumps of the rows nested `depth` objects down, with the text around the rows removed."""
    document: Any = rows
    for _ in range(depth):
        document = {"k": document}
    text = json.dumps(document, indent=1, default=str)
    prefix = "".join("{\n" + " " * level + '"k": ' for level in range(1, depth + 1))
    suffix = "".join("\n" + " " * level + "}" for level in reversed(range(depth)))
    assert text.startswith(prefix) and text.endswith(suffix)
    return text[len(prefix) : len(text) - len(suffix)]


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
@pytest.mark.parametrize("rows", [0, 1, 70])
def test_rows_equal_json_dumps(depth: int, rows: int) -> None:
    columns = _columns(rows)
    objects = [dict(zip(NAMES, values, strict=True)) for values in zip(*columns, strict=True)]
    assert rows_json(NAMES, columns, depth, rows) == _nested_in_json(objects, depth)


@pytest.mark.parametrize("depth", [0, 1, 2])
@pytest.mark.parametrize("rows", [0, 1, 3])
def test_rows_without_columns_are_empty_objects(depth: int, rows: int) -> None:
    assert rows_json([], [], depth, rows) == _nested_in_json([{}] * rows, depth)


def test_one_column_of_each_kind_and_all_null() -> None:
    """Each encoder branch alone (a column's kinds decide the branch), and a column of nulls only."""
    for values in (TEXT, FLOAT, BOOL, INT, DATE, [None, None]):
        objects = [{"v": value} for value in values]
        assert rows_json(["v"], [list(values)], 1, len(values)) == _nested_in_json(objects, 1)


def test_mixed_column_falls_back_to_json() -> None:
    """A column mixing kinds (not an Arrow column, but a Python caller's) is still json.dumps's text."""
    values: list[Any] = ["a", 1.5, True, 7, None, float("nan")]
    assert rows_json(["v"], [values], 0, len(values)) == _nested_in_json([{"v": v} for v in values], 0)
