"""A search log's EER interval (FPIR meets FNIR, searches without a score in both denominators): coverage
against the crossing of the true curves.

Non-mated searches return a top candidate scoring N(0, 1), none at all 30% of the time; mated searches
find their mate scoring N(2, 1), except 8% that miss it. So FPIR(t) = 0.7 (1 - Phi(t)) and
FNIR(t) = 0.08 + 0.92 Phi(t - 2), and the true EER is their value where they meet (scipy's root finder).
600 groups of 300 searches of each kind; the interval must cover inside the 99% acceptance region of
Binomial(600, 0.95).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.stats import binom, norm

from misflag.biometrics import audit_biometrics

GROUPS, SEARCHES, NO_CANDIDATE, NO_MATE = 600, 300, 0.3, 0.08


def _fpir(t: float) -> float:
    return float((1 - NO_CANDIDATE) * norm.sf(t))


def _fnir(t: float) -> float:
    return float(NO_MATE + (1 - NO_MATE) * norm.cdf(t - 2))


def test_search_eer_interval_covers_the_true_crossing() -> None:
    rng = np.random.default_rng(8)
    frames = []
    for r in range(GROUPS):
        top = np.where(rng.random(SEARCHES) < NO_CANDIDATE, np.nan, rng.normal(0, 1, SEARCHES))
        mate = np.where(rng.random(SEARCHES) < NO_MATE, np.nan, rng.normal(2, 1, SEARCHES))
        frames.append(
            pd.DataFrame(
                {
                    "score": np.r_[top, mate],
                    "mated": np.r_[np.zeros(SEARCHES, int), np.ones(SEARCHES, int)],
                    "rep": f"r{r:04d}",
                }
            )
        )
    result = audit_biometrics(
        pd.concat(frames), score="score", genuine="mated", group="rep", threshold=1.0, bins=200, search=True
    )
    crossing = brentq(lambda t: _fpir(t) - _fnir(t), -5, 5, xtol=1e-14)
    truth = _fpir(crossing)
    rows = result.select(metric="eer", attribute="rep")
    assert len(rows) == GROUPS
    covered = sum(r["ci_low"] <= truth <= r["ci_high"] for r in rows)
    low, high = binom.interval(0.99, GROUPS, 0.95)
    assert low <= covered <= high, (covered, truth)
