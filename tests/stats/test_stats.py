"""Interval machinery against independent references (scipy, statsmodels-style formulas by hand)."""

from __future__ import annotations

import numpy as np
import pytest

from misflag.stats import bootstrap_counts, percentile_interval, safe_divide, wilson_interval


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
