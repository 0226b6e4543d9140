"""Coverage of the summaries' intervals (Jeffreys draws at the counts), independent pairs.

Where the groups' rates are spread (FMR 1-3%), each summary's interval must cover its true value within the
99% acceptance region of Binomial(400, 0.95). Where rates are equal the true max/min is 1, the Gini 0 and
the FDR 1, values the draws never reach: those intervals exclude the truth by construction
(docs/biometrics.md), which the second test states so that a change there is noticed.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binom

from misflag.biometrics._measures import INEQUALITY, fairness_discrepancy, jeffreys_draws, summarise

REPLICATES, IMPOSTORS, GENUINES = 400, 20_000, 2_000


def _coverage(fmr: np.ndarray, fnmr: np.ndarray, seed: int) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    truth = {name: float(measure(fmr[None, :])[0]) for name, measure in INEQUALITY.items()}
    truth["fdr"] = 1 - 0.5 * (fmr.max() - fmr.min()) - 0.5 * (fnmr.max() - fnmr.min())  # by hand
    hits = dict.fromkeys(truth, 0)
    for r in range(REPLICATES):
        x, y = rng.binomial(IMPOSTORS, fmr), rng.binomial(GENUINES, fnmr)
        draws_x = jeffreys_draws(x.astype(float), np.full(4, float(IMPOSTORS)), 2 * r)
        draws_y = jeffreys_draws(y.astype(float), np.full(4, float(GENUINES)), 2 * r + 1)
        for name, measure in INEQUALITY.items():
            _, low, high = summarise(measure, x / IMPOSTORS, draws_x)
            hits[name] += int(low is not None and high is not None and low <= truth[name] <= high)
        low_fdr, high_fdr = np.percentile(fairness_discrepancy(draws_x, draws_y, 0.5), [2.5, 97.5])
        hits["fdr"] += int(low_fdr <= truth["fdr"] <= high_fdr)
    return hits


def test_summary_intervals_cover_where_rates_are_spread() -> None:
    low, high = binom.interval(0.99, REPLICATES, 0.95)
    hits = _coverage(np.array([0.01, 0.015, 0.02, 0.03]), np.array([0.05, 0.04, 0.06, 0.08]), seed=12)
    assert all(low <= count <= high for count in hits.values()), hits


def test_summary_intervals_exclude_equality_when_rates_are_equal() -> None:
    hits = _coverage(np.full(4, 0.02), np.full(4, 0.05), seed=13)
    assert hits == dict.fromkeys(hits, 0)
