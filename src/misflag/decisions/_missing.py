"""Audits when the truth is known only for some people: label coverage, worst-case and sensitivity bounds.

A person's truth is 1, 0 or unknown (NULL). Per group and stage the people fall in six counts: flagged
with truth 1, 0, unknown; not flagged with truth 1, 0, unknown. FPR, FNR and the base rate depend on the
unknown truths; the assumption says how many of the unknown may be positives:

- `bounds` (Manski): any number, 0 to all. The rate's lowest value takes every unknown flagged person as
  a positive and every unknown unflagged one as a negative; the highest value the reverse.
- `sensitivity`: among a group's unknown flagged (unflagged) people, the share of positives is within
  `delta` (additively) or `odds_ratio` (on the odds) of the share among the group's known flagged
  (unflagged) people; where a group has no known truth among them, of the group's known people.

Each end of the identified set is the rate of a completed table, so it is a proportion of counts; the
95% interval is Imbens & Manski's with Wilson limits (misflag.stats._partial_id). Groups are disjoint,
so a ratio's bounds take each group at its own extreme: FPR_a / FPR_b lies in [L_a / U_b, U_a / L_b].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from misflag.decisions._cells import Cells
from misflag.decisions._metrics import GroupSums, stage_masks
from misflag.stats import mover_difference, mover_ratio, safe_divide, wilson_limits
from misflag.stats._partial_id import bounded_rate_limits

BOUNDED = ("fpr", "fnr", "base_rate")
#: (lowest value's numerator, its denominator, highest value's numerator, its denominator)
Ends = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
#: Grid on which the breakdown value is searched: delta in steps of 0.001, odds ratios from 1 to 1,000.
DELTA_GRID = np.linspace(0.0, 1.0, 1001)
ODDS_GRID = np.geomspace(1.0, 1000.0, 1001)
ASSUMPTIONS = {
    "bounds": (
        "Nothing is assumed about the people whose truth is unknown: each range runs from the rate if every "
        "one of them were on one side to the rate if every one were on the other."
    ),
    "sensitivity": (
        "Among people of a group whose truth is unknown, the share who should have been flagged is assumed "
        "to differ by at most {amount} from that share among the people of the same group, flag (and "
        "stratum, where strata are given) whose truth is known."
    ),
    "prevalence": (
        "Each group's share of people who should have been flagged is taken from another source, within the "
        "stated range, and the flagged people whose truth is known are assumed to be like the other flagged "
        "people of their group."
    ),
    "mar": (
        "Among people of the same group, flag and stratum, whether a person's truth is known is assumed to "
        "have nothing to do with what it is."
    ),
}


@dataclass(frozen=True)
class Counts:
    """One grouping's people at one stage by flag and truth: positives, negatives, unknown."""

    tp: np.ndarray
    fp: np.ndarray
    flagged_unknown: np.ndarray
    fn: np.ndarray
    tn: np.ndarray
    clear_unknown: np.ndarray

    @classmethod
    def of(cls, sums: GroupSums, cells: Cells, stage: int) -> Counts:
        masks = stage_masks(cells, stage)
        unknown = cells.truth < 0
        flagged = masks["flagged"]
        return cls(
            tp=sums.observed(masks["tp"].astype(float)),
            fp=sums.observed(masks["fp"].astype(float)),
            flagged_unknown=sums.observed((unknown & flagged).astype(float)),
            fn=sums.observed(masks["fn"].astype(float)),
            tn=sums.observed(masks["tn"].astype(float)),
            clear_unknown=sums.observed((unknown & ~flagged).astype(float)),
        )

    @property
    def total(self) -> np.ndarray:
        return self.tp + self.fp + self.flagged_unknown + self.fn + self.tn + self.clear_unknown

    def known_share(self) -> tuple[np.ndarray, np.ndarray]:
        """Share of flagged, and of not-flagged, people whose truth is known (NaN where there are none)."""
        flagged_known, clear_known = self.tp + self.fp, self.fn + self.tn
        return (
            safe_divide(flagged_known, flagged_known + self.flagged_unknown),
            safe_divide(clear_known, clear_known + self.clear_unknown),
        )


@dataclass(frozen=True)
class Shift:
    """How far the unknown people's share of positives may be from the known people's: worst case if neither."""

    delta: float | None = None
    odds_ratio: float | None = None

    def limits(self, rate: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The unknown people's share of positives: its lowest and highest value, given the known share
        (`rate`, or its interval `low`-`high` for the confidence interval). Broadcasts a grid of deltas."""
        if self.delta is not None:
            return np.clip(low - self.delta, 0.0, 1.0), np.clip(high + self.delta, 0.0, 1.0)
        if self.odds_ratio is not None:
            g = self.odds_ratio
            return low / (low + g * (1 - low)), g * high / (g * high + 1 - high)
        zeros = np.zeros(np.broadcast(rate, low, high).shape)
        return zeros, zeros + 1.0


@dataclass(frozen=True)
class Bound:
    """A rate per group known only to lie in [lower, upper], with each end's 95% (Imbens-Manski) limits."""

    lower: np.ndarray
    upper: np.ndarray
    lower_limits: tuple[np.ndarray, np.ndarray]
    upper_limits: tuple[np.ndarray, np.ndarray]

    @property
    def ci_low(self) -> np.ndarray:
        return self.lower_limits[0]

    @property
    def ci_high(self) -> np.ndarray:
        return self.upper_limits[1]

    def ratio(self, reference: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Bounds and 95% limits of each group's rate over the reference group's (MOVER-R at the extremes)."""
        low_end = (self.lower, *self.lower_limits)
        high_end = (self.upper, *self.upper_limits)
        with np.errstate(all="ignore"):
            lower = self.lower / _of(self.upper, reference)
            upper = self.upper / _of(self.lower, reference)
            ci_low = mover_ratio(*low_end, *(_of(a, reference) for a in high_end))[0]
            ci_high = mover_ratio(*high_end, *(_of(a, reference) for a in low_end))[1]
        return lower, np.where(_of(self.lower, reference) > 0, upper, np.inf), ci_low, ci_high

    def difference(self, reference: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Bounds and 95% limits of each group's rate minus the reference group's (MOVER-D at the extremes)."""
        low_end = (self.lower, *self.lower_limits)
        high_end = (self.upper, *self.upper_limits)
        ci_low = mover_difference(*low_end, *(_of(a, reference) for a in high_end))[0]
        ci_high = mover_difference(*high_end, *(_of(a, reference) for a in low_end))[1]
        return (
            self.lower - _of(self.upper, reference),
            self.upper - _of(self.lower, reference),
            ci_low,
            ci_high,
        )


def _of(values: np.ndarray, reference: int) -> np.ndarray:
    """The reference group's values, kept as an axis: groups are the last axis (a grid may lead)."""
    return np.take(values, [reference], axis=-1)


def _known_rates(counts: Counts) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(positives, trials) behind the known share of positives among flagged and among not-flagged people;
    a group with no known truth on one side borrows the whole group's known people."""
    group = (counts.tp + counts.fn, counts.tp + counts.fp + counts.fn + counts.tn)
    flagged_trials, clear_trials = counts.tp + counts.fp, counts.fn + counts.tn
    flagged = (
        np.where(flagged_trials > 0, counts.tp, group[0]),
        np.where(flagged_trials > 0, flagged_trials, group[1]),
    )
    clear = (
        np.where(clear_trials > 0, counts.fn, group[0]),
        np.where(clear_trials > 0, clear_trials, group[1]),
    )
    return flagged, clear


def _share_ranges(counts: Counts, shift: Shift, widened: bool) -> tuple[np.ndarray, ...]:
    """(flagged low, flagged high, clear low, clear high) share of positives among the unknown people;
    `widened` starts from the known share's 95% Wilson interval (for the confidence interval)."""
    out: list[np.ndarray] = []
    for positives, trials in _known_rates(counts):
        rate = safe_divide(positives, trials)
        # no known truth to compare with: the unknown share may be anything (0 to 1)
        low, high = wilson_limits(positives, trials) if widened else (rate, np.where(trials > 0, rate, 1.0))
        out += shift.limits(np.nan_to_num(rate), np.nan_to_num(low), np.nan_to_num(high, nan=1.0))
    return tuple(out)


def _ends(counts: Counts, ranges: tuple[np.ndarray, ...]) -> dict[str, Ends]:
    """Per metric (low numerator, low denominator, high numerator, high denominator) at the extremes.

    x, y: positives among the unknown flagged, not-flagged people. FPR and FNR fall as x rises and rise
    with y, so both are lowest at (x max, y min) and highest at (x min, y max); the base rate is lowest
    with both at their minimum.
    """
    flagged_low, flagged_high, clear_low, clear_high = ranges
    x_min, x_max = counts.flagged_unknown * flagged_low, counts.flagged_unknown * flagged_high
    y_min, y_max = counts.clear_unknown * clear_low, counts.clear_unknown * clear_high
    false_low = counts.fp + counts.flagged_unknown - x_max
    false_high = counts.fp + counts.flagged_unknown - x_min
    negatives = counts.tn + counts.clear_unknown
    return {
        "fpr": (false_low, false_low + negatives - y_min, false_high, false_high + negatives - y_max),
        "fnr": (
            counts.fn + y_min,
            counts.fn + y_min + counts.tp + x_max,
            counts.fn + y_max,
            counts.fn + y_max + counts.tp + x_min,
        ),
        "base_rate": (
            counts.tp + counts.fn + x_min + y_min,
            counts.total + 0 * x_min,
            counts.tp + counts.fn + x_max + y_max,
            counts.total + 0 * x_max,
        ),
    }


def bound_rates(
    counts: Counts,
    shift: Shift,
    metrics: tuple[str, ...] = BOUNDED,
    key_group: np.ndarray | None = None,
) -> dict[str, Bound]:
    """FPR, FNR and base rate per group under the assumption, with Imbens-Manski 95% limits.

    With `key_group`, the counts are per (group, stratum) key: each key's unknown people are bounded
    around its own known share, and the extremes (all at the same end, since the rates move the same way
    with every key's x and y) are summed per group before the rates are taken.
    """
    point = _ends(counts, _share_ranges(counts, shift, widened=False))
    worst = shift.delta is None and shift.odds_ratio is None
    wide = point if worst else _ends(counts, _share_ranges(counts, shift, widened=True))
    if key_group is not None:
        groups = int(key_group.max()) + 1 if key_group.size else 0
        point, wide = (
            {m: _by_group(e, key_group, groups) for m, e in ends.items()} for ends in (point, wide)
        )
    out = {}
    for metric in metrics:
        low_num, low_den, high_num, high_den = point[metric]
        _, low_low, low_high, high_low, high_high = bounded_rate_limits(*wide[metric])
        out[metric] = Bound(
            safe_divide(low_num, low_den),
            safe_divide(high_num, high_den),
            (low_low, low_high),
            (high_low, high_high),
        )
    return out


def breakdowns(
    counts: Counts, reference: int, odds: bool = False, key_group: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Per ratio (FPR, FNR) and group: the smallest delta (or odds ratio) on the grid at which the 95%
    interval of the group's rate over the reference's includes 1; 0 where it includes 1 with no selection
    at all; NaN where it excludes 1 even at the grid's end (for delta: the worst case). The ranges are
    `bound_rates`' own on the whole grid at once, so a value agrees with a sensitivity audit at it."""
    grid = ODDS_GRID if odds else DELTA_GRID
    column = grid[:, None]
    shift = Shift(odds_ratio=column) if odds else Shift(delta=column)  # type: ignore[arg-type]
    out = {}
    bounds = bound_rates(_broadcast(counts, grid.size), shift, ("fpr", "fnr"), key_group)
    for metric, bound in bounds.items():
        _, _, ci_low, ci_high = bound.ratio(reference)
        includes = (ci_low <= 1) & (ci_high >= 1)
        found = np.full(includes.shape[1], np.nan)
        for g in range(includes.shape[1]):
            hits = np.nonzero(includes[:, g])[0]
            if hits.size:
                found[g] = grid[hits[0]]
        out[metric] = found
    return out


def summed_by(values: np.ndarray, index: np.ndarray, size: int) -> np.ndarray:
    """Sums of the last axis of `values` by `index` into `size` bins, per leading row (NaN propagates)."""
    if values.ndim == 1:
        return np.bincount(index, values, minlength=size)
    rows = values.shape[0]
    flat = (np.arange(rows)[:, None] * size + index[None, :]).ravel()
    return np.bincount(flat, values.ravel(), minlength=rows * size).reshape(rows, size)


def _by_group(ends: Ends, key_group: np.ndarray, groups: int) -> Ends:
    """Each extreme's numerator and denominator summed over a group's keys (the last axis)."""
    low_num, low_den, high_num, high_den = (
        summed_by(np.asarray(a, dtype=float), key_group, groups) for a in ends
    )
    return low_num, low_den, high_num, high_den


def _broadcast(counts: Counts, rows: int) -> Counts:
    """The counts repeated on `rows` grid points (axis 0), groups on axis 1."""
    return Counts(
        *(
            np.broadcast_to(getattr(counts, name), (rows, counts.tp.size))
            for name in Counts.__dataclass_fields__
        )
    )
