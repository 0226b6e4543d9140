"""A refused expression costs milliseconds on every engine: it is checked before Spark starts (issue 20).

The canary: Spark's engine class is replaced by one that fails the test if it is ever built, so each case
proves that the refusal came first. No Java is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import misflag.engine.spark as spark_engine
from misflag.biometrics import audit_biometrics
from misflag.decisions import audit_decisions
from misflag.errors import ExpressionError
from misflag.monitor import monitor

BACKTRACKING_LIKE = "name LIKE '%a%a%a%a%a%a%a%b'"  # Spark turns LIKE into a backtracking Java regex
NESTED_REPLACE = (
    "length(replace(replace(replace(name, 'a', 'aaaaaaaaaa'), 'a', 'aaaaaaaaaa'), 'a', 'aaaaaaaaaa')) > 0"
)


class _NoSpark:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("Spark was started before the expressions were checked")


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(spark_engine, "SparkEngine", _NoSpark)
    path = tmp_path / "log.csv"
    rows = ["name,grp,flag,truth,score,same,day"]
    rows += [
        f"p{i},{'ab'[i % 2]},{i % 2},{(i // 2) % 2},{i / 40},{i % 3 == 0},2026-01-{1 + i % 20:02d}"
        for i in range(40)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("hostile", [BACKTRACKING_LIKE, NESTED_REPLACE, "no_such_column = 1"])
def test_decision_audit_refuses_before_spark_starts(log: Path, hostile: str) -> None:
    with pytest.raises(ExpressionError):
        audit_decisions(
            str(log), flag="flag = 1", truth="truth", groups=["grp"], where=hostile, engine="spark"
        )


@pytest.mark.parametrize("hostile", [BACKTRACKING_LIKE, NESTED_REPLACE])
def test_biometric_audit_refuses_before_spark_starts(log: Path, hostile: str) -> None:
    with pytest.raises(ExpressionError):
        audit_biometrics(
            str(log), score="score", genuine="same", group="grp", threshold=0.5, where=hostile, engine="spark"
        )


@pytest.mark.parametrize("hostile", [BACKTRACKING_LIKE, NESTED_REPLACE])
def test_monitor_refuses_before_spark_starts(log: Path, hostile: str) -> None:
    with pytest.raises(ExpressionError):
        monitor(
            str(log),
            time="day",
            group="grp",
            reference="a",
            truth="truth",
            flag="flag = 1",
            where=hostile,
            engine="spark",
        )
