"""The normal quantile: the 95% level's written-out value is the standard library's, bit for bit, and
scipy's to two floats; other levels are computed; the statistics module loads only for them."""

from __future__ import annotations

import math
import subprocess
import sys
from statistics import NormalDist

import pytest
from scipy.stats import norm

from misflag.stats import normal_quantile


def test_the_95_level_is_the_standard_librarys_quantile_exactly() -> None:
    # the same float as the standard library's (1.9599639845400536), not merely close
    assert normal_quantile(0.95) == NormalDist().inv_cdf(1 - (1 - 0.95) / 2)
    # scipy's (1.959963984540054) is two floats up: they differ in the last bits only
    assert 0 < norm.ppf(0.975) - normal_quantile(0.95) <= 2 * math.ulp(1.96)


@pytest.mark.parametrize("level", [0.5, 0.8, 0.9, 0.99, 0.999])
def test_other_levels_are_computed(level: float) -> None:
    assert normal_quantile(level) == NormalDist().inv_cdf(1 - (1 - level) / 2)
    assert normal_quantile(level) == pytest.approx(norm.ppf(1 - (1 - level) / 2), rel=1e-12, abs=0)


@pytest.mark.parametrize("level", [0.0, 1.0, -0.5, 1.5])
def test_a_level_outside_0_1_is_refused(level: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        normal_quantile(level)


def test_the_95_level_loads_no_statistics_module() -> None:
    """The audits' level needs no import (statistics brings fractions and decimal); another level does."""
    probe = (
        "import sys; from misflag.stats import normal_quantile; normal_quantile(0.95); "
        "print('statistics' in sys.modules, end=' '); normal_quantile(0.9); print('statistics' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]
