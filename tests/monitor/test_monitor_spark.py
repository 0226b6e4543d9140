"""The same monitor on DuckDB and on Spark (local mode): the same count SQL, identical answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from misflag.monitor import monitor

from ._logs import ROLES
from .conftest import make_log


@pytest.mark.spark
@pytest.mark.slow
def test_monitor_identical_on_duckdb_and_spark(tmp_path: Path, spark_available: None) -> None:
    path = tmp_path / "log.csv"
    make_log(40, 150, lambda g, d: 0.05 * (4 if g == "B" and d >= 20 else 1), seed=5).to_csv(
        path, index=False
    )
    options = dict(
        **ROLES,
        baseline_periods=10,
    )
    duck = monitor(str(path), engine="duckdb", **options)  # type: ignore[arg-type]
    spark = monitor(str(path), engine="spark", **options)  # type: ignore[arg-type]
    assert duck.metadata["alarms"] == spark.metadata["alarms"] and duck.metadata["alarms"]
    assert duck.extras["periods"].to_pylist() == spark.extras["periods"].to_pylist()
