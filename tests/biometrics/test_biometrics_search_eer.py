"""One-to-many search logs: the EER where FPIR meets FNIR, searches without a score (no candidate, or not
the mate) in every denominator, counted by numpy from the rows (pyeer's rule over the distinct scores)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from misflag.biometrics import audit_biometrics
from misflag.errors import InputError


def _numpy_eer(score: np.ndarray, mated: np.ndarray) -> tuple[float, float]:
    """(EER, threshold): t2 the first distinct score with FPIR <= FNIR, t1 the one before, the smaller sum."""
    non = np.sort(score[~mated & ~np.isnan(score)])
    scored = np.sort(score[mated & ~np.isnan(score)])
    unscored = int((mated & np.isnan(score)).sum())
    grid = np.unique(score[~np.isnan(score)])
    fpir = (non.size - np.searchsorted(non, grid, "left")) / int((~mated).sum())
    fnir = (unscored + np.searchsorted(scored, grid, "left")) / int(mated.sum())
    t2 = int(np.nonzero(fpir <= fnir)[0][0])
    t1 = t2 - 1 if fpir[t2] != fnir[t2] and t2 else t2
    pick = t1 if fpir[t1] + fnir[t1] <= fpir[t2] + fnir[t2] else t2
    return float((fpir[pick] + fnir[pick]) / 2), float(grid[pick])


def test_search_eer_counts_searches_without_a_score() -> None:
    rng = np.random.default_rng(4)
    mated = rng.random(6000) < 0.5
    score = np.where(mated, rng.normal(3, 1, mated.size), rng.normal(0, 1, mated.size))
    score = np.where(
        rng.random(mated.size) < np.where(mated, 0.08, 0.3), np.nan, score
    )  # no mate / no candidate
    frame = pd.DataFrame(
        {"score": score, "mated": mated.astype(int), "grp": rng.choice(["A", "B"], mated.size)}
    )
    result = audit_biometrics(frame, score="score", genuine="mated", group="grp", threshold=1.5, search=True)
    for group in ("all", "A", "B"):
        rows = frame if group == "all" else frame[frame["grp"] == group]
        value, threshold = _numpy_eer(rows["score"].to_numpy(), rows["mated"].to_numpy() == 1)
        row = result.select(metric="eer", group=group)[0]
        assert row["value"] == pytest.approx(value, rel=1e-12)
        assert row["ci_low"] < value < row["ci_high"]
        key = "overall = all" if group == "all" else f"grp = {group}"
        assert result.metadata["eer_thresholds"][key] == pytest.approx(threshold, rel=1e-12)
    # the misses without a score move the crossing: scored searches alone would cross near 1.5, not 1.3
    assert result.select(metric="eer", group="all")[0]["value"] > 0.08


def test_a_search_log_without_any_candidate_says_so() -> None:
    """Every search came back empty: the one line names that, not a score that is 'not a number'."""
    log = pd.DataFrame({"score": [np.nan] * 40, "mated": [0, 1] * 20})
    with pytest.raises(InputError, match="no search returned a candidate") as raised:
        audit_biometrics(log, score="score", genuine="mated", search=True, threshold=1.0)
    assert "\n" not in str(raised.value)
