"""Interval machinery against independent references (scipy, statsmodels-style formulas by hand)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from misflag.stats import (
    bootstrap_counts,
    newcombe_difference_interval,
    percentile_interval,
    ratio_interval,
    safe_divide,
    wilson_interval,
)


def test_wilson_interval_matches_the_textbook_value() -> None:
    # Agresti & Coull (1998) style check: 8 successes of 20 -> Wilson 95% interval (0.2188, 0.6134)
    low, high = wilson_interval(8, 20)
    assert (round(low, 4), round(high, 4)) == (0.2188, 0.6134)


def test_multinomial_bootstrap_matches_row_resampling_moments() -> None:
    counts = np.array([50, 30, 20])
    draws = bootstrap_counts(counts, 20000, seed=1)
    assert (draws.sum(axis=1) == 100).all()
    share = counts / 100
    assert draws.mean(axis=0) == pytest.approx(100 * share, rel=0.01)
    assert draws.var(axis=0) == pytest.approx(100 * share * (1 - share), rel=0.05)


def test_percentile_interval_ignores_undefined_replicates() -> None:
    samples = np.column_stack([np.linspace(0, 1, 1001), np.full(1001, np.nan)])
    low, high = percentile_interval(samples)
    assert low[0] == pytest.approx(0.025) and high[0] == pytest.approx(0.975)
    assert np.isnan(low[1]) and np.isnan(high[1])


def test_safe_divide() -> None:
    assert np.isnan(safe_divide(np.array([1.0]), np.array([0.0]))[0])
    assert safe_divide(np.array([1.0]), np.array([4.0]))[0] == 0.25


def test_percentile_interval_equals_numpy_nanpercentile() -> None:
    rng = np.random.default_rng(0)
    samples = rng.random((1000, 40))
    samples[rng.random(samples.shape) < 0.1] = np.nan
    samples[:, 3] = np.nan
    low, high = percentile_interval(samples)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected_low = np.nanpercentile(samples, 2.5, axis=0)
        expected_high = np.nanpercentile(samples, 97.5, axis=0)
    assert np.allclose(low, expected_low, equal_nan=True) and np.allclose(high, expected_high, equal_nan=True)


# Newcombe (1998) Table II, method 10 (hybrid score), as published.
NEWCOMBE_1998 = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
]


@pytest.mark.parametrize(("counts", "published"), NEWCOMBE_1998)
def test_newcombe_difference_interval_reproduces_the_paper(
    counts: tuple[int, int, int, int], published: tuple[float, float]
) -> None:
    low, high = newcombe_difference_interval(*counts)
    assert (round(low, 4), round(high, 4)) == published


def test_newcombe_difference_interval_agrees_with_statsmodels() -> None:
    proportion = pytest.importorskip("statsmodels.stats.proportion")
    rng = np.random.default_rng(3)
    for _ in range(200):
        n1, n2 = rng.integers(1, 200, size=2)
        x1, x2 = rng.integers(0, n1 + 1), rng.integers(0, n2 + 1)
        expected = proportion.confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff")
        assert newcombe_difference_interval(x1, n1, x2, n2) == pytest.approx(expected, abs=1e-12)


def test_wilson_interval_agrees_with_statsmodels_at_every_count() -> None:
    proportion = pytest.importorskip("statsmodels.stats.proportion")
    for n in (1, 2, 7, 30, 151):
        for x in range(n + 1):
            expected = proportion.proportion_confint(x, n, alpha=0.05, method="wilson")
            assert wilson_interval(x, n) == pytest.approx(expected, abs=1e-12)


def _mover_r_by_root_finding(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """A second implementation of MOVER-R: the ratios theta at which the MOVER-D interval of p1 - theta p2
    (Wilson limits, statsmodels) just reaches 0, found by bisection on the definition, not the quadratic."""
    proportion = pytest.importorskip("statsmodels.stats.proportion")
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = proportion.proportion_confint(x1, n1, method="wilson")
    l2, u2 = proportion.proportion_confint(x2, n2, method="wilson")

    def lower_gap(theta: float) -> float:  # lower MOVER-D limit of p1 - theta p2
        return p1 - theta * p2 - np.sqrt((p1 - l1) ** 2 + (theta * u2 - theta * p2) ** 2)

    def upper_gap(theta: float) -> float:  # upper MOVER-D limit of p1 - theta p2
        return p1 - theta * p2 + np.sqrt((u1 - p1) ** 2 + (theta * p2 - theta * l2) ** 2)

    from scipy.optimize import brentq

    ratio = p1 / p2
    low = 0.0 if x1 == 0 else brentq(lower_gap, 0.0, ratio)
    high = brentq(upper_gap, ratio, 1e9)
    return low, high


@pytest.mark.parametrize(
    "counts", [(1, 20, 1, 20), (0, 20, 3, 20), (12, 40, 5, 90), (30, 30, 2, 11), (7, 9, 9, 9)]
)
def test_ratio_interval_agrees_with_a_root_finding_implementation(counts: tuple[int, int, int, int]) -> None:
    assert ratio_interval(*counts) == pytest.approx(_mover_r_by_root_finding(*counts), rel=1e-7)


def test_ratio_interval_is_defined_when_either_side_is_zero() -> None:
    low, high = ratio_interval(3, 20, 0, 20)
    assert 0 < low < 1 and high == math.inf
    low, high = ratio_interval(0, 20, 3, 20)
    assert low == 0 and 0 < high < math.inf
    assert ratio_interval(0, 10, 0, 10) == (0.0, math.inf)
    assert all(math.isnan(v) for v in ratio_interval(1, 0, 1, 10))


@given(
    st.integers(1, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.integers(1, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
)
@settings(max_examples=400, deadline=None)
def test_no_interval_is_zero_width(first: tuple[int, int], second: tuple[int, int]) -> None:
    (x1, n1), (x2, n2) = first, second
    for low, high, value in (
        (*wilson_interval(x1, n1), x1 / n1),
        (*newcombe_difference_interval(x1, n1, x2, n2), x1 / n1 - x2 / n2),
        (*ratio_interval(x1, n1, x2, n2), (x1 / n1) / (x2 / n2) if x2 else math.inf),
    ):
        assert high > low
        assert not (math.isnan(low) or math.isnan(high))
        if math.isfinite(value):
            assert low <= value + 1e-12 and value - 1e-12 <= high
