"""`misflag monitor --format json` writes exactly what `json.dumps(..., indent=1, default=str)` of the tables'
`to_pylist()` writes, byte for byte, on real runs and on hostile tables (the encoder is misflag's own)."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest

from misflag.commands.monitor import as_json
from misflag.monitor import monitor
from misflag.result import AuditResult, rows_to_table

from ._logs import ROLES
from .conftest import make_log

HOSTILE_TEXT = [
    "plain",
    'quote " and \\ backslash',
    "tab\tnew\nline\x00nul\x1f",
    "é ü 中文 🙂",
    "%s %d %%",
    "",
    None,
]
HOSTILE_FLOAT = [
    0.1,
    -0.0,
    1e-05,
    1e16,
    123456789.123,
    float("nan"),
    float("inf"),
    float("-inf"),
    None,
    5e-324,
]


def _reference(result: AuditResult) -> str:
    """The encoding the command used before, written out with the standard library."""
    alarms = result.extras.get("alarms")
    document = {
        "alarms": alarms.to_pylist() if alarms is not None else [],
        "table": result.extras["periods"].to_pylist(),
        "warnings": result.metadata.get("warnings", []),
    }
    return json.dumps(document, indent=1, default=str)


def _result(extras: dict[str, pa.Table], warnings: list[str]) -> AuditResult:
    return AuditResult(
        kind="monitor", table=rows_to_table([]), metadata={"warnings": warnings}, extras=extras
    )


@pytest.mark.parametrize("change", [1, 3])
def test_real_runs_match_json_dumps(change: int) -> None:
    """A steady log and one whose group B triples its false positives, with review stages and reviewer pools."""
    log = make_log(60, 200, lambda g, d: 0.05 * (change if g == "B" and d >= 30 else 1), seed=2)
    log = log[~log["ts"].str.startswith("2024-01-10")]  # an empty day: a warning
    result = monitor(
        log,
        **ROLES,
    )
    assert as_json(result) == _reference(result)
    assert ("alarms" in result.extras) == (change == 3)  # both shapes of the document are covered
    assert any("have no rows" in warning for warning in result.metadata["warnings"])


def test_hostile_tables_match_json_dumps() -> None:
    rows = len(HOSTILE_TEXT) * len(HOSTILE_FLOAT)
    table = pa.table(
        {
            "time": pa.array([HOSTILE_TEXT[i % len(HOSTILE_TEXT)] for i in range(rows)], pa.string()),
            'odd "key" %s é': pa.array(
                [HOSTILE_FLOAT[i % len(HOSTILE_FLOAT)] for i in range(rows)], pa.float64()
            ),
            "flag": pa.array([[True, False, None][i % 3] for i in range(rows)], pa.bool_()),
            "count": pa.array(list(range(-3, rows - 3)), pa.int64()),
        }
    )
    alarms = table.slice(0, 5)
    for extras, warnings in (
        ({"periods": table, "alarms": alarms}, ["a warning", 'with "quotes" and é\n']),
        ({"periods": table}, []),
        ({"periods": table.slice(0, 0), "alarms": alarms.slice(0, 0)}, ["one"]),
        ({"periods": pa.table({}).append_column("x", pa.array([], pa.string()))}, []),
    ):
        result = _result(extras, warnings)
        assert as_json(result) == _reference(result)


def test_the_reference_is_not_vacuous() -> None:
    """A table differing from another in one float's last digit gives a different text."""
    one: dict[str, Any] = {"periods": pa.table({"v": pa.array([0.1], pa.float64())})}
    two: dict[str, Any] = {"periods": pa.table({"v": pa.array([0.1 + 2**-56], pa.float64())})}
    assert as_json(_result(one, [])) != as_json(_result(two, []))
    assert as_json(_result(two, [])) == _reference(_result(two, []))
