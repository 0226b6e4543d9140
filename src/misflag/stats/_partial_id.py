"""Confidence intervals for a partially identified rate: Imbens & Manski (2004) with Wilson limits.

A rate that is only bounded (some truths unknown) has an identified set [L, U]; each end is itself a
proportion of counts (the rate with every unknown truth set at one extreme). Imbens & Manski's interval
covers the true rate, not the whole set, with 95% probability: L - c sigma_L, U + c sigma_U, where c
solves Phi(c + width / sigma_max) - Phi(-c) = 0.95. c is 1.96 when the set is a point and falls to 1.645
as it widens (only one end can then be crossed). Here each end's limit is the Wilson score limit at that
c instead of the Wald one, so a limit never leaves [0, 1] and a point-identified rate gets exactly the
ordinary 95% Wilson interval.
"""

from __future__ import annotations

import numpy as np

from misflag.stats._score import wilson_limits

LEVEL = 0.95


def imbens_manski_critical(width: np.ndarray, sigma: np.ndarray, level: float = LEVEL) -> np.ndarray:
    """c solving Phi(c + width / sigma) - Phi(-c) = level; elementwise, in [one-sided, two-sided] quantile."""
    from scipy.optimize import elementwise
    from scipy.special import ndtr, ndtri

    width, sigma = np.broadcast_arrays(np.asarray(width, dtype=float), np.asarray(sigma, dtype=float))
    two_sided, one_sided = float(ndtri(1 - (1 - level) / 2)), float(ndtri(level))
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.where(
            sigma > 0, width / np.where(sigma > 0, sigma, 1.0), np.where(width > 0, np.inf, 0.0)
        )
    finite = np.isfinite(spread) & (spread > 0)
    critical = np.where(spread == 0, two_sided, one_sided)
    if finite.any():
        found = elementwise.find_root(
            lambda c, k: ndtr(c + k) - ndtr(-c) - level,
            (np.full(int(finite.sum()), one_sided - 1e-9), np.full(int(finite.sum()), two_sided + 1e-9)),
            args=(spread[finite],),
        )
        critical = critical.copy()
        critical[finite] = found.x
    return critical


def bounded_rate_limits(
    low_successes: np.ndarray,
    low_trials: np.ndarray,
    high_successes: np.ndarray,
    high_trials: np.ndarray,
    level: float = LEVEL,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per element: (critical c, lower end's Wilson limits, upper end's Wilson limits) at critical value c.

    Returns (c, low_end_low, low_end_high, high_end_low, high_end_high); the interval for the rate is
    [low_end_low, high_end_high]; the other two limits feed MOVER comparisons. NaN where a trial count
    is 0 (that end is undefined). The Wilson limits depend on z and n only through z^2 / n, so the limits
    at z = c are `wilson_limits` at 95% on n scaled by (1.96 / c)^2: one vectorised call for every c.
    """
    from scipy.special import ndtri

    arrays = [np.asarray(a, dtype=float) for a in (low_successes, low_trials, high_successes, high_trials)]
    low_successes, low_trials, high_successes, high_trials = np.broadcast_arrays(*arrays)
    with np.errstate(divide="ignore", invalid="ignore"):
        low_rate = low_successes / low_trials
        high_rate = high_successes / high_trials
        sigma = np.fmax(
            np.sqrt(low_rate * (1 - low_rate) / low_trials),
            np.sqrt(high_rate * (1 - high_rate) / high_trials),
        )
    width = np.nan_to_num(np.maximum(high_rate - low_rate, 0.0))
    critical = imbens_manski_critical(width, np.nan_to_num(sigma), level)
    scale = (float(ndtri(1 - (1 - level) / 2)) / critical) ** 2
    low_end = wilson_limits(low_successes * scale, low_trials * scale, level)
    high_end = wilson_limits(high_successes * scale, high_trials * scale, level)
    return critical, low_end[0], low_end[1], high_end[0], high_end[1]
