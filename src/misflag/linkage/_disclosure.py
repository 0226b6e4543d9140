"""The linkage release audited by linear programming before anything is written (docs/linkage-audit.md,
"Disclosure control"; the goal is docs/disclosure.md's): the shown units' figures as equations over the
reader's model (`linkage/_lp_model.py`), HiGHS's solves of each withheld count's range, and the
escalation.

Each sensitive withheld count (1 to `min_cell` - 1: people, true pairs, pairs reached, and at each
audited threshold wrongly linked people and TP, FP and FN pairs) must have a feasible range over whole
counts at least ceil(min_cell / 2) wide or reaching 0 (HiGHS: the relaxed LP, whole at its optimum, else
the MIP through scipy with presolve off). While one does not, the smallest shown group of its attribute
whose figures bound it (nonzero duals of the relaxed LP), else the smallest shown group, is withheld too,
and the release is audited again. The published summary holds only what a reader works out from the
rows; what the audit measured goes to its `auditor_only` (docs/disclosure.md, step 6).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from misflag.linkage._lp_model import OVERALL, Count, Key, Model, empty_bins, unit_counts, whole
from misflag.result import OVERALL_ATTRIBUTE

if TYPE_CHECKING:
    import highspy

    from misflag.disclosure._goal import AuditSummary
    from misflag.linkage._evaluate import TruthCounts

#: How far from a whole number a relaxed LP's solution may be and still be read as whole.
WHOLE_TOLERANCE = 1e-9
DUAL = 1e-7


@dataclass
class Outcome:
    """The withheld groups the audit settled on, and its result for the metadata."""

    withheld: set[Key]
    summary: AuditSummary | None


def protect(
    counts: TruthCounts, withheld: set[Key], min_cell: int, pairs_listed: int, audited: Sequence[float]
) -> Outcome:
    """Audit the release with these groups withheld and withhold more until no sensitive withheld count
    is pinned, or nothing that bounds one is left to withhold (it is then counted as unprotected).
    Builds and solves nothing when no group is withheld (and then has no summary)."""
    protection = math.ceil(min_cell / 2)
    withheld = set(withheld)
    if not withheld:  # nothing withheld, nothing to audit (and no model to build)
        return Outcome(withheld, None)
    index = {key: g for g, key in enumerate(counts.keys)}
    rounds = 0
    while True:
        audit = _Audit(counts, index, withheld, min_cell, (pairs_listed, audited))
        targets = audit.sensitive()
        found = []
        if targets:
            audit.seed(targets)
            found = [(target, audit.interval(target)) for target in targets]
        narrow = [(target, bound) for target, (low, high, bound, _) in found if not audit.protects(low, high)]
        added = _withhold_more(counts, index, withheld, narrow)
        if not added:
            solved = [(low, high) for _, (low, high, _, exact) in found if exact and low > 0]
            checked = Checked(len(targets), len(narrow), solved, rounds)
            return Outcome(withheld, _summary(protection, len(audit.hidden), checked))
        withheld |= added
        rounds += 1


def _withhold_more(
    counts: TruthCounts, index: dict[Key, int], withheld: set[Key], narrow: list[tuple[Count, set[Key]]]
) -> set[Key]:
    """For each pinned count, the smallest shown group whose figures bound it (relaxed-LP duals), else the
    smallest shown group of its attribute, else the overall row; one per count, none twice in a round."""
    added: set[Key] = set()
    for target, bound in narrow:
        shown = [key for key in counts.keys if key not in withheld and key != OVERALL]
        candidates = [key for key in shown if key in bound] or [k for k in shown if k[0] == target.unit[0]]
        if not candidates and OVERALL not in withheld:
            candidates = [OVERALL]
        if candidates and not added & set(candidates):
            added.add(min(candidates, key=lambda key: (counts.records[index[key]], key)))
    return added


@dataclass(frozen=True)
class Checked:
    """What the audit found over the sensitive withheld counts: the auditor's, never published."""

    sensitive: int
    unprotected: int
    solved: list[tuple[float, float]]  # the exact intervals of counts someone is in
    rounds: int


def _summary(protection: int, withheld_counts: int, checked: Checked) -> AuditSummary:
    """The audit's result as metadata. Published: only what a reader works out from the rows (the method,
    the level, how many counts the withheld groups' rows withhold, the guarantee as a statement), the
    same whatever the withheld groups hold; the sensitive counts checked, the narrowest interval and the
    rounds depend on the withheld values: `auditor_only`, never written (docs/disclosure.md, step 6)."""
    from misflag.disclosure._audit import reader_summary
    from misflag.disclosure._goal import guarantee

    return reader_summary(
        "integer programming over every published count and rate x denominator "
        "(HiGHS: the relaxed LP where its optimum is whole, else the MIP through scipy)",
        protection,
        withheld_counts,
        guarantee(protection, met=checked.unprotected == 0, unit="people or pairs"),
        checked.sensitive,
        checked.sensitive - checked.unprotected,
        min(checked.solved, key=lambda ends: ends[1] - ends[0], default=None),
        checked.rounds,
    )


class _Audit:
    """The model with the shown units' figures as equations, and the reader's solves over it."""

    def __init__(
        self,
        counts: TruthCounts,
        index: dict[Key, int],
        withheld: set[Key],
        min_cell: int,
        published: tuple[int, Sequence[float]],
    ) -> None:
        pairs_listed, audited = published
        attributes: dict[str, list[str]] = {}
        for attribute, group in sorted(counts.keys):
            if attribute != OVERALL_ATTRIBUTE:
                attributes.setdefault(attribute, []).append(group)
        # the true total: a reader who cannot read it is weaker than this model, never stronger
        people_total = whole(counts.records[index[OVERALL]])
        self.model = Model(
            attributes,
            counts.thresholds.size + 1,
            counts.reached is not None,
            people_total,
            empty_bins(counts, index),
        )
        self.model.build()
        self.min_cell, self.protection = min_cell, math.ceil(min_cell / 2)
        self.row_unit: list[Key | None] = [None] * len(self.model.rows)  # None: no unit's figure
        self.hidden: list[Count] = []
        for unit in self.model.units():
            if unit in withheld:
                self.hidden += unit_counts(self.model, counts, index[unit], unit, [float(t) for t in audited])
                continue
            for count in unit_counts(self.model, counts, index[unit], unit, None):
                self.model.add(dict.fromkeys(count.columns, 1.0), count.value, count.value)
                self.row_unit.append(unit)
        if OVERALL not in withheld:  # the metadata: rows of the records file and of the pairs file
            self.model.add(dict.fromkeys(self.model.people(OVERALL), 1.0), people_total, people_total)
            listed = self.model.pairs(OVERALL, True, 0, listed=True) + self.model.pairs(OVERALL, False, 0)
            self.model.add(dict.fromkeys(listed, 1.0), pairs_listed, pairs_listed)
            self.row_unit += [OVERALL, OVERALL]
        self.highs: highspy.Highs | None = None
        self.points: list[np.ndarray] = []
        self.matrix, self.row_low, self.row_high = self._sparse()

    def _sparse(self) -> tuple[Any, np.ndarray, np.ndarray]:
        """The model's rows as one sparse matrix (scipy) with their lower and upper bounds."""
        from scipy.sparse import csr_matrix

        rows = self.model.rows
        lengths = [len(terms) for terms, _, _ in rows]
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        indices = np.fromiter((k for terms, _, _ in rows for k in terms), np.int64, int(indptr[-1]))
        values = np.fromiter((v for terms, _, _ in rows for v in terms.values()), float, int(indptr[-1]))
        matrix = csr_matrix((values, indices, indptr), shape=(len(rows), len(self.model.columns)))
        low = np.asarray([row[1] for row in rows], dtype=float)
        return matrix, low, np.asarray([row[2] for row in rows], dtype=float)

    def sensitive(self) -> list[Count]:
        """Withheld counts of 1 to min_cell - 1, one per distinct set of unknowns."""
        seen: set[tuple[int, ...]] = set()
        out = []
        for count in self.hidden:
            key = tuple(sorted(count.columns))
            if 1 <= count.value < self.min_cell and key not in seen:
                seen.add(key)
                out.append(count)
        return out

    def protects(self, low: float, high: float) -> bool:
        return low == 0 or high - low >= self.protection

    def interval(self, target: Count) -> tuple[float, float, set[Key], bool]:
        """The count's values at whole points the reader cannot rule out, as soon as they show it
        protected; else its least and most over whole counts (or the relaxed LP's bounds, rounded
        inwards, when even those are narrower than the goal). With the shown groups whose figures bound
        it in the relaxed LP (nonzero duals), and whether the ends are the count's least and most."""
        objective = np.zeros(len(self.model.columns))
        objective[list(target.columns)] = 1.0
        high, high_whole, bound = self._relaxed_least(-objective)
        values = [float(objective @ point) for point in self.points]
        if values and self.protects(min(values), max(values)):
            return min(values), max(values), bound, False
        low, low_whole, more = self._relaxed_least(objective)
        # rounded inwards: whole counts lie within (an unbounded most stays infinite)
        low, high, bound = float(np.ceil(low - 1e-6)), float(np.floor(-high + 1e-6)), bound | more
        # the whole interval lies inside these bounds (an unbounded LP: an unbounded MIP)
        if not self.protects(low, high) or (low_whole and high_whole) or high == math.inf:
            return low, high, bound, low_whole and (high_whole or high == math.inf)
        values = [float(objective @ point) for point in self.points]
        low_whole = low_whole or low in values  # a whole point at the LP's least, rounded up, is the least
        high_whole = high_whole or high in values
        if not low_whole:
            low = self._mip(objective)
        if not high_whole and low != 0:  # an LP's most only bounds the whole-number most from above
            found = -self._mip(-objective, gap=0.5)  # a whole point at least half the most, sooner
            if self.protects(low, found):
                return low, found, bound, False
            high, high_whole = -self._mip(-objective), True
        return low, high, bound, high_whole

    def seed(self, targets: list[Count]) -> None:
        """One whole point with every target at its least together (HiGHS's MIP): with each target's
        most (a whole LP solution, mostly) it shows most targets protected without solves of their own."""
        objective = np.zeros(len(self.model.columns))
        for target in targets:
            objective[list(target.columns)] += 1.0
        self._mip(objective)

    def _relaxed_least(self, objective: np.ndarray) -> tuple[float, bool, set[Key]]:
        """min objective . x in the relaxed LP (HiGHS, warm from the last basis), whether its solution is
        whole (then it is the whole-number optimum, and a point), and the units whose published
        equations carry a nonzero dual. An unbounded minimum is -inf."""
        import highspy

        model = self._relaxed()
        model.changeColsCost(objective.size, np.arange(objective.size, dtype=np.int32), objective)
        model.run()
        status = model.getModelStatus()
        if status not in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kUnbounded):
            # presolve cannot tell unbounded from infeasible, or the warm start gave no verdict: afresh, plainly
            model.clearSolver()
            model.setOptionValue("presolve", "off")
            model.run()
            model.setOptionValue("presolve", "choose")
            status = model.getModelStatus()
        if status == highspy.HighsModelStatus.kUnbounded:
            return -math.inf, True, set()
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"the linkage disclosure audit's LP ended {model.modelStatusToString(status)}")
        solution = model.getSolution()
        bound = {
            unit
            for unit, dual in zip(self.row_unit, np.asarray(solution.row_dual), strict=True)
            if unit is not None and abs(dual) > DUAL
        }
        relaxed = np.asarray(solution.col_value)
        whole = self._checked(relaxed) is not None
        return float(objective @ relaxed), whole, bound

    def _checked(self, solution: np.ndarray) -> np.ndarray | None:
        """The solution rounded to whole counts, kept as a point if it is whole and meets every
        constraint exactly (only such points prove that a count can take a value)."""
        point = np.round(solution)
        if np.any(np.abs(solution - point) >= WHOLE_TOLERANCE) or np.any(point < 0):
            return None
        sums = self.matrix @ point
        if np.any(sums < self.row_low) or np.any(sums > self.row_high):
            return None
        self.points.append(point)
        return point

    def _mip(self, objective: np.ndarray, gap: float = 0.0) -> float:
        """min objective . x over whole counts by HiGHS's MIP through scipy, presolve off (the biometric
        audit found HiGHS's MIP presolve unsound once), or with a relative `gap` a whole point that close
        to it; its solution is checked and kept as a point."""
        from scipy.optimize import Bounds, LinearConstraint, milp

        found = milp(
            objective,
            constraints=[LinearConstraint(self.matrix, self.row_low, self.row_high)],
            integrality=np.ones(objective.size),
            bounds=Bounds(0, np.inf),
            options={"presolve": False, "mip_rel_gap": gap},
        )
        point = None if found.x is None else self._checked(np.round(found.x))
        if found.status != 0 or point is None:
            raise RuntimeError(f"the linkage disclosure audit's MIP ended: {found.message}")
        return float(objective @ point)

    def _relaxed(self) -> highspy.Highs:
        """The relaxed LP as one HiGHS model, built once and re-solved from its last basis per objective."""
        if self.highs is not None:
            return self.highs
        from misflag._highs import relaxed_model

        matrix = self.matrix.tocsc()
        self.highs = relaxed_model(matrix, np.full(matrix.shape[1], np.inf), self.row_low, self.row_high)
        return self.highs
