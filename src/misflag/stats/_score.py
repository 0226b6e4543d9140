"""Score-type intervals for proportions and for the difference and ratio of two proportions.

Why these methods:

* one proportion: the Wilson score interval. It is never zero-width for n >= 1 (at 0 successes it
  is [0, z^2 / (n + z^2)]), its coverage stays close to nominal down to small n (Brown, Cai &
  DasGupta 2001), and unlike Clopper-Pearson it is not systematically conservative, so a gap
  between groups is not hidden. It also accepts a non-integer effective sample size, which is how
  weighted (audit-sample) and clustered estimates use it.
* a difference p1 - p2: Newcombe's hybrid score interval (Newcombe 1998, method 10), i.e. the
  MOVER-D combination of the two Wilson intervals.
* a ratio p1 / p2: MOVER-R (Donner & Zou 2012; Newcombe 2013, ch. 7 and 10) with Wilson limits,
  the closed-form interval whose limits are where the MOVER-D interval of p1 - theta * p2 reaches 0.
  It is defined when either side is 0: with p1 = 0 the lower limit is 0, with p2 = 0 the upper
  limit is +inf (the data cannot bound the ratio from above), never NaN.

MOVER combines any valid intervals for the two sides, so the same two functions serve design-based
(effective-n) limits of weighted audits: see `mover_difference` and `mover_ratio`.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from misflag.stats._bootstrap import CONFIDENCE

ArrayPair = tuple[np.ndarray, np.ndarray]


#: NormalDist().inv_cdf(1 - 0.05 / 2), the 95% level's quantile every audit uses, written out: the statistics
#: module (with fractions and decimal) is then imported only for another level, not beside every scan.
#: tests/stats/test_stats_normal_quantile.py checks it against NormalDist and scipy.
Z95 = 1.9599639845400536


@lru_cache(maxsize=16)
def normal_quantile(level: float) -> float:
    """Two-sided standard normal quantile for a confidence level (1.9599639845400536 at 95%)."""
    if not 0 < level < 1:
        raise ValueError(f"confidence level must be between 0 and 1, got {level}")
    if level == CONFIDENCE:
        return Z95
    from statistics import NormalDist  # the standard library: no scipy.stats at start-up

    return NormalDist().inv_cdf(1 - (1 - level) / 2)


def wilson_limits(successes: np.ndarray, trials: np.ndarray, level: float = CONFIDENCE) -> ArrayPair:
    """Vectorised Wilson score limits; NaN where trials <= 0. Trials may be a non-integer effective n."""
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z2 = normal_quantile(level) ** 2
    valid = n > 0
    safe_n = np.where(valid, n, 1.0)
    p = np.clip(x / safe_n, 0.0, 1.0)
    scale = 1 + z2 / safe_n
    centre = (p + z2 / (2 * safe_n)) / scale
    half = np.sqrt(z2 * p * (1 - p) / safe_n + z2 * z2 / (4 * safe_n * safe_n)) / scale
    low = np.where(p <= 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(p >= 1, 1.0, np.clip(centre + half, 0.0, 1.0))
    return np.where(valid, low, np.nan), np.where(valid, high, np.nan)


def wilson_interval(successes: float, trials: float, level: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval for one binomial proportion; (nan, nan) when there are no trials."""
    low, high = wilson_limits(np.asarray([successes]), np.asarray([trials]), level)
    return float(low[0]), float(high[0])


def mover_difference(
    p1: np.ndarray, low1: np.ndarray, high1: np.ndarray, p2: np.ndarray, low2: np.ndarray, high2: np.ndarray
) -> ArrayPair:
    """MOVER-D limits for p1 - p2 from any interval of each side (Zou & Donner 2008), clipped to [-1, 1]."""
    d = p1 - p2
    low = d - np.sqrt((p1 - low1) ** 2 + (high2 - p2) ** 2)
    high = d + np.sqrt((high1 - p1) ** 2 + (p2 - low2) ** 2)
    return np.clip(low, -1.0, 1.0), np.clip(high, -1.0, 1.0)


def mover_ratio(
    p1: np.ndarray, low1: np.ndarray, high1: np.ndarray, p2: np.ndarray, low2: np.ndarray, high2: np.ndarray
) -> ArrayPair:
    """MOVER-R limits for p1 / p2 from any interval of each side (Donner & Zou 2012).

    The limits are the roots of theta^2 u(2 p2 - u) - 2 theta p1 p2 + l(2 p1 - l) = 0 (lower: l = low1,
    u = high2; upper: l = high1, u = low2). The discriminant is never negative (l(2p - l) <= p^2). The
    upper limit is +inf when p2's lower limit is 0; the lower limit is 0 when p1's lower limit is 0.
    """
    p1, low1, high1, p2, low2, high2 = (
        np.asarray(a, dtype=float) for a in (p1, low1, high1, p2, low2, high2)
    )
    product = p1 * p2
    with np.errstate(divide="ignore", invalid="ignore"):
        root_low = np.sqrt(np.maximum(product**2 - low1 * high2 * (2 * p1 - low1) * (2 * p2 - high2), 0.0))
        low_denominator = high2 * (2 * p2 - high2)
        low = np.where(low1 <= 0, 0.0, (product - root_low) / low_denominator)
        root_high = np.sqrt(np.maximum(product**2 - high1 * low2 * (2 * p1 - high1) * (2 * p2 - low2), 0.0))
        high_denominator = low2 * (2 * p2 - low2)
        high = np.where(low2 <= 0, np.inf, (product + root_high) / high_denominator)
    undefined = np.isnan(p1) | np.isnan(p2) | np.isnan(low1) | np.isnan(high2) | np.isnan(high1)
    return np.where(undefined, np.nan, np.maximum(low, 0.0)), np.where(
        undefined | np.isnan(low2), np.nan, high
    )


def difference_limits(
    x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray, level: float = CONFIDENCE
) -> ArrayPair:
    """Vectorised Newcombe hybrid score limits for p1 - p2 (NaN where either side has no trials)."""
    p1, p2 = _proportion(x1, n1), _proportion(x2, n2)
    return mover_difference(p1, *wilson_limits(x1, n1, level), p2, *wilson_limits(x2, n2, level))


def ratio_limits(
    x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray, level: float = CONFIDENCE
) -> ArrayPair:
    """Vectorised MOVER-R (Wilson) limits for p1 / p2 (NaN where either side has no trials)."""
    p1, p2 = _proportion(x1, n1), _proportion(x2, n2)
    return mover_ratio(p1, *wilson_limits(x1, n1, level), p2, *wilson_limits(x2, n2, level))


def newcombe_difference_interval(
    x1: float, n1: float, x2: float, n2: float, level: float = CONFIDENCE
) -> tuple[float, float]:
    """Newcombe's hybrid score interval for p1 - p2 = x1/n1 - x2/n2; (nan, nan) if a side has no trials."""
    low, high = difference_limits(_one(x1), _one(n1), _one(x2), _one(n2), level=level)
    return float(low[0]), float(high[0])


def ratio_interval(
    x1: float, n1: float, x2: float, n2: float, level: float = CONFIDENCE
) -> tuple[float, float]:
    """MOVER-R (Wilson) interval for p1 / p2 = (x1/n1) / (x2/n2); the upper limit is math.inf when x2 = 0."""
    low, high = ratio_limits(_one(x1), _one(n1), _one(x2), _one(n2), level=level)
    return float(low[0]), (math.inf if np.isposinf(high[0]) else float(high[0]))


def _one(value: float) -> np.ndarray:
    return np.asarray([value], dtype=float)


def _proportion(successes: np.ndarray, trials: np.ndarray) -> np.ndarray:
    x, n = np.asarray(successes, dtype=float), np.asarray(trials, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, np.clip(x / np.where(n > 0, n, 1.0), 0.0, 1.0), np.nan)
