"""The unknowns a universe's equations fix on their own, substituted out of the LP that the probe solves
(`_intervals.probe`, `Problem.beside`).

A published group whose figures are all published pins its counts one by one: an equation whose other
unknowns are all fixed fixes its last one, and one with no negative coefficient and nothing left on its
right-hand side holds no one (counts are non-negative). Substituting those values leaves the same LP over
the other unknowns (the same feasible set, every fixed unknown at its one feasible value), which HiGHS
re-solves faster: on benchmark seed 0, 88 of 252 unknowns and 205 of 819 equations are left, and its 32
solves take 17 ms instead of 44 (docs/disclosure.md). Nothing here decides an interval: the probe's solves
only certify counts, and an inconsistent system is left whole, for the audit's own model to report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from misflag.disclosure._matrix import SparseRows

#: How far a fixed value may fall below 0, or a fully fixed row miss its right-hand side (relative to
#: it), before the system counts as inconsistent (as `_lp.FEASIBLE` for a kept point).
SLACK = 1e-7


@dataclass(frozen=True)
class Substitution:
    """The LP over the unknowns left (`kept`), the others fixed at `values` (over every free unknown)."""

    kept: np.ndarray  # positions among the free unknowns of those left in the LP
    values: np.ndarray  # every free unknown's fixed value (0 where it is kept)
    a_eq: SparseRows
    b_eq: np.ndarray
    a_ub: SparseRows
    b_ub: np.ndarray

    def objective(self, costs: np.ndarray) -> tuple[np.ndarray, float]:
        """The costs of the unknowns left, and the constant the fixed ones add."""
        return costs[self.kept], float(costs @ self.values)

    def lift(self, point: np.ndarray) -> np.ndarray:
        """A point of the reduced LP as one over every free unknown."""
        out = self.values.copy()
        out[self.kept] = point
        return out


def substitute(
    a_eq: SparseRows | None, b_eq: np.ndarray, a_ub: SparseRows | None, b_ub: np.ndarray, free: int
) -> Substitution | None:
    """The LP with every unknown its equations fix substituted out; None where none is fixed, every one
    is, or the fixed values contradict a row (the whole system then goes to HiGHS as it is)."""
    if a_eq is None:
        return None
    fixed = _fixed(a_eq, b_eq, free)
    if fixed is None or not np.isnan(fixed).any() or np.isnan(fixed).all():
        return None
    kept = np.flatnonzero(np.isnan(fixed))
    values = np.nan_to_num(fixed)
    equal = _rows(a_eq, b_eq, kept, values, True)
    at_most = _rows(a_ub if a_ub is not None else SparseRows.none(free), b_ub, kept, values, False)
    if equal is None or at_most is None:
        return None
    return Substitution(kept, values, *equal, *at_most)


def _fixed(a: SparseRows, b: np.ndarray, free: int) -> np.ndarray | None:
    """Each unknown's value where the equations alone fix it (NaN elsewhere); None when two rows fix one
    unknown to different values, or one to a negative value."""
    fixed = np.full(free, np.nan)
    row, column, value = a.row, a.column, a.value
    while True:
        open_ = np.isnan(fixed)[column] & (value != 0)
        left = np.bincount(row[open_], minlength=b.size)
        rest = b - np.bincount(
            row, weights=np.where(open_, 0.0, value * np.nan_to_num(fixed)[column]), minlength=b.size
        )
        negative = np.bincount(row[open_ & (value < 0)], minlength=b.size)
        nobody = (left > 0) & (negative == 0) & (np.abs(rest) <= SLACK * np.maximum(1.0, np.abs(b)))
        single = (left == 1) & ~nobody
        zero, one = open_ & nobody[row], open_ & single[row]
        if not (zero.any() or one.any()):
            return fixed
        columns = np.concatenate([column[zero], column[one]])
        values = np.concatenate([np.zeros(int(zero.sum())), rest[row[one]] / value[one]])
        low = np.full(free, np.inf)
        high = np.full(free, -np.inf)
        np.minimum.at(low, columns, values)
        np.maximum.at(high, columns, values)
        found = np.unique(columns)
        scale = np.maximum(1.0, np.abs(high[found]))
        if np.any(high[found] - low[found] > SLACK * scale) or np.any(low[found] < -SLACK * scale):
            return None
        fixed[found] = high[found]


def _rows(
    matrix: SparseRows, bound: np.ndarray, kept: np.ndarray, values: np.ndarray, equal: bool
) -> tuple[SparseRows, np.ndarray] | None:
    """The rows (equal: `= bound`, else `<= bound`) over the unknowns kept, the fixed values moved to the
    right-hand side; a row left with no unknown is dropped where it holds (None where it does not)."""
    position = np.full(values.size, -1)
    position[kept] = np.arange(kept.size)
    mapped = position[matrix.column]
    inside = (mapped >= 0) & (matrix.value != 0)
    fixed_part = np.bincount(matrix.row, weights=matrix.value * values[matrix.column], minlength=bound.size)
    rest = bound - fixed_part
    used = np.bincount(matrix.row[inside], minlength=bound.size) > 0
    miss = rest[~used] if equal else np.minimum(rest[~used], 0.0)
    if np.any(np.abs(miss) > SLACK * np.maximum(1.0, np.abs(bound[~used]))):
        return None
    number = np.cumsum(used) - 1
    entries = inside & used[matrix.row]
    rows = SparseRows(
        number[matrix.row[entries]], mapped[entries], matrix.value[entries], (int(used.sum()), kept.size)
    )
    return rows, rest[used]
