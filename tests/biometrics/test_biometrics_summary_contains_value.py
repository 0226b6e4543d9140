"""A summary's interval holds its own estimate. Jeffreys draws never reach a rate of 0 or 1, so where
the observed rates sit there (one group with every error, or a group with none against one with all),
the draws' percentile end fell short of the estimate: Gini 1 published with an interval ending at 0.99,
FDR 0 with one starting at 0.0002. Estimates here are worked out by hand from the definitions.
"""

from __future__ import annotations

import numpy as np

from misflag.biometrics._measures import Observed, fdr_interval, jeffreys_draws, summaries


def _observed(errors: list[float], sizes: list[float]) -> Observed:
    x, n = np.asarray(errors), np.asarray(sizes)
    return Observed(x / n, n, jeffreys_draws(x, n, 0))


def test_gini_of_one_group_with_every_error_is_inside_its_interval() -> None:
    # rates (0, 0.025, 0): sum_ij |r_i - r_j| = 4 * 0.025 = 0.1; 2 k^2 mean = 18 * 0.025 / 3 = 0.15;
    # Gini = 0.1 / 0.15 * 3 / 2 = 1 exactly.
    value, low, high = summaries(_observed([0, 5, 0], [100, 200, 300]))["gini"]
    assert value == 1.0
    assert low is not None and high is not None and low <= 1.0 <= high


def test_fdr_of_rates_zero_and_one_is_inside_its_interval() -> None:
    # FMR and FNMR both (0, 1): gaps 1 and 1, FDR = 1 - (0.5 * 1 + 0.5 * 1) = 0.
    rates = _observed([0, 100], [100, 100])
    low, high = fdr_interval(rates, rates, 0.5)
    assert low <= 0.0 <= high
