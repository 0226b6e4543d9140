"""Imbens & Manski (2004) intervals with Wilson limits (misflag.stats._partial_id), against scipy's brentq
for the critical value and statsmodels' Wilson interval for the limits."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm
from statsmodels.stats.proportion import proportion_confint

from misflag.stats._partial_id import bounded_rate_limits, imbens_manski_critical


@pytest.mark.parametrize("spread", [0.01, 0.3, 1.0, 2.5, 6.0])
def test_critical_value_solves_the_imbens_manski_equation(spread: float) -> None:
    expected = brentq(lambda c: norm.cdf(c + spread) - norm.cdf(-c) - 0.95, 0.0, 5.0)
    assert imbens_manski_critical(np.array([spread]), np.array([1.0]))[0] == pytest.approx(expected, abs=1e-6)


def test_critical_value_runs_from_two_sided_to_one_sided() -> None:
    widths = np.array([0.0, 0.001, 0.01, 0.05, 1.0])
    critical = imbens_manski_critical(widths, np.full(widths.size, 0.01))
    assert critical[0] == pytest.approx(norm.ppf(0.975)) and critical[-1] == pytest.approx(norm.ppf(0.95))
    assert np.all(np.diff(critical) <= 1e-12)  # a wider set never needs a larger c


def test_limits_are_wilson_at_the_critical_value() -> None:
    c, low_low, _, _, high_high = bounded_rate_limits(
        np.array([12]), np.array([80]), np.array([30]), np.array([90])
    )
    alpha = 2 * (1 - norm.cdf(c[0]))
    assert low_low[0] == pytest.approx(proportion_confint(12, 80, alpha=alpha, method="wilson")[0])
    assert high_high[0] == pytest.approx(proportion_confint(30, 90, alpha=alpha, method="wilson")[1])


def test_a_point_gets_the_ordinary_wilson_interval() -> None:
    c, low, _, _, high = bounded_rate_limits(np.array([7]), np.array([40]), np.array([7]), np.array([40]))
    assert c[0] == pytest.approx(norm.ppf(0.975))
    expected = proportion_confint(7, 40, alpha=0.05, method="wilson")
    assert (low[0], high[0]) == (pytest.approx(expected[0]), pytest.approx(expected[1]))
