"""Small group-periods are withheld, and no pooled figure lets anyone subtract them back."""

from __future__ import annotations

import pandas as pd

from misflag.monitor import monitor

from ._logs import ROLES
from .conftest import make_log


def test_suppressed_periods_cannot_be_recovered_by_subtraction() -> None:
    log = make_log(20, 60, lambda g, d: 0.05, seed=1)
    # group C has only 4 rows on 2024-01-05
    thin = (log["grp"] == "C") & log["ts"].str.startswith("2024-01-05")
    log = pd.concat([log[~thin], log[thin].head(4)], ignore_index=True)
    result = monitor(
        log,
        **ROLES,
        baseline_periods=5,
    )
    periods = result.extras["periods"].to_pylist()
    hidden = [r for r in periods if r["group"] == "C" and r["time"].startswith("2024-01-05")]
    assert hidden and all(r["suppressed"] and r["value"] is None for r in hidden)
    shown_n = sum(
        r["value"] for r in periods if r["group"] == "C" and r["metric"] == "n" and not r["suppressed"]
    )
    pooled_n = result.select(group="C", metric="n", stage="all periods")[0]["value"]
    assert pooled_n == shown_n == (log["grp"] == "C").sum() - 4
    for metric in ("fpr", "dismissal_rate"):
        rows = [r for r in periods if r["group"] == "C" and r["metric"] == metric and not r["suppressed"]]
        pooled = result.select(group="C", metric=metric, stage="all periods")[0]
        assert pooled["denominator"] == sum(r["denominator"] for r in rows)
    # reviewer pools split the same rows as the groups: their figures of that day are withheld too
    pool_day = [
        r for r in periods if r["attribute"] == "reviewer_pool" and r["time"].startswith("2024-01-05")
    ]
    assert pool_day and all(r["suppressed"] for r in pool_day)
    # ratios of the other groups that day stay (the reference was not withheld)
    ratio = [
        r
        for r in periods
        if r["group"] == "B" and r["metric"] == "fpr_ratio" and r["time"].startswith("2024-01-05")
    ]
    assert ratio and not ratio[0]["suppressed"]
