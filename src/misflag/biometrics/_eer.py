"""The EER's interval with its threshold re-estimated: a bootstrap of the score histograms.

The EER is read at a threshold found from the same scores, so an interval that takes that threshold as
fixed (the Wilson limits of FMR and FNMR there) is too narrow. Here each group's impostor and genuine
histograms are redrawn (multinomially, pairs taken as independent), the EER is found again on each
redraw at the bin edges (the FVC2000 rule on the edge grid), and the basic bootstrap interval
[2 e - q(97.5%), 2 e - q(2.5%)] of the edge-grid EER e is moved onto the exact EER.

Speed without approximation: a redraw's EER depends only on the rates at the two edges around its
crossing, and those are cumulative counts. So the bins far from the observed crossing are drawn merged
into one bin below and one above a window (merging categories of a multinomial gives the multinomial of
the merged probabilities), which makes ~20 categories of 2,000. A redraw whose crossing leaves the
window has its merged bins split again by a multinomial draw conditional on their totals, which is the
same law as drawing every bin at once: every redraw's EER keeps the full-grid distribution.
"""

from __future__ import annotations

import numpy as np

from misflag.stats._score import wilson_interval

DRAWS = 400
WIDENED_NOTE = (
    "every bootstrap draw gave this EER, so the interval is widened to the Wilson interval of the EER as a rate "
    "on the smaller of the impostor and genuine counts"
)
WINDOW_SE = 8.0  # edges whose FMR - FNMR is within this many standard errors of 0 are kept unmerged


def _edge_rates(impostors: np.ndarray, genuines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FMR and FNMR at every bin edge of (..., bins) histogram counts (bins + 1 edges)."""
    above = np.flip(np.cumsum(np.flip(impostors, -1), axis=-1), -1)  # impostors in bins >= b
    zero = np.zeros((*impostors.shape[:-1], 1))
    fmr = np.concatenate([above, zero], axis=-1) / impostors.sum(axis=-1, keepdims=True)
    fnmr = np.concatenate([zero, np.cumsum(genuines, axis=-1)], axis=-1) / genuines.sum(
        axis=-1, keepdims=True
    )
    return fmr, fnmr


def _crossing(impostors: np.ndarray, genuines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The edge-grid EER and the edge t2 where it is read, for (..., bins) histogram counts."""
    fmr, fnmr = _edge_rates(impostors, genuines)
    meets = fmr <= fnmr  # always true at the last edge (FMR 0)
    t2 = np.argmax(meets, axis=-1)[..., None]
    tied = np.take_along_axis(fmr, t2, -1) == np.take_along_axis(fnmr, t2, -1)
    t1 = np.where(tied | (t2 == 0), t2, t2 - 1)
    pick = np.where(np.take_along_axis(fmr + fnmr, t1, -1) <= np.take_along_axis(fmr + fnmr, t2, -1), t1, t2)
    eer = (np.take_along_axis(fmr, pick, -1) + np.take_along_axis(fnmr, pick, -1)) / 2
    return eer[..., 0], t2[..., 0]


def binned_eer(impostors: np.ndarray, genuines: np.ndarray) -> np.ndarray:
    """EER on the bin-edge grid for (..., bins) histogram counts: t2 the first edge with FMR <= FNMR,
    t1 the one before; the mean of FMR and FNMR at whichever has the smaller sum."""
    return _crossing(impostors, genuines)[0]


def _window(impostors: np.ndarray, genuines: np.ndarray) -> tuple[int, int]:
    """Bins [lo, hi) kept unmerged: every edge whose FMR - FNMR is within WINDOW_SE standard errors of 0,
    and the observed crossing's two edges."""
    fmr, fnmr = _edge_rates(impostors.astype(float), genuines.astype(float))
    n_i, n_g = impostors.sum(), genuines.sum()
    spread = np.sqrt(fmr * (1 - fmr) / n_i + fnmr * (1 - fnmr) / n_g) + 1 / n_i + 1 / n_g
    t2 = int(np.argmax(fmr <= fnmr))
    near = np.flatnonzero(np.abs(fmr - fnmr) <= WINDOW_SE * spread)
    first = min(int(near.min()) if near.size else t2, max(t2 - 1, 0))
    last = max(int(near.max()) if near.size else t2, t2)
    return max(first - 1, 0), min(last + 1, impostors.size)


def _merged(counts: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """counts with the bins below lo and from hi on each summed into one (absent where empty of bins)."""
    below = [counts[:lo].sum()] if lo > 0 else []
    beyond = [counts[hi:].sum()] if hi < counts.size else []
    return np.concatenate([below, counts[lo:hi], beyond])


def _split(
    merged: np.ndarray, counts: np.ndarray, lo: int, hi: int, generator: np.random.Generator
) -> np.ndarray:
    """Full-grid redraws from merged ones: each merged bin's total shared multinomially over its bins."""
    inner = merged[:, int(lo > 0) : int(lo > 0) + hi - lo]
    parts = []
    for total, bins in ((merged[:, 0], counts[:lo]), (inner, None), (merged[:, -1], counts[hi:])):
        if bins is None:
            parts.append(inner)
        elif bins.size:
            share = bins / bins.sum() if bins.sum() > 0 else np.full(bins.size, 1 / bins.size)
            parts.append(generator.multinomial(total.astype(np.int64), share))
    return np.concatenate(parts, axis=1).astype(float)


def bootstrap_eers(impostors: np.ndarray, genuines: np.ndarray, generator: np.random.Generator) -> np.ndarray:
    """DRAWS edge-grid EERs of multinomial redraws of the histograms (bins empty of both already dropped)."""
    lo, hi = _window(impostors, genuines)
    merged_i, merged_g = _merged(impostors, lo, hi), _merged(genuines, lo, hi)
    draws_i = generator.multinomial(int(impostors.sum()), merged_i / merged_i.sum(), size=DRAWS).astype(float)
    draws_g = generator.multinomial(int(genuines.sum()), merged_g / merged_g.sum(), size=DRAWS).astype(float)
    eers, t2 = _crossing(draws_i, draws_g)
    # the merged grid's edges as full-grid edges: a crossing read there is exact when t2 - 1 and t2 are
    # adjacent on the full grid (t2 = 0 is edge 0 on both)
    below, beyond = [0] if lo > 0 else [], [impostors.size] if hi < impostors.size else []
    full_edge = np.concatenate([below, np.arange(lo, hi + 1), beyond])
    redo = (t2 > 0) & (full_edge[t2] != full_edge[np.maximum(t2 - 1, 0)] + 1)
    if redo.any():
        split_i = _split(draws_i[redo], impostors, lo, hi, generator)
        split_g = _split(draws_g[redo], genuines, lo, hi, generator)
        eers[redo] = binned_eer(split_i, split_g)
    return eers


def eer_interval(
    value: float, impostors: np.ndarray, genuines: np.ndarray, seed: int
) -> tuple[float, float, bool]:
    """95% basic bootstrap limits of the EER `value` from one group's impostor and genuine histograms, and
    whether they were widened. Where the redraws' 2.5% and 97.5% points coincide (every impostor at the top
    score, a perfect separation: every redraw finds the same EER) the bootstrap has no spread to report, and
    no interval may be zero-width, so the limits become their hull with the Wilson interval of the EER read
    as a rate on the smaller of the two pair counts (the row's denominator)."""
    filled = (impostors + genuines) > 0  # bins empty of both change no edge's rates: drawing them is waste
    impostors, genuines = impostors[filled], genuines[filled]
    eers = bootstrap_eers(impostors, genuines, np.random.default_rng(seed))
    centre = float(binned_eer(impostors[None, :].astype(float), genuines[None, :].astype(float))[0])
    q_low, q_high = np.percentile(eers, [2.5, 97.5])
    low, high = max(value - (q_high - centre), 0.0), min(value + (centre - q_low), 1.0)
    if high > low:
        return low, high, False
    trials = float(min(impostors.sum(), genuines.sum()))
    rate_low, rate_high = wilson_interval(value * trials, trials)
    return min(low, rate_low), max(high, rate_high), True
