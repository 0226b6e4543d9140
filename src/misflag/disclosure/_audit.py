"""The audit by linear programming: each withheld count's feasibility interval, as tau-ARGUS checks it.

For every withheld count the reader's model (`_model`) is solved twice with HiGHS (`highspy`, one model
per universe, each objective solved from the last basis):
the least and the most people the count can hold given everything published, counts non-negative
(integrality relaxed, which can only widen the interval, so a narrow LP interval is a real exposure).
A withheld count is protected when that interval is at least `protection` people wide, or reaches
down to 0 (the reader cannot tell that anyone is in it).

Most counts are certified without LPs of their own: every solution found (a few with random objectives
first, then each count's own) is a point the reader cannot rule out, so the values a count takes across
those points lie inside its interval. When they already span the protection level, or one is 0, the count
is protected; only the others are solved, and their solutions join the points.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from misflag.disclosure._kept import Models
from misflag.disclosure._matrix import SparseRows
from misflag.disclosure._model import Output, Source, Target
from misflag.errors import MisflagError

if TYPE_CHECKING:
    import highspy

TOLERANCE = 1e-6
#: LPs with random objectives solved first in each universe: their solutions certify most counts at once.
RANDOM_POINTS = 4
#: Feasible points kept per universe between audits (each is checked again before it certifies anything).
MAX_POINTS = 64
#: How far a kept point may miss an equation (relative to its right-hand side) and still count as feasible.
FEASIBLE = 1e-7


@dataclass(frozen=True)
class Interval:
    """What a reader can learn of one withheld count: between `low` and `high` people."""

    target: Target
    low: float
    high: float
    exact: bool = True  # False: not both ends solved (an inner bound: feasible values the count takes)
    #: the equations that bound it (nonzero duals of its two LPs), each as the rows that publish it:
    #: while none of them is withheld, the interval stays as narrow (set where both ends were solved)
    pins: frozenset[frozenset[Source]] = frozenset()

    @property
    def width(self) -> float:
        return self.high - self.low

    def protects(self, protection: float) -> bool:
        """At least `protection` people wide, or the reader cannot rule out that no one is in it."""
        return self.width >= protection - TOLERANCE or self.low <= TOLERANCE


@dataclass(frozen=True)
class DisclosureAudit:
    """Every audited withheld count's interval, and those narrower than the protection level."""

    protection: float
    intervals: list[Interval]
    sensitive_below: float = float(
        "inf"
    )  # a count the reader knows to hold this many or more is not sensitive
    secondary: dict[str, object] | None = None  # which secondary suppression ran, and what it withheld

    @property
    def exposed(self) -> list[Interval]:
        return [
            i
            for i in self.intervals
            if not i.protects(self.protection) and i.low < self.sensitive_below - TOLERANCE
        ]

    def summary(self) -> dict[str, object]:
        """The audit's result as metadata: counts checked and protected, the narrowest interval."""
        # a shortcut interval's ends are feasible values (perhaps the auditor's own count): never published
        zero = [i for i in self.intervals if i.low <= TOLERANCE]
        bounded = [i for i in self.intervals if i.exact and i.low > TOLERANCE]  # someone is there
        narrowest = min(bounded, key=lambda i: i.width, default=None)
        return {
            "method": "linear programming (HiGHS via highspy), integrality relaxed",
            "protection_level": self.protection,
            "withheld_counts_checked": len(self.intervals),
            "withheld_counts_protected": len(self.intervals) - len(self.exposed),
            "withheld_counts_that_may_be_zero": len(zero),
            "withheld_counts_solved_by_their_own_lp": sum(i.exact for i in self.intervals),
            "narrowest_interval": None
            if narrowest is None
            else {
                "low": round(narrowest.low, 6),
                "high": round(narrowest.high, 6),
                "rows": len(narrowest.target.rows),
            },
            **({"secondary_suppression": self.secondary} if self.secondary is not None else {}),
        }


def link(outputs: list[Output]) -> list[list[Output]]:
    """Outputs that share a universe: same input digest and truth expression."""
    groups: dict[tuple[str, str], list[Output]] = defaultdict(list)
    for output in outputs:
        groups[(output.population, output.truth)].append(output)
    return list(groups.values())


def audit_outputs(
    outputs: list[Output],
    protection: float,
    known: Callable[[Target], float | None] | None = None,
    settled: dict[bytes, Interval] | None = None,
    sensitive_below: float = float("inf"),
    points: dict[str, list[np.ndarray]] | None = None,
    models: Models | None = None,
) -> DisclosureAudit:
    """Solve for every withheld count's interval over all the outputs jointly.

    `known(target)` is the auditor's own count (None: not sensitive, skip it); with it, the lower bound
    is solved only where the upper bound alone leaves the interval too narrow. `settled` holds counts
    found protected by an earlier audit of similar outputs, reused without solving (a shortcut while
    suppression is being planned; new protected counts are added to it): an output is published only
    after an audit without it. `points` holds feasible points of earlier audits per universe: each is
    checked against this audit's equations and, where it satisfies them, certifies counts as any point
    found now does (a sound shortcut, kept in the final audit too); this audit's points are added to it.
    `models` keeps each universe's model for a later audit of the very same outputs (`Models`).
    """
    intervals: list[Interval] = []
    for number, linked in enumerate(link(outputs)):
        kept = (models or Models()).get(number, linked)
        audited = [(t, known(t) if known is not None else None) for t in kept.targets]
        audited = [(t, v) for t, v in audited if known is None or v is not None]
        if not audited:  # no withheld count is sensitive: no LP model is built, none solved
            continue
        problem = _Problem(*kept.matrices(), sources=kept.sources())
        pending: list[tuple[Target, float | None, np.ndarray]] = []
        for target, value in audited:
            earlier = (settled or {}).get(target.columns.tobytes())
            if earlier is not None and earlier.protects(protection):
                intervals.append(Interval(target, earlier.low, earlier.high, earlier.exact))
                continue
            columns = problem.position[target.columns][problem.position[target.columns] >= 0]
            if columns.size == 0:  # every person it could hold is known to be absent
                intervals.append(Interval(target, 0.0, 0.0))
                continue
            pending.append((target, value, columns))
        seen = _Seen(pending, problem)
        carried = (points or {}).get(kept.signature, [])
        for point in carried:
            seen.add(problem.feasible(point))
        random = np.random.default_rng(number)
        for _ in range(RANDOM_POINTS):
            if not pending or seen.all_certified(pending, protection):
                break
            seen.add(problem.solve(random.uniform(-1.0, 1.0, problem.free))[1], new=True)
        for k, (target, value, columns) in enumerate(pending):
            interval = seen.certify(k, target, value, protection)
            if interval is None:
                interval = _solve(problem, seen, target, value, columns, protection)
            intervals.append(interval)
            if settled is not None and interval.protects(protection):
                settled[target.columns.tobytes()] = interval
        if points is not None:
            points[kept.signature] = [*carried, *seen.found][-MAX_POINTS:]
    return DisclosureAudit(protection, intervals, sensitive_below)


def _solve(
    problem: _Problem,
    seen: _Seen,
    target: Target,
    value: float | None,
    columns: np.ndarray,
    protection: float,
) -> Interval:
    """The count's own LPs: the upper end, then the lower end unless the auditor's value already suffices."""
    objective = np.zeros(problem.free)
    objective[columns] = -1.0
    least_negated, point = problem.solve(objective)
    high = -least_negated
    seen.add(point, new=True)
    if value is not None and high - value >= protection - TOLERANCE:
        return Interval(target, value, high, exact=False)
    pins = problem.pins()
    objective[columns] = 1.0
    low, point = problem.solve(objective)
    seen.add(point, new=True)
    return Interval(target, low, high, pins=pins | problem.pins())


class _Problem:
    """One universe's LP as one HiGHS model (highspy): each objective is solved from the last basis."""

    def __init__(
        self,
        position: np.ndarray,
        a_eq: SparseRows | None,
        b_eq: np.ndarray,
        a_ub: SparseRows | None,
        b_ub: np.ndarray,
        sources: list[frozenset[Source]] | None = None,
    ) -> None:
        self.position, self.a_eq, self.b_eq, self.a_ub, self.b_ub = position, a_eq, b_eq, a_ub, b_ub
        self.free = int((position >= 0).sum())
        self.highs: highspy.Highs | None = None
        self.sources = sources or [frozenset()] * b_eq.size
        self.duals = np.zeros(b_eq.size)  # the last solve's equality duals

    def pins(self) -> frozenset[frozenset[Source]]:
        """The equalities with a nonzero dual in the last solve (its optimum rests on them), each as the
        rows that publish it; equalities no row publishes (none here) are left out."""
        used = np.nonzero(np.abs(self.duals) > TOLERANCE)[0]
        return frozenset(self.sources[row] for row in used if self.sources[row])

    def full(self, point: np.ndarray) -> np.ndarray:
        """A point over the free unknowns as one over every unknown (those fixed at 0 as 0)."""
        out = np.zeros(self.position.size)
        out[self.position >= 0] = point
        return out

    def feasible(self, point: np.ndarray) -> np.ndarray | None:
        """An earlier point over every unknown, over the free ones, if it satisfies these equations."""
        if point.size != self.position.size or np.any(np.abs(point[self.position < 0]) > FEASIBLE):
            return None
        free = point[self.position >= 0]
        if np.any(free < -FEASIBLE):
            return None
        for matrix, bound, equal in ((self.a_eq, self.b_eq, True), (self.a_ub, self.b_ub, False)):
            if matrix is None:
                continue
            miss = matrix.times(free) - bound
            allowed = FEASIBLE * np.maximum(1.0, np.abs(bound))
            if np.any((np.abs(miss) if equal else miss) > allowed):
                return None
        return free

    def _model(self) -> highspy.Highs:
        """The HiGHS model, built at the first solve: equalities, then the at-least rows, counts >= 0."""
        if self.highs is not None:
            return self.highs
        import highspy  # here, at the first solve: an output with nothing to solve never loads HiGHS

        empty = SparseRows(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), (0, self.free))
        matrix = (self.a_eq if self.a_eq is not None else empty).below(
            self.a_ub if self.a_ub is not None else empty
        )
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.free, matrix.shape[0]
        lp.col_cost_ = np.zeros(self.free)
        lp.col_lower_, lp.col_upper_ = np.zeros(self.free), np.full(self.free, np.inf)
        lp.row_lower_ = np.concatenate([self.b_eq, np.full(self.b_ub.size, -np.inf)])
        lp.row_upper_ = np.concatenate([self.b_eq, self.b_ub])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = matrix.column_wise()
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = self.free, matrix.shape[0]
        with silent_stdout():  # HiGHS 1.16 prints a banner from its C++ constructor
            self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        self.highs.passModel(lp)
        return self.highs

    def solve(self, objective: np.ndarray) -> tuple[float, np.ndarray | None]:
        """The least value of the objective (-inf when unbounded, with no point) and a point reaching it."""
        import highspy

        highs = self._model()
        highs.changeColsCost(self.free, np.arange(self.free, dtype=np.int32), objective.astype(float))
        highs.run()
        status = highs.getModelStatus()
        if status == highspy.HighsModelStatus.kUnboundedOrInfeasible:  # presolve cannot tell: solve plainly
            highs.setOptionValue("presolve", "off")
            highs.run()
            highs.setOptionValue("presolve", "choose")
            status = highs.getModelStatus()
        self.duals = np.zeros(self.b_eq.size)
        if status == highspy.HighsModelStatus.kUnbounded:
            return float("-inf"), None
        if status != highspy.HighsModelStatus.kOptimal:  # e.g. "Unknown" after a warm start: solve afresh
            return self._solve_afresh(objective, highs.modelStatusToString(status))
        solution = highs.getSolution()
        self.duals = np.asarray(solution.row_dual)[: self.b_eq.size]
        return float(highs.getObjectiveValue()), np.asarray(solution.col_value)

    def _solve_afresh(self, objective: np.ndarray, warm_status: str) -> tuple[float, np.ndarray | None]:
        """The same LP solved from scratch by scipy's HiGHS, for when the warm-started model gives no
        verdict; a second failure means the published figures contradict each other."""
        from scipy.optimize import linprog

        solved = linprog(
            objective,
            A_ub=self.a_ub.to_scipy() if self.a_ub is not None else None,
            b_ub=self.b_ub if self.a_ub is not None else None,
            A_eq=self.a_eq.to_scipy() if self.a_eq is not None else None,
            b_eq=self.b_eq if self.a_eq is not None else None,
            bounds=(0, None),
            method="highs",
        )
        if solved.status == 3:
            return float("-inf"), None
        if solved.status != 0:
            raise MisflagError(
                "the published figures are inconsistent (the disclosure audit's LP: "
                f"{warm_status}, then {solved.message})"
            )
        if self.a_eq is not None:
            self.duals = np.asarray(solved.eqlin.marginals)
        return float(solved.fun), np.asarray(solved.x)


class _Seen:
    """The least and most each pending count holds across the feasible points found so far."""

    def __init__(self, pending: list[tuple[Target, float | None, np.ndarray]], problem: _Problem) -> None:
        self.problem = problem
        self.found: list[np.ndarray] = []  # points solved in this audit, over every unknown
        self.incidence = SparseRows.from_rows(
            [(c, np.ones(c.size)) for _, _, c in pending], problem.free
        )  # row k: the unknowns of pending count k
        self.low = np.full(len(pending), np.inf)
        self.high = np.full(len(pending), -np.inf)

    def add(self, point: np.ndarray | None, new: bool = False) -> None:
        if point is None:
            return
        if new:
            self.found.append(self.problem.full(point))
        values = self.incidence.times(np.maximum(point, 0.0))
        np.minimum(self.low, values, out=self.low)
        np.maximum(self.high, values, out=self.high)

    def all_certified(
        self, pending: list[tuple[Target, float | None, np.ndarray]], protection: float
    ) -> bool:
        return all(self.certify(k, t, v, protection) is not None for k, (t, v, _) in enumerate(pending))

    def certify(self, k: int, target: Target, value: float | None, protection: float) -> Interval | None:
        """An inner bound of the count's interval when it already shows the count protected, else None."""
        low, high = float(self.low[k]), float(self.high[k])
        if value is not None and np.isfinite(value):  # the auditor's own count is feasible too
            low, high = min(low, value), max(high, value)
        interval = Interval(target, low, high, exact=False)
        return interval if np.isfinite(high) and interval.protects(protection) else None


@contextmanager
def silent_stdout() -> Iterator[None]:
    """Standard output closed at the file-descriptor level (C and C++ writes included) for the block:
    a library's banner must not land in a table the user pipes elsewhere."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        with suppress(OSError, AttributeError):
            ctypes.CDLL(None).fflush(None)  # what the C library still buffers goes to /dev/null too
        os.dup2(saved, 1)
        os.close(saved)
