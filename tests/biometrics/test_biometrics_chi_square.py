"""The chi-square 95% quantiles the summaries read from misflag.biometrics._measures.CHI_SQUARE_95 are
scipy's own to the last bit, beyond the table they still come from scipy, and the summaries and FDR
intervals are the same numbers with the table as with scipy alone (issue 26: no scipy import per audit)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import chdtri
from scipy.stats import chi2

from misflag.biometrics import _measures
from misflag.biometrics._measures import (
    CHI_SQUARE_95,
    CONFIDENCE,
    Observed,
    chi_square_cutoff,
    fdr_interval,
    jeffreys_draws,
    summaries,
)


def test_every_tabled_quantile_is_scipys_to_the_bit() -> None:
    df = np.arange(1, CHI_SQUARE_95.size + 1)
    assert CHI_SQUARE_95.size == 100
    assert CHI_SQUARE_95.tolist() == [float(chdtri(d, 1 - CONFIDENCE)) for d in df]
    # a second route to the same quantile: scipy.stats' distribution, to rounding
    assert pytest.approx(chi2.ppf(CONFIDENCE, df), rel=1e-12) == CHI_SQUARE_95
    assert CHI_SQUARE_95[0] == pytest.approx(1.959963984540054**2, rel=1e-12)  # z_0.975 squared


def test_cutoffs_inside_and_beyond_the_table_are_scipys() -> None:
    df = np.array([[0, 1, 7], [100, 101, 250]])  # 0 counts as 1; 101 and 250 are past the table
    expected = np.asarray(chdtri(np.maximum(df, 1), 1 - CONFIDENCE))
    assert chi_square_cutoff(df).shape == (2, 3)
    assert chi_square_cutoff(df).tolist() == expected.tolist()
    assert chi_square_cutoff(np.array([3, 3, 9])).tolist() == CHI_SQUARE_95[[2, 2, 8]].tolist()
    assert chi_square_cutoff(4).tolist() == float(chdtri(4, 1 - CONFIDENCE))
    assert chi_square_cutoff(np.array([2.5])).tolist() == [float(chdtri(2.5, 1 - CONFIDENCE))]


def _observed(errors: list[float], sizes: list[float], seed: int) -> Observed:
    x, n = np.asarray(errors), np.asarray(sizes)
    return Observed(x / n, n, jeffreys_draws(x, n, seed))


@pytest.mark.parametrize(
    "errors",
    [
        [30.0, 31.0, 29.0, 30.0],  # equal rates: the chi-square test does not reject
        [10.0, 40.0, 25.0, 90.0],  # unequal: the narrowest compatible band is searched
        [0.0, 12.0, 5.0, 3.0, 7.0, 1.0],  # a rate of 0
    ],
)
def test_summaries_are_the_same_with_the_table_as_with_scipy_alone(
    errors: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = [1000.0 + 137 * i for i in range(len(errors))]
    false_matches, false_non_matches = _observed(errors, sizes, 1), _observed(errors[::-1], sizes, 2)
    tabled = (summaries(false_matches), fdr_interval(false_matches, false_non_matches, 0.5))
    monkeypatch.setattr(_measures, "CHI_SQUARE_95", np.zeros(0))  # every cutoff from scipy.special
    assert (summaries(false_matches), fdr_interval(false_matches, false_non_matches, 0.5)) == tabled
