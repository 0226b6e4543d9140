"""The same audit on DuckDB and on Spark (local mode) gives identical numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from misflag.decisions import audit_decisions


@pytest.mark.spark
@pytest.mark.slow
def test_compas_audit_identical_on_duckdb_and_spark(compas_csv: Path, spark_available: None) -> None:
    options = dict(
        flag="score_text IN ('Medium', 'High')",
        truth="two_year_recid",
        groups=["race", "sex"],
        intersect=True,
        score="decile_score",
        threshold=5,
        replicates=200,
        seed=11,
    )
    duck = audit_decisions(compas_csv, engine="duckdb", **options)
    spark = audit_decisions(compas_csv, engine="spark", **options)
    key = ["attribute", "group", "stage", "metric"]
    left = duck.to_pandas().sort_values(key).reset_index(drop=True)
    right = spark.to_pandas().sort_values(key).reset_index(drop=True)
    assert len(left) == len(right) > 100
    assert left[key].equals(right[key])
    for column in ("value", "ci_low", "ci_high", "denominator"):
        assert left[column].fillna(-1).tolist() == pytest.approx(right[column].fillna(-1).tolist(), abs=1e-12)
    assert duck.value("fpr", "African-American", attribute="race", stage="decision") == pytest.approx(
        805 / 1795
    )
