"""Per-period rates against independent computations: pandas sums, scipy's Wilson interval, weighted sums."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from misflag.monitor import monitor

from .conftest import make_log


def test_period_rates_and_wilson_intervals_match_scipy() -> None:
    log = make_log(10, 150, lambda g, d: 0.05 + 0.01 * d, seed=8)
    result = monitor(log, time="ts", group="grp", reference="A", truth="truth", flag="flag", metrics=["fpr"])
    rows = {
        (r["group"], r["time"][:10]): r for r in result.extras["periods"].to_pylist() if r["metric"] == "fpr"
    }
    log["day"] = log["ts"].str[:10]
    negatives = log[log["truth"] == 0]
    for (group, day), part in negatives.groupby(["grp", "day"]):
        row = rows[(group, day)]
        flagged, total = int(part["flag"].sum()), len(part)
        interval = stats.binomtest(flagged, total).proportion_ci(method="wilson")
        assert row["value"] == pytest.approx(flagged / total)
        assert row["denominator"] == total
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((interval.low, interval.high), abs=1e-9)


def test_pending_truth_and_sample_weights_as_in_decision_audits() -> None:
    log = make_log(6, 400, lambda g, d: 0.1, seed=4)
    rng = np.random.default_rng(0)
    sampled = rng.random(len(log)) < np.where(log["flag"] == 1, 0.8, 0.2)  # flags over-sampled
    log["label"] = log["truth"].where(sampled)  # NULL outside the audit sample: pending, not an error
    log["w"] = np.where(sampled, np.where(log["flag"] == 1, 1 / 0.8, 1 / 0.2), np.nan)
    result = monitor(
        log, time="ts", group="grp", reference="A", truth="label", flag="flag", weight="w", metrics=["fpr"]
    )
    rows = result.extras["periods"].to_pylist()
    log["day"] = log["ts"].str[:10]
    for (group, day), part in log.groupby(["grp", "day"]):
        known = part[part["label"].notna() & (part["label"] == 0)]
        expected = (known["w"] * known["flag"]).sum() / known["w"].sum()
        (fpr,) = [r for r in rows if r["metric"] == "fpr" and r["group"] == group and r["time"][:10] == day]
        assert fpr["value"] == pytest.approx(expected)
        assert fpr["denominator"] == len(known)
        (pending,) = [
            r
            for r in rows
            if r["metric"] == "pending_truth_count" and r["group"] == group and r["time"][:10] == day
        ]
        assert pending["value"] == part["label"].isna().sum()
