"""Coverage of the summaries' intervals (the end towards equality by inverting a chi-square score test over
bands of rates, the far end from Jeffreys draws), independent pairs; and the inversion checked by hand.

Where the groups' rates are spread (FMR 1-3%), equal (true max/min 1, Gini 0, FDR 1: the edge of each
measure's range, which draws of noisy rates never reach) and near equality (one group 30% higher), each
summary's interval must cover its true value a number of times inside the 99% acceptance region of
Binomial(REPLICATES, 0.95) (docs/biometrics.md quotes the full-size runs of
benchmarks/biometrics_summary_coverage.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

from misflag.biometrics._measures import (
    Observed,
    closest_band,
    equal_rates_compatible,
    fdr_interval,
    jeffreys_draws,
    score_statistic,
    summaries,
)

REPLICATES, IMPOSTORS, GENUINES = 400, 20_000, 2_000


def _truth(fmr: np.ndarray, fnmr: np.ndarray) -> dict[str, float]:
    """Each measure from its definition, written out again."""
    k = fmr.size
    return {
        "max_min_ratio": fmr.max() / fmr.min(),
        "max_geomean_ratio": fmr.max() / fmr.prod() ** (1 / k),
        "gini": np.abs(fmr[:, None] - fmr[None, :]).sum() / (2 * k**2 * fmr.mean()) * k / (k - 1),
        "fdr": 1 - 0.5 * (fmr.max() - fmr.min()) - 0.5 * (fnmr.max() - fnmr.min()),
    }


def _coverage(fmr: np.ndarray, fnmr: np.ndarray, seed: int) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    truth = _truth(fmr, fnmr)
    hits = dict.fromkeys(truth, 0)
    sizes_fm, sizes_fnm = np.full(4, float(IMPOSTORS)), np.full(4, float(GENUINES))
    for r in range(REPLICATES):
        x, y = rng.binomial(IMPOSTORS, fmr).astype(float), rng.binomial(GENUINES, fnmr).astype(float)
        fm = Observed(x / IMPOSTORS, sizes_fm, jeffreys_draws(x, sizes_fm, 2 * r))
        fnm = Observed(y / GENUINES, sizes_fnm, jeffreys_draws(y, sizes_fnm, 2 * r + 1))
        for name, (_, low, high) in summaries(fm).items():
            hits[name] += int(low is not None and high is not None and low <= truth[name] <= high)
        low_fdr, high_fdr = fdr_interval(fm, fnm, 0.5)
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
    low, high = stats.binom.interval(0.99, REPLICATES, 0.95)
    hits = _coverage(np.asarray(fmr), np.asarray(fnmr), seed)
    assert all(low <= count <= high for count in hits.values()), (hits, low, high)


def test_equal_rates_compatible_is_pearsons_chi_square_test() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        sizes = rng.integers(200, 5000, 4).astype(float)
        errors = rng.binomial(sizes.astype(int), 0.05 * rng.uniform(0.8, 1.25, 4)).astype(float)
        table = np.c_[errors, sizes - errors]
        p_value = stats.chi2_contingency(table, correction=False).pvalue
        observed = Observed(errors / sizes, sizes, np.zeros((1, 4)))
        assert equal_rates_compatible(observed) == (p_value >= 0.05)


def test_max_min_low_end_is_the_inverted_score_test_for_two_groups() -> None:
    """Two groups: the smallest ratio R for which some rates (r, R r) have score statistic at most the
    chi-square 95% quantile on 1 degree of freedom, found by scipy's scalar minimiser and root finder."""
    errors, sizes = np.array([150.0, 230.0]), np.array([10_000.0, 9_000.0])
    cutoff = stats.chi2.ppf(0.95, 1)

    def smallest_statistic(ratio: float) -> float:
        def statistic(log_rate: float) -> float:
            rate = np.exp(log_rate)
            return float(score_statistic(errors, sizes, np.array([rate, ratio * rate])))

        bounds = (np.log(1e-4), np.log(0.5))
        found = optimize.minimize_scalar(statistic, bounds=bounds, method="bounded", options={"xatol": 1e-12})
        return float(found.fun)

    observed_ratio = (230 / 9_000) / (150 / 10_000)
    expected = optimize.brentq(lambda r: smallest_statistic(r) - cutoff, 1 + 1e-9, observed_ratio, xtol=1e-14)
    observed = Observed(errors / sizes, sizes, jeffreys_draws(errors, sizes, 0))
    band = closest_band(observed)
    assert band.max() / band.min() == pytest.approx(expected, rel=1e-5)
    assert summaries(observed)["max_min_ratio"][1] == pytest.approx(expected, rel=1e-5)
    # equal rates in both groups cannot be rejected: the low end is 1 exactly
    close = Observed(np.array([0.015, 0.016]), sizes, jeffreys_draws(np.array([150.0, 144.0]), sizes, 0))
    assert summaries(close)["max_min_ratio"][1] == 1.0 and summaries(close)["gini"][1] == 0.0


def test_equal_rates_read_exactly_equal_and_inside_their_intervals() -> None:
    """exp(mean log r) can round above r: max/geomean of equal rates is still 1, not 0.9999999999999999."""
    sizes = np.full(4, 2_000.0)
    for rate in (0.0661, 0.0725, 0.1, 1 / 3):
        observed = Observed(np.full(4, rate), sizes, jeffreys_draws(np.full(4, rate) * sizes, sizes, 1))
        found = summaries(observed)
        for name, equal in (("max_min_ratio", 1.0), ("max_geomean_ratio", 1.0), ("gini", 0.0)):
            value, low, high = found[name]
            assert value == equal and low == equal and high is not None and high > equal
