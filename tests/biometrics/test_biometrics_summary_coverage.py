"""Coverage of the summaries' intervals (Jeffreys draws at the counts, widened towards equality by the
projection of a simultaneous box), independent pairs.

Where the groups' rates are spread (FMR 1-3%), equal (true max/min 1, Gini 0, FDR 1: the edge of each
measure's range, which draws of noisy rates never reach) and near equality (one group 30% higher), each
summary's interval must cover its true value at least as often as the lower end of the 99% acceptance
region of Binomial(400, 0.95): the box makes them conservative, never short (docs/biometrics.md quotes
the full-size runs, which cover 95-100%).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from misflag.biometrics._measures import INEQUALITY, fdr_interval, jeffreys_draws, most_equal, summarise

REPLICATES, IMPOSTORS, GENUINES = 400, 20_000, 2_000


def _coverage(fmr: np.ndarray, fnmr: np.ndarray, seed: int) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    truth = {
        "max_min_ratio": fmr.max() / fmr.min(),
        "max_geomean_ratio": fmr.max() / fmr.prod() ** (1 / fmr.size),
        "gini": np.abs(fmr[:, None] - fmr[None, :]).sum()
        / (2 * fmr.size**2 * fmr.mean())
        * fmr.size
        / (fmr.size - 1),
        "fdr": 1 - 0.5 * (fmr.max() - fmr.min()) - 0.5 * (fnmr.max() - fnmr.min()),
    }  # by hand
    hits = dict.fromkeys(truth, 0)
    for r in range(REPLICATES):
        x, y = rng.binomial(IMPOSTORS, fmr), rng.binomial(GENUINES, fnmr)
        draws_x = jeffreys_draws(x.astype(float), np.full(4, float(IMPOSTORS)), 2 * r)
        draws_y = jeffreys_draws(y.astype(float), np.full(4, float(GENUINES)), 2 * r + 1)
        for name in INEQUALITY:
            _, low, high = summarise(name, x / IMPOSTORS, draws_x)
            hits[name] += int(low is not None and high is not None and low <= truth[name] <= high)
        low_fdr, high_fdr = fdr_interval(draws_x, draws_y, 0.5)
        hits["fdr"] += int(low_fdr <= truth["fdr"] <= high_fdr)
    return hits


@pytest.mark.parametrize(
    ("fmr", "fnmr", "seed"),
    [
        ([0.01, 0.015, 0.02, 0.03], [0.05, 0.04, 0.06, 0.08], 12),  # spread
        ([0.02] * 4, [0.05] * 4, 13),  # equal
        ([0.02, 0.02, 0.02, 0.026], [0.05, 0.05, 0.05, 0.065], 14),  # one group 30% higher
    ],
)
def test_summary_intervals_cover_spread_equal_and_near_equal_rates(
    fmr: list[float], fnmr: list[float], seed: int
) -> None:
    low = binom.interval(0.99, REPLICATES, 0.95)[0]
    hits = _coverage(np.asarray(fmr), np.asarray(fnmr), seed)
    assert all(count >= low for count in hits.values()), hits


def test_most_equal_max_min_is_the_box_projection() -> None:
    """Over rates clipped to [L_i, U_i] around a common value, the smallest max/min is max(1, max L / min U)."""
    low, high = np.array([0.010, 0.012, 0.020]), np.array([0.015, 0.018, 0.030])
    assert most_equal("max_min_ratio", low, high) == pytest.approx(0.020 / 0.015, rel=1e-12)
    assert most_equal("max_min_ratio", low, np.array([0.025, 0.022, 0.030])) == pytest.approx(1.0, abs=1e-12)
