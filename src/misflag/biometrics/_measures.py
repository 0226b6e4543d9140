"""One-number summaries of how unequal error rates are across groups, with intervals.

Definitions (r_1..r_k the groups' rates at one threshold):
  max/min ratio       max r / min r (undefined when a group's rate is 0)
  max/geomean ratio   max r / (r_1 ... r_k)^(1/k) (NIST FRVT Part 8's leading measure; undefined at a 0 rate)
  Gini                k / (k - 1) * sum_i sum_j |r_i - r_j| / (2 k^2 mean r): 0 equal, 1 all in one group
  FDR                 1 - (alpha A + (1 - alpha) B), A and B the largest gaps in FMR and FNMR between
                      groups (de Freitas Pereira & Marcel, arXiv 2011.02395): 1 is perfectly fair
Intervals: 2.5th and 97.5th percentiles over draws of every group's rate from its Jeffreys distribution
Beta(x + 1/2, n - x + 1/2) at the (effective) counts, which stays defined where a rate is 0, widened
towards equality by projecting a simultaneous box: each group's central interval at level 1 - 0.05/k
(Bonferroni over the k groups, from the draws) holds every true rate with probability >= 95%, and the
low end of max/min, max/geomean and Gini is lowered to their smallest value over the box's most equal
rates (each rate clipped to its interval around a common value; exact for max/min), the high end of FDR
raised to 1 - alpha A - (1 - alpha) B over the box's smallest gaps. At or near equality the draws of
noisy rates never reach that edge of a measure's range, and percentiles alone miss the truth there.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

DRAWS = 4000
CONFIDENCE = 0.95
Measure = Callable[[np.ndarray], np.ndarray]


def _max_min(rates: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return rates.max(axis=-1) / rates.min(axis=-1)


def _max_geomean(rates: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return rates.max(axis=-1) / np.exp(np.log(rates).mean(axis=-1))


def _gini(rates: np.ndarray) -> np.ndarray:
    """sum_i sum_j |r_i - r_j| = 2 sum_i (2i - k - 1) r_(i) over the sorted rates, so no k x k table."""
    k = rates.shape[-1]
    weights = 2 * np.arange(1, k + 1) - k - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.sort(rates, axis=-1) * weights).sum(axis=-1) / ((k - 1) * rates.sum(axis=-1))


INEQUALITY: dict[str, Measure] = {
    "max_min_ratio": _max_min,
    "max_geomean_ratio": _max_geomean,
    "gini": _gini,
}


def jeffreys_draws(errors: np.ndarray, sizes: np.ndarray, seed: int) -> np.ndarray:
    """(DRAWS, groups) rates drawn from Beta(x + 1/2, n - x + 1/2)."""
    generator = np.random.default_rng(seed)
    return generator.beta(errors + 0.5, sizes - errors + 0.5, size=(DRAWS, errors.size))


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def simultaneous_box(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each group's central interval at level 1 - 0.05/k from (DRAWS, k) draws: together they hold
    every group's rate with probability >= 95% (Bonferroni)."""
    tail = 100 * (1 - CONFIDENCE) / (2 * draws.shape[1])
    return np.percentile(draws, tail, axis=0), np.percentile(draws, 100 - tail, axis=0)


def most_equal(name: str, low: np.ndarray, high: np.ndarray) -> float:
    """The smallest value of measure `name` over rates clip(m, low, high) for common values m."""
    common = np.linspace(low.min(), high.max(), 400)
    rates = np.clip(common[:, None], low[None, :], high[None, :])
    values = INEQUALITY[name](rates)
    return float(np.nanmin(values)) if np.isfinite(values).any() else float("inf")


def summarise(
    name: str, rates: np.ndarray, draws: np.ndarray
) -> tuple[float | None, float | None, float | None]:
    """(value, low, high) of measure INEQUALITY[name] (see the module docstring); None where undefined."""
    measure = INEQUALITY[name]
    value = measure(rates[None, :])[0]
    spread = measure(draws)
    spread = spread[np.isfinite(spread)]
    if spread.size < 0.99 * draws.shape[0]:
        return _finite(value), None, None
    low, high = np.percentile(spread, [2.5, 97.5])
    low = min(low, most_equal(name, *simultaneous_box(draws)))
    return _finite(value), float(low), float(high)


def fdr_interval(
    false_matches: np.ndarray, false_non_matches: np.ndarray, alpha: float
) -> tuple[float, float]:
    """FDR's interval from (DRAWS, k) draws of FMR and FNMR (see the module docstring)."""
    low, high = np.percentile(fairness_discrepancy(false_matches, false_non_matches, alpha), [2.5, 97.5])
    gaps = []
    for draws in (false_matches, false_non_matches):
        box_low, box_high = simultaneous_box(draws)
        gaps.append(max(0.0, float(box_low.max() - box_high.min())))
    return float(low), float(max(high, 1 - alpha * gaps[0] - (1 - alpha) * gaps[1]))


def fairness_discrepancy(
    false_matches: np.ndarray, false_non_matches: np.ndarray, alpha: float
) -> np.ndarray:
    """FDR from (..., groups) arrays of FMR and FNMR."""
    gap_fm = false_matches.max(axis=-1) - false_matches.min(axis=-1)
    gap_fnm = false_non_matches.max(axis=-1) - false_non_matches.min(axis=-1)
    return 1 - (alpha * gap_fm + (1 - alpha) * gap_fnm)
