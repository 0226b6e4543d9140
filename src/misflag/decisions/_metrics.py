"""Metric definitions, written once as sums over cells, evaluated for point values and bootstrap replicates.

A metric is numerator-cells / denominator-cells. The same definition gives the point estimate (from the
observed counts), every bootstrap replicate (from resampled counts) and the unweighted row count behind
the denominator (reported as `denominator`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from misflag.decisions._counts import Cells
from misflag.stats import safe_divide

#: name -> (numerator cells, denominator cells, weighted). Weighted sums use inverse inclusion probabilities.
RATE_METRICS: dict[str, tuple[tuple[str, ...], tuple[str, ...], bool]] = {
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
TRANSITION_METRICS: dict[str, tuple[tuple[str, ...], tuple[str, ...], bool]] = {
    "cleared_false_flags": (("fp_cleared",), ("fp_before",), True),
    "cleared_true_flags": (("tp_cleared",), ("tp_before",), True),
    "new_false_flags": (("fp_added",), ("tn_before",), True),
    "override_clear_rate": (("flag_cleared",), ("flag_before",), False),
    "override_flag_rate": (("clear_flagged",), ("clear_before",), False),
}

STAGE_INDEPENDENT = frozenset({"base_rate"})


def stage_masks(cells: Cells, stage: int) -> dict[str, np.ndarray]:
    """Cell membership of the confusion-matrix cells at one stage."""
    flagged = cells.flags[:, stage] == 1
    negative, positive = cells.truth == 0, cells.truth == 1
    return {
        "tp": positive & flagged,
        "fp": negative & flagged,
        "tn": negative & ~flagged,
        "fn": positive & ~flagged,
        "flagged": flagged,
        "rows": np.ones_like(flagged),
    }


def transition_masks(cells: Cells, before: int, after: int) -> dict[str, np.ndarray]:
    """Cell membership for what the later stage did with the earlier stage's flags."""
    was, now = cells.flags[:, before] == 1, cells.flags[:, after] == 1
    negative, positive = cells.truth == 0, cells.truth == 1
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


@dataclass(frozen=True)
class Estimate:
    """One metric for every group of a grouping: point values, replicate values, row denominators."""

    value: np.ndarray  # (groups,)
    replicates: np.ndarray  # (replicates, groups)
    denominator: np.ndarray  # (groups,) unweighted rows behind the denominator


class GroupSums:
    """Sums cell vectors by group, for the observed counts and for every bootstrap replicate at once."""

    def __init__(self, cells: Cells, group_index: np.ndarray, groups: int, resampled: np.ndarray) -> None:
        self.cells = cells
        self.membership = sparse.csr_matrix(
            (np.ones(group_index.size), (np.arange(group_index.size), group_index)),
            shape=(group_index.size, groups),
        )
        self.resampled = resampled
        self.groups = groups

    def observed(self, vector: np.ndarray) -> np.ndarray:
        return np.asarray(self.membership.T @ (self.cells.count * vector)).ravel()

    def replicated(self, vector: np.ndarray) -> np.ndarray:
        return np.asarray((self.resampled * vector[None, :]) @ self.membership)

    def estimate(
        self, definition: tuple[tuple[str, ...], tuple[str, ...], bool], masks: dict[str, np.ndarray]
    ) -> Estimate:
        numerator_cells, denominator_cells, weighted = definition
        weights = self.cells.weight if weighted else np.ones(self.cells.count.size)
        numerator = np.logical_or.reduce([masks[name] for name in numerator_cells])
        denominator = np.logical_or.reduce([masks[name] for name in denominator_cells])
        return Estimate(
            value=safe_divide(self.observed(weights * numerator), self.observed(weights * denominator)),
            replicates=safe_divide(
                self.replicated(weights * numerator), self.replicated(weights * denominator)
            ),
            denominator=self.observed(denominator.astype(float)),
        )

    def rows(self) -> np.ndarray:
        return self.observed(np.ones(self.cells.count.size))
