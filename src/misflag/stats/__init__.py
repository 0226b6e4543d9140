"""Shared interval code for every audit: score intervals, MOVER comparisons, design-based n, bootstrap.

`wilson_interval`, `newcombe_difference_interval` and `ratio_interval` are the scalar forms; the
`*_limits` functions are their vectorised forms; `mover_*` combine any two valid intervals.
"""

from __future__ import annotations

import numpy as np

from misflag.stats._bootstrap import CONFIDENCE, bootstrap_counts, percentile_interval
from misflag.stats._score import (
    difference_limits,
    mover_difference,
    mover_ratio,
    newcombe_difference_interval,
    normal_quantile,
    ratio_interval,
    ratio_limits,
    wilson_interval,
    wilson_limits,
)


def safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator with NaN where the denominator is zero."""
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator != 0, numerator / np.where(denominator == 0, 1, denominator), np.nan)


__all__ = [
    "CONFIDENCE",
    "bootstrap_counts",
    "difference_limits",
    "mover_difference",
    "mover_ratio",
    "newcombe_difference_interval",
    "normal_quantile",
    "percentile_interval",
    "ratio_interval",
    "ratio_limits",
    "safe_divide",
    "wilson_interval",
    "wilson_limits",
]
