"""The same audit (target threshold, cross groups, subject clustering) on Spark (local mode) and DuckDB."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from misflag.biometrics import audit_biometrics


@pytest.mark.spark
@pytest.mark.slow
def test_spark_and_duckdb_give_the_same_audit(spark_available: None) -> None:
    frame = pd.DataFrame(
        {
            "score": [0.9, 0.8, 0.3, 0.2, 0.7, 0.1, 0.95, 0.4, 0.6, 0.5, 0.85, 0.35],
            "genuine": [1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0],
            "grp": ["A"] * 6 + ["B"] * 6,
            "ga": ["A", "B"] * 6,
            "gb": ["B", "B", "A", "A", "B", "A"] * 2,
            "sa": [1, 2, 3, 1, 2, 3, 4, 5, 4, 5, 6, 4],
            "sb": [1, 2, 3, 2, 3, 1, 4, 5, 5, 6, 4, 6],
        }
    )
    options = {
        "score": "score",
        "genuine": "genuine",
        "group": "grp",
        "threshold": 0.5,
        "target_fmr": 0.3,
        "min_cell": 1,
        "group_a": "ga",
        "group_b": "gb",
        "subject_a": "sa",
        "subject_b": "sb",
    }
    duck = audit_biometrics(frame, **options).rows()  # type: ignore[arg-type]
    spark = audit_biometrics(frame, engine="spark", **options).rows()  # type: ignore[arg-type]
    assert len(duck) == len(spark) > 50
    for ours, theirs in zip(duck, spark, strict=True):
        for key, value in ours.items():
            other = theirs[key]
            if isinstance(value, float) and isinstance(other, float):
                assert math.isclose(value, other, rel_tol=1e-12, abs_tol=1e-15), (ours, theirs)
            else:
                assert value == other, (ours, theirs)
