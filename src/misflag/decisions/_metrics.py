"""Metric definitions, written once as sums over cells, evaluated for point values and bootstrap replicates.

A metric is numerator-cells / denominator-cells. The same definition gives the point estimate (from the
observed counts), every bootstrap replicate (from resampled counts) and the unweighted row count behind
the denominator (reported as `denominator`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from misflag.decisions._cells import Cells
from misflag.decisions._weights_trust import DesignChecks
from misflag.stats import safe_divide, wilson_limits

#: A metric's definition: (numerator cells, denominator cells, weighted).
Definition = tuple[tuple[str, ...], tuple[str, ...], bool]

#: name -> (numerator cells, denominator cells, weighted). Weighted sums use inverse inclusion probabilities.
RATE_METRICS: dict[str, Definition] = {
    "base_rate": (("tp", "fn"), ("tp", "fn", "fp", "tn"), True),
    "selection_rate": (("flagged",), ("rows",), False),
    "fpr": (("fp",), ("fp", "tn"), True),
    "fnr": (("fn",), ("fn", "tp"), True),
    "precision": (("tp",), ("tp", "fp"), True),
    "fdr": (("fp",), ("tp", "fp"), True),
    "for": (("fn",), ("fn", "tn"), True),
    "npv": (("tn",), ("tn", "fn"), True),
    "accuracy": (("tp", "tn"), ("tp", "tn", "fp", "fn"), True),
}

#: Consecutive stages a -> b: does the later stage clear the earlier one's errors?
TRANSITION_METRICS: dict[str, Definition] = {
    "cleared_false_flags": (("fp_cleared",), ("fp_before",), True),
    "cleared_true_flags": (("tp_cleared",), ("tp_before",), True),
    "new_false_flags": (("fp_added",), ("tn_before",), True),
    "override_clear_rate": (("flag_cleared",), ("flag_before",), False),
    "override_flag_rate": (("clear_flagged",), ("clear_before",), False),
}

STAGE_INDEPENDENT = frozenset({"base_rate"})


def stage_masks(cells: Cells, stage: int) -> dict[str, np.ndarray]:
    """Cell membership of the confusion-matrix cells at one stage, and (keys "?name") the cells that may
    belong to each: truth unknown counts as either, for telling which unaudited rows a rate could reach."""
    flagged = cells.flags[:, stage] == 1

    def build(negative: np.ndarray, positive: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "tp": positive & flagged,
            "fp": negative & flagged,
            "tn": negative & ~flagged,
            "fn": positive & ~flagged,
            "flagged": flagged,
            "rows": np.ones_like(flagged),
        }

    return _with_reach(cells, build)


def _with_reach(
    cells: Cells, build: Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """The masks at the known truths, plus "?name": the same with an unknown truth taken as either value."""
    known = build(cells.truth == 0, cells.truth == 1)
    # every truth known (a weight on every row, say): the same arrays, no second copy of each mask
    reach = known if bool((cells.truth >= 0).all()) else build(cells.truth != 1, cells.truth != 0)
    return known | {f"?{name}": mask for name, mask in reach.items()}


def transition_masks(cells: Cells, before: int, after: int) -> dict[str, np.ndarray]:
    """Cell membership for what the later stage did with the earlier stage's flags (and "?name" reach)."""
    was, now = cells.flags[:, before] == 1, cells.flags[:, after] == 1

    def build(negative: np.ndarray, positive: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "fp_before": negative & was,
            "fp_cleared": negative & was & ~now,
            "tp_before": positive & was,
            "tp_cleared": positive & was & ~now,
            "tn_before": negative & ~was,
            "fp_added": negative & ~was & now,
            "flag_before": was,
            "flag_cleared": was & ~now,
            "clear_before": ~was,
            "clear_flagged": ~was & now,
        }

    return _with_reach(cells, build)


@dataclass(frozen=True)
class Estimate:
    """One metric for every group of a grouping: point values, 95% limits, the rows and effective n behind them."""

    value: np.ndarray  # (groups,) point estimate (weighted where the metric is)
    low: np.ndarray  # (groups,) lower 95% limit (NaN where undefined)
    high: np.ndarray  # (groups,) upper 95% limit
    denominator: np.ndarray  # (groups,) unweighted (audited) rows behind the denominator
    effective: np.ndarray  # (groups,) effective sample size of the interval (= denominator unless weighted)
    method: str  # key of INTERVAL_METHODS
    notes: tuple[str | None, ...] = ()  # per group, where a weighted design is outside the coverage claim


INTERVAL_METHODS = {
    "wilson": "Wilson score interval on the counts of people (rows, or the counts of a table of counts)",
    "wilson-design": (
        "Wilson score interval on an effective sample size for the rate of the process that produced the "
        "people (as unweighted): 1 / n = 1 / (weighted denominator) [the binomial variance of the full "
        "log's rate] + design variance / p(1 - p) [estimating it from the sample: stratified (by weight) "
        "linearised variance of the weighted ratio with finite-population correction; 0 where every row "
        "that could be in the denominator was audited at weight 1, which gives the unweighted Wilson "
        "interval]; where the rate is 0 or 1 (or the design variance 0), the sampling term is the largest "
        "weight one unseen case could carry over the weighted denominator"
    ),
    "mover-r": "MOVER-R ratio interval (Donner & Zou 2012) from the two groups' intervals",
    "mover-d": "MOVER-D difference interval (Newcombe 1998 hybrid score when both are Wilson)",
    "bootstrap-union": (
        "percentile bootstrap of the statistic (people resampled with replacement: a multinomial draw over "
        "the cells, a table of counts' rows counting as that many people) united with the "
        "MOVER-R interval of the two groups it compares, so it cannot collapse"
    ),
}


@dataclass(frozen=True)
class _Pairs:
    """The (group, stratum) pairs that hold cells, and their stratum's row count n as the variance needs it."""

    positions: np.ndarray  # place in the dense groups x strata matrix
    of_cell: np.ndarray  # each cell's pair
    several: np.ndarray  # n > 1
    factor: np.ndarray  # n / (n - 1), the with-replacement correction
    rows: np.ndarray  # max(n, 1)


class GroupSums:
    """Sums cell vectors by group and turns a metric definition into point values and intervals."""

    def __init__(self, cells: Cells, group_index: np.ndarray, groups: int, design: bool = False) -> None:
        self.cells = cells
        self.group_index = group_index
        self.groups = groups
        self.design = design
        self.count = cells.count.astype(float)

    def observed(self, vector: np.ndarray) -> np.ndarray:
        """Per-group sums of a cell vector weighted by the cell counts."""
        return self._sum(self.count * vector)

    def _sum(self, vector: np.ndarray) -> np.ndarray:
        return np.bincount(self.group_index, vector, minlength=self.groups)

    @cached_property
    def _weighted(self) -> np.ndarray:
        """count x weight per cell, once per grouping: a 0/1 mask times it is exactly count x (weight x mask),
        so every metric's weighted sums reuse it. No weight is squared anywhere (the design variance squares
        weight / weighted total, see `_sampling_n`), so weights near the float limit (1e200) cannot overflow."""
        return self.count * self.cells.weight

    def membership(self) -> np.ndarray:
        """(cells, groups) 0/1 matrix: which group each cell belongs to."""
        return np.eye(self.groups)[self.group_index]

    def estimate(self, definition: Definition, masks: dict[str, np.ndarray]) -> Estimate:
        _, denominator_cells, weighted = definition
        numerator, denominator = cell_vectors(definition, masks)
        rows = self.observed(denominator)
        if weighted and self.design:
            weighted_count = self._weighted
            totals = self._sum(weighted_count * denominator)
            hits = self._sum(weighted_count * numerator)
            value = safe_divide(hits, totals)
            reach = [masks.get(f"?{name}", np.ones_like(masks[name])) for name in denominator_cells]
            whole = self._audited_whole(denominator, np.logical_or.reduce(reach))
            share = self._process_share(value, totals, numerator, denominator, whole)
            low, high = wilson_limits(hits * share, totals * share)
            flagged = masks.get("flagged", masks.get("flag_before"))
            notes = self._design_checks.notes(flagged)
            return Estimate(value, low, high, rows, totals * share, "wilson-design", notes)
        successes = self.observed(numerator)
        low, high = wilson_limits(successes, rows)
        return Estimate(safe_divide(successes, rows), low, high, rows, rows, "wilson")

    def _audited_whole(self, denominator: np.ndarray, reach: np.ndarray) -> np.ndarray:
        """Groups whose every row that may be in the denominator was audited, each at weight 1 (a certainty
        stratum): the log's rate is then known, and only the process's own (binomial) variance is left."""
        outside = reach & ~self.cells.strata.audited
        return self._sum(self.count * (outside + denominator * self._sampled_cells)) == 0

    @cached_property
    def _sampled_cells(self) -> np.ndarray:
        """Cells of audited rows at a weight other than 1: sampled, not audited whole."""
        return self.cells.strata.audited & (self.cells.weight != 1.0)

    def smallest_weight_class(self) -> np.ndarray:
        """Per group, the people of its smallest weight class (its audited rows at one weight, or its rows
        of unknown truth; 0 where it has no rows): where every row behind a rate has one weight the rate is
        a ratio of its published denominator, and which rates are tells a small class's flag and truth
        (decisions._disclosure). Counted per (group, stratum) pair, whatever the truth and flag."""
        pairs = self._pairs
        people = np.bincount(pairs.of_cell, self.count, minlength=pairs.positions.size)
        smallest = np.full(self.groups, np.inf)
        np.minimum.at(
            smallest, pairs.positions // self.cells.strata.values.size, np.where(people > 0, people, np.inf)
        )
        return np.where(np.isinf(smallest), 0.0, smallest)

    def _process_share(
        self,
        value: np.ndarray,
        totals: np.ndarray,
        numerator: np.ndarray,
        denominator: np.ndarray,
        whole: np.ndarray,
    ) -> np.ndarray:
        """Effective n over the weighted denominator, per group: 1 where the denominator was audited whole
        (exactly 1.0, so the interval is the unweighted Wilson interval bit for bit), else
        1 / (1 + weighted denominator / sampling n), i.e. 1 / n = 1 / totals + design variance / p(1 - p):
        the full log's binomial variance around the process rate plus the audit's sampling variance."""
        sampling = self._sampling_n(value, totals, numerator, denominator)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = 1.0 / (1.0 + totals / sampling)
        return np.where(whole | (totals <= 0), 1.0, share)

    @cached_property
    def _design_checks(self) -> DesignChecks:
        """The breaks of the coverage claim each group's weighted rates rest on (decisions._weights_trust)."""
        pairs = self._pairs
        return DesignChecks(self.cells.strata, pairs.of_cell, pairs.positions, self.count, self.groups)

    @cached_property
    def _pairs(self) -> _Pairs:
        """The (group, stratum) pairs that hold cells, computed once per grouping and reused by every metric."""
        strata = self.cells.strata
        dense = self.group_index.astype(np.int64) * strata.values.size + strata.index
        positions, cell_pair = np.unique(dense, return_inverse=True)
        rows = strata.rows[positions % strata.values.size]
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = rows / (rows - 1)
        return _Pairs(positions, cell_pair.astype(np.intp), rows > 1, factor, np.maximum(rows, 1))

    def _sampling_n(
        self, value: np.ndarray, totals: np.ndarray, numerator: np.ndarray, denominator: np.ndarray
    ) -> np.ndarray:
        """p(1 - p) / design variance of the weighted ratio: the audit's sampling term alone (the process's
        is added by `_process_share`); where p is 0 or 1 or the variance 0, the weighted denominator over
        the heaviest weight one unseen case could carry (see `_heaviest`).

        Strata are the distinct weights of audited rows (stratified sampling, inclusion probability
        1 / weight); the variance is the with-replacement-corrected, finite-population-corrected
        linearisation estimator of a domain ratio (Sarndal, Swensson & Wretman 1992, ch. 5).
        Per-stratum sums run over the (group, stratum) pairs that hold cells, not over every group x
        stratum (a weight distinct on each of millions of rows makes that matrix huge); the pairs are
        then placed in that matrix for the one product with the corrections, so the sum runs in the
        same order as over the full matrix and the figures do not move in the last digit.
        """
        cells, strata = self.cells, self.cells.strata
        pairs = self._pairs
        weight, count, group = cells.weight, self.count, self.group_index
        ratio = np.nan_to_num(value)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(
                strata.audited & (totals > 0)[group],
                weight * (numerator - ratio[group] * denominator) / np.where(totals > 0, totals, 1.0)[group],
                0.0,
            )
        first = np.bincount(pairs.of_cell, count * z, minlength=pairs.positions.size)
        second = np.bincount(pairs.of_cell, count * z * z, minlength=pairs.positions.size)
        with np.errstate(invalid="ignore"):  # inf x 0 in a stratum of one row, which keeps `second`
            spread = np.where(pairs.several, pairs.factor * (second - first**2 / pairs.rows), second)
        matrix = np.zeros(self.groups * strata.values.size)
        matrix[pairs.positions] = np.maximum(spread, 0.0)
        variance = matrix.reshape(self.groups, strata.values.size) @ strata.fpc
        unseen = safe_divide(totals, self._heaviest)
        with np.errstate(divide="ignore", invalid="ignore"):
            design = ratio * (1 - ratio) / variance
        usable = (value > 0) & (value < 1) & (variance > 0)
        return np.where(usable, design, unseen)

    @cached_property
    def _unaudited(self) -> np.ndarray:
        """Per group, its rows outside the audit sample (truth unknown)."""
        return self._sum(self.count * ~self.cells.strata.audited)

    @cached_property
    def _heaviest(self) -> np.ndarray:
        """Per group, the largest weight one unseen case of it could carry: its own largest audited weight,
        or the audit's largest where some of its rows were not audited (their stratum may hold none of its
        audited rows). Where no case of a rate's numerator (or of its complement) was audited, the
        sampling n is the weighted denominator over it: its share of Wilson's limit at 0 is about 3.84 such
        cases."""
        heaviest = np.zeros(self.groups)
        audited = self.cells.strata.audited & (self.count > 0)
        np.maximum.at(heaviest, self.group_index[audited], self.cells.weight[audited])
        largest = float(self.cells.weight[audited].max(initial=1.0))
        return np.where(self._unaudited > 0, largest, np.maximum(heaviest, 1.0))

    def rows(self) -> np.ndarray:
        return self.observed(np.ones(self.cells.count.size))


def cell_vectors(definition: Definition, masks: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A metric's numerator and denominator as 0/1 vectors over the cells (a cell counts when any of the
    definition's named cell kinds holds there)."""
    numerator_cells, denominator_cells, _ = definition
    numerator = np.logical_or.reduce([masks[name] for name in numerator_cells]).astype(float)
    denominator = np.logical_or.reduce([masks[name] for name in denominator_cells]).astype(float)
    return numerator, denominator


class StackedSums:
    """The unweighted sums of every grouping at once: the groupings' group indices laid end to end, so a
    sum over cells is one `bincount` for every group of every grouping, not one per grouping.

    Each group's sum adds the same products (count x cell vector) in the same cell order as
    `GroupSums.observed`, and the limits are computed element by element by the same functions, so
    every figure is the same to the last bit (tests/decisions/test_decisions_stacked_sums.py)."""

    def __init__(self, cells: Cells, indexes: Sequence[np.ndarray], sizes: Sequence[int]) -> None:
        self.bounds: list[int] = np.cumsum([0, *sizes]).tolist()
        self.index = np.concatenate(
            [index + start for index, start in zip(indexes, self.bounds[:-1], strict=True)]
        )
        self.copies = len(indexes)
        self.count = cells.count.astype(float)

    def _sum(self, vector: np.ndarray) -> np.ndarray:
        return np.bincount(self.index, np.tile(self.count * vector, self.copies), minlength=self.bounds[-1])

    def split(self, values: np.ndarray) -> list[np.ndarray]:
        """One stacked array as each grouping's own (views, no copy)."""
        return [values[start:end] for start, end in zip(self.bounds[:-1], self.bounds[1:], strict=True)]

    def rows(self) -> list[np.ndarray]:
        """Each grouping's rows per group."""
        return self.split(self._sum(np.ones(self.count.size)))

    def estimate(self, definition: Definition, masks: dict[str, np.ndarray]) -> list[Estimate]:
        """`GroupSums.estimate` without a design, for every grouping: one Estimate each."""
        numerator, denominator = cell_vectors(definition, masks)
        rows, successes = self._sum(denominator), self._sum(numerator)
        low, high = wilson_limits(successes, rows)
        parts = zip(*(self.split(a) for a in (safe_divide(successes, rows), low, high, rows)), strict=True)
        return [Estimate(value, lo, hi, n, n, "wilson") for value, lo, hi, n in parts]
