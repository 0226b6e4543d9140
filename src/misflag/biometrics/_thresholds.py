"""Exact thresholds from the histogram and a few bins' rows: a target FMR's threshold, and the EER; the
operating points they make.

A bin's rows are above every row of a lower bin and below every row of a higher one (binning is
monotone), so a count at a threshold inside bin b is the rows of the bins above b plus the rows of b at or
above it, exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from misflag.biometrics._spec import BiometricSpec


@dataclass(frozen=True)
class Target:
    """Where the (k+1)-th highest impostor score of the threshold's reference set lies."""

    fmr: float
    impostors: int  # impostor pairs the target is counted over
    allowed: int  # k = floor(target x impostors): false matches the threshold may let through
    bin: int
    within: int  # rank (0 = highest) of the order statistic among the reference rows of its bin


def locate(fmr: float, reference_counts: np.ndarray, total: int) -> Target:
    """The bin holding the (k+1)-th highest reference impostor score, k = floor(fmr x total).

    `total` counts every reference comparison, those without a score too (a search that returned no
    candidate). Bin -1 when the scored ones are at most k: then no threshold lets through too many.
    k is exact: the target is read as the decimal it was written as (`repr`, the shortest text that gives
    the same double: 0.3, not 0.29999999999999998890), times `total` in fractions, so F x N just below a
    whole number never rounds up to one false match more than the target allows.
    """
    allowed = math.floor(Fraction(repr(fmr)) * total)
    above = np.concatenate([np.cumsum(reference_counts[::-1])[::-1], [0]])  # above[b]: rows in bins >= b
    if above[0] <= allowed:
        return Target(fmr, total, allowed, -1, 0)
    position = int(np.nonzero(above[:-1] >= allowed + 1)[0].max())
    return Target(fmr, total, allowed, position, allowed - int(above[position + 1]))


#: ISO/IEC 19795-1's rule of 3: with no error in N independent trials the 95% upper bound is about 3/N.
RULE_OF_THREE = 3.0


def resolution_warning(target: Target, metric: str, units: str, withheld: bool) -> str | None:
    """A warning when the target is below what the data can show: even with no error at all, the 95% upper
    bound 3/N (rule of 3) exceeds the target, so the threshold found cannot demonstrate it.

    Where the pairs the target is counted over are `withheld`, the warning is given for every target, in
    words alone: given only where N < 3/F, it would publish that bound on the withheld count.
    """
    needed = (
        f"showing {target.fmr:g} needs at least {math.ceil(RULE_OF_THREE / target.fmr):,} independent {units}"
    )
    if withheld:
        return (
            f"target {metric} {target.fmr:g} is counted over {units} whose number is withheld, so whether they "
            "can resolve it is not shown: with no error at all the 95% upper bound is 3/N (ISO/IEC 19795-1's "
            f"rule of 3); {needed}, more when they share subjects (see `misflag biometrics plan`)"
        )
    if target.impostors <= 0 or target.fmr * target.impostors >= RULE_OF_THREE:
        return None
    return (
        f"target {metric} {target.fmr:g} is below what {target.impostors:,} {units} can resolve: with no error "
        f"at all the 95% upper bound is 3/N = {RULE_OF_THREE / target.impostors:.2g} (ISO/IEC 19795-1's rule "
        f"of 3); {needed}, more when they share subjects (see `misflag biometrics plan`)"
    )


def threshold_from(target: Target, scores_in_bin: np.ndarray) -> float:
    """The order statistic: the (k+1)-th highest score; the threshold is the smallest value of the score's
    type above it (`_score_type.past`), so FMR <= target."""
    ordered = np.sort(scores_in_bin)[::-1]
    return float(ordered[target.within])


def matched_at(
    threshold: float,
    counts: np.ndarray,
    b: int,
    row_keys: np.ndarray,
    row_bins: np.ndarray,
    row_scores: np.ndarray,
) -> np.ndarray:
    """Per key: rows with s >= threshold, where `threshold` lies in bin b (rows of bin b given)."""
    out = counts[:, b + 1 :].sum(axis=1)
    hit = (row_bins == b) & (row_scores >= threshold)
    np.add.at(out, row_keys[hit], 1.0)
    return out


def eer_bins(impostors: np.ndarray, genuines: np.ndarray, unscored: tuple[int, int] = (0, 0)) -> list[int]:
    """The bins whose rows decide the EER: around the first bin edge where FMR <= FNMR (`unscored` as in
    `equal_error_rate`)."""
    total_i, total_g = impostors.sum() + unscored[0], genuines.sum() + unscored[1]
    fmr = np.concatenate([np.cumsum(impostors[::-1])[::-1], [0]]) / total_i
    fnmr = (np.concatenate([[0], np.cumsum(genuines)]) + unscored[1]) / total_g
    crossing = int(np.nonzero(fmr <= fnmr)[0][0])
    filled = np.nonzero(impostors + genuines > 0)[0]
    below, above = filled[filled < crossing], filled[filled >= crossing]
    return [int(b) for b in [*below[-2:], *above[:1]]]


@dataclass(frozen=True)
class Eer:
    """The equal error rate the FVC2000 way (pyeer's definition) and the counts behind it."""

    value: float
    threshold: float
    false_matches: int
    impostors: int
    false_non_matches: int
    genuines: int
    histograms: tuple[np.ndarray, np.ndarray] | None = (
        None  # (impostor, genuine) counts per bin, for intervals
    )


def equal_error_rate(
    impostors: np.ndarray,
    genuines: np.ndarray,
    bins: np.ndarray,
    scores: np.ndarray,
    genuine: np.ndarray,
    unscored: tuple[int, int] = (0, 0),
    *,
    after: Callable[[float], float],
) -> Eer | None:
    """EER over the distinct scores: t2 the first with FMR <= FNMR, t1 the one before; the EER is the
    mean of FMR and FNMR at whichever of the two has the smaller sum (Maio et al. 2002, as pyeer).

    `bins`, `scores`, `genuine` are the rows of the bins `eer_bins` named; None if there are none. The
    grid ends above every score, where FMR is 0 and FNMR 1, so the curves always meet.
    `unscored` are (non-mated, mated) searches without a score (no candidate, or not the mate): in every
    denominator, never a false positive, always a miss (FPIR = FNIR for search logs).
    `after` gives the threshold just past a score in its stored type (`_score_type.past`): the top of the
    grid, printed as the EER's threshold, must let none of the top scores through as a reader compares.
    """
    total_i, total_g = float(impostors.sum() + unscored[0]), float(genuines.sum() + unscored[1])
    if scores.size == 0:
        return None
    # one sort: each kind's scores and bins in score order are sorted too (a bin is monotone in the score)
    order = np.argsort(scores, kind="stable")
    ordered, ordered_bins, kinds = scores[order], bins[order], genuine[order]
    first = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # each distinct score's first row
    grid, grid_bins = ordered[first], ordered_bins[first]
    imp_above = np.concatenate([np.cumsum(impostors[::-1])[::-1], [0]])
    gen_below = np.concatenate([[0], np.cumsum(genuines)])
    imp_scores, gen_scores = ordered[kinds == 0], ordered[kinds == 1]
    imp_bins, gen_bins = ordered_bins[kinds == 0], ordered_bins[kinds == 1]
    # fetched rows of higher (lower) bins are all above (below) t, so they are taken off again
    fm = (
        imp_above[grid_bins + 1]
        + (imp_scores.size - np.searchsorted(imp_scores, grid, "left"))
        - (imp_bins.size - np.searchsorted(imp_bins, grid_bins, "right"))
    )
    fnm = (
        gen_below[grid_bins]
        + np.searchsorted(gen_scores, grid, "left")
        - np.searchsorted(gen_bins, grid_bins, "left")
        + unscored[1]
    )
    # the threshold above every score (FMR 0, FNMR 1) ends the grid, as the last bin edge does in
    # `binned_eer`: where the impostors share the top score the curves meet only there
    grid = np.append(grid, after(float(grid[-1])))
    fm, fnm = np.append(fm, 0), np.append(fnm, total_g)
    fmr, fnmr = fm / total_i, fnm / total_g
    t2 = int(np.nonzero(fmr - fnmr <= 0)[0][0])  # the last point always meets (FMR 0)
    t1 = t2 - 1 if fmr[t2] != fnmr[t2] and t2 != 0 else t2
    pick = t1 if fmr[t1] + fnmr[t1] <= fmr[t2] + fnmr[t2] else t2
    return Eer(
        float((fmr[pick] + fnmr[pick]) / 2),
        float(grid[pick]),
        int(fm[pick]),
        int(total_i),
        int(fnm[pick]),
        int(total_g),
    )


@dataclass(frozen=True)
class OperatingPoint:
    """A threshold (in internal units: the score, or minus a distance) and how it was found."""

    internal: float
    method: str
    statistic: float | None = None
    target: Target | None = None
    counted: str = ""  # the pairs the target is counted over and the errors it allows, in words
    #: a given threshold as written, where the score as stored compares it as `internal` (`_score_type`)
    written: float | None = None
    #: the given threshold's text in the rule where it is not the number's repr (`_score_type.printed`)
    text: str | None = None

    def threshold(self, spec: BiometricSpec) -> float:
        if self.written is not None:
            return self.written
        return -self.internal if spec.distance else self.internal

    def stage(self, spec: BiometricSpec) -> str:
        """The decision rule as applied, in exact numbers (shortest repr that round-trips).

        A found threshold is the next double past an order statistic s, so `score >= next(s)` is exactly
        `score > s` (`distance < s`): the rule is shown with the strict sign and s itself, never as a
        neighbour such as 87.99999999999999 that looks like a rounding of s.
        """
        if self.statistic is None:
            return f"score{'<=' if spec.distance else '>='}{self.text or repr(self.threshold(spec))}"
        statistic = -self.statistic if spec.distance else self.statistic
        return f"score{'<' if spec.distance else '>'}{statistic!r}"

    def describe(self, spec: BiometricSpec, counts_shown: bool) -> dict[str, Any]:
        """The point as plain data for the metadata (order statistic in the input's units); the counts
        behind a target only where the pairs it is counted over are published."""
        statistic = self.statistic
        return {
            "stage": self.stage(spec),
            "threshold": self.threshold(spec),
            "rule": self.stage(spec),
            "method": f"{self.method} ({self.counted})" if counts_shown and self.counted else self.method,
            "order_statistic": None if statistic is None else (-statistic if spec.distance else statistic),
            "target": None if self.target is None else self.target.fmr,
        }
