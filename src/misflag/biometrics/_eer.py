"""The EER's interval with its threshold re-estimated: a bootstrap of the score histograms.

The EER is read at a threshold found from the same scores, so an interval that takes that threshold as
fixed (the Wilson limits of FMR and FNMR there) is too narrow. Here each group's impostor and genuine
histograms are redrawn (multinomially, pairs taken as independent), the EER is found again on each
redraw at the bin edges (the FVC2000 rule on the edge grid), and the basic bootstrap interval
[2 e - q(97.5%), 2 e - q(2.5%)] of the edge-grid EER e is moved onto the exact EER.
"""

from __future__ import annotations

import numpy as np

DRAWS = 400


def binned_eer(impostors: np.ndarray, genuines: np.ndarray) -> np.ndarray:
    """EER on the bin-edge grid for (..., bins) histogram counts: t2 the first edge with FMR <= FNMR,
    t1 the one before; the mean of FMR and FNMR at whichever has the smaller sum."""
    total_i = impostors.sum(axis=-1, keepdims=True)
    total_g = genuines.sum(axis=-1, keepdims=True)
    above = np.flip(np.cumsum(np.flip(impostors, -1), axis=-1), -1)  # impostors in bins >= b
    zero = np.zeros((*impostors.shape[:-1], 1))
    fmr = np.concatenate([above, zero], axis=-1) / total_i
    fnmr = np.concatenate([zero, np.cumsum(genuines, axis=-1)], axis=-1) / total_g
    meets = fmr <= fnmr  # always true at the last edge (FMR 0)
    t2 = np.argmax(meets, axis=-1)[..., None]
    tied = np.take_along_axis(fmr, t2, -1) == np.take_along_axis(fnmr, t2, -1)
    t1 = np.where(tied | (t2 == 0), t2, t2 - 1)
    pick = np.where(np.take_along_axis(fmr + fnmr, t1, -1) <= np.take_along_axis(fmr + fnmr, t2, -1), t1, t2)
    return ((np.take_along_axis(fmr, pick, -1) + np.take_along_axis(fnmr, pick, -1)) / 2)[..., 0]


def eer_interval(value: float, impostors: np.ndarray, genuines: np.ndarray, seed: int) -> tuple[float, float]:
    """95% basic bootstrap limits of the EER `value` from one group's impostor and genuine histograms."""
    filled = (impostors + genuines) > 0  # bins empty of both change no edge's rates: drawing them is waste
    impostors, genuines = impostors[filled], genuines[filled]
    generator = np.random.default_rng(seed)
    draws_i = generator.multinomial(int(impostors.sum()), impostors / impostors.sum(), size=DRAWS)
    draws_g = generator.multinomial(int(genuines.sum()), genuines / genuines.sum(), size=DRAWS)
    centre = float(binned_eer(impostors[None, :].astype(float), genuines[None, :].astype(float))[0])
    low, high = np.percentile(binned_eer(draws_i.astype(float), draws_g.astype(float)), [2.5, 97.5])
    return max(value - (high - centre), 0.0), min(value + (centre - low), 1.0)
