"""On simulated logs with known true rates, the 95% bootstrap intervals cover 93-97% of the time."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from misflag.decisions import audit_decisions

TRUE_FPR = {"a": 0.20, "b": 0.30}
REPETITIONS = 500


def _simulated_log(rng: np.random.Generator, size: int = 1500) -> pa.Table:
    group = rng.choice(np.array(["a", "b"]), size=size)
    truth = (rng.random(size) < 0.4).astype(np.int64)
    false_flag = rng.random(size) < np.where(group == "a", TRUE_FPR["a"], TRUE_FPR["b"])
    flag = np.where(truth == 1, (rng.random(size) < 0.7).astype(np.int64), false_flag.astype(np.int64))
    return pa.table({"grp": group, "truth": truth, "flag": flag})


@pytest.mark.slow
def test_intervals_cover_the_true_rates() -> None:
    rng = np.random.default_rng(20261123)
    hits = {"fpr a": 0, "fpr b": 0, "fpr ratio b/a": 0}
    for repetition in range(REPETITIONS):
        result = audit_decisions(
            _simulated_log(rng),
            flag="flag",
            truth="truth",
            groups=["grp"],
            reference="a",
            seed=repetition,
            replicates=1000,
        )
        for group in ("a", "b"):
            row = result.select(metric="fpr", group=group, attribute="grp", stage="decision")[0]
            hits[f"fpr {group}"] += row["ci_low"] <= TRUE_FPR[group] <= row["ci_high"]
        ratio = result.select(metric="fpr_ratio", group="b", attribute="grp", stage="decision")[0]
        hits["fpr ratio b/a"] += ratio["ci_low"] <= TRUE_FPR["b"] / TRUE_FPR["a"] <= ratio["ci_high"]
    coverage = {name: count / REPETITIONS for name, count in hits.items()}
    for share in coverage.values():
        assert 0.93 <= share <= 0.97, coverage
