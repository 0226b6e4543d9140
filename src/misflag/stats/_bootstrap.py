"""The multinomial bootstrap over count cells and its percentile interval.

Resampling rows with replacement gives each distinct cell (group x decision x truth x weight) a
multinomial count; drawing those counts directly has the same distribution at a cost that does not
grow with the number of rows.
"""

from __future__ import annotations

import numpy as np

CONFIDENCE = 0.95


def bootstrap_counts(counts: np.ndarray, replicates: int, seed: int) -> np.ndarray:
    """Multinomial resamples of a cell-count vector: shape (replicates, cells), each row sums to the total."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros((replicates, counts.size), dtype=np.int64)
    generator = np.random.default_rng(seed)
    return generator.multinomial(total, counts / total, size=replicates)


def percentile_interval(samples: np.ndarray, level: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval per column, ignoring replicates where the statistic is undefined.

    Same as numpy's nanpercentile with linear interpolation, vectorised over columns (sorting puts NaN last).
    """
    values = np.sort(np.where(np.isfinite(samples), samples, np.nan), axis=0)
    valid = np.sum(~np.isnan(values), axis=0)
    tail = (1 - level) / 2
    return _quantile(values, valid, tail), _quantile(values, valid, 1 - tail)


def _quantile(ordered: np.ndarray, valid: np.ndarray, q: float) -> np.ndarray:
    position = q * np.maximum(valid - 1, 0)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, np.maximum(valid - 1, 0))
    columns = np.arange(ordered.shape[1])
    fraction = position - below
    with np.errstate(invalid="ignore"):
        result = ordered[below, columns] * (1 - fraction) + ordered[above, columns] * fraction
    return np.where(valid > 0, result, np.nan)
