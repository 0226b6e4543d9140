"""A withheld count's feasibility interval: from the feasible points found so far, else from its own LPs
(the upper end, then the lower end), solved on the audit's model or first on one beside it (`probe`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from misflag.disclosure._lp import TOLERANCE, Problem
from misflag.disclosure._matrix import SparseRows
from misflag.disclosure._model import Source, Target


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
    #: more such sets, each found with the removable equations of the sets before it taken out (`more`)
    alternatives: tuple[frozenset[frozenset[Source]], ...] = ()

    @property
    def width(self) -> float:
        return self.high - self.low

    def protects(self, protection: float) -> bool:
        """At least `protection` people wide, or the reader cannot rule out that no one is in it."""
        return self.width >= protection - TOLERANCE or self.low <= TOLERANCE


def is_exposed(interval: Interval, protection: float, sensitive_below: float) -> bool:
    """Too narrow, and could hold fewer than `sensitive_below` people (a count known to hold more is not
    sensitive)."""
    return not interval.protects(protection) and interval.low < sensitive_below - TOLERANCE


#: LPs with random objectives solved first in each universe: their solutions certify most counts at once.
RANDOM_POINTS = 4

Pending = list[tuple[Target, float | None, np.ndarray]]  # (count, the auditor's value, its unknowns)


def start(
    problem: Problem, pending: Pending, carried: list[np.ndarray], number: int, protection: float
) -> Seen:
    """The points an audit starts from: the carried points that satisfy this model, then the solutions of
    up to RANDOM_POINTS random objectives (seeded by the universe's number), until they certify every
    count."""
    seen = Seen(pending, problem)
    for point in carried:
        seen.add(problem.feasible(point))
    random = np.random.default_rng(number)
    for _ in range(RANDOM_POINTS):
        if not pending or seen.all_certified(pending, protection):
            break
        seen.add(problem.solve(random.uniform(-1.0, 1.0, problem.free))[1], new=True)
    return seen


def own(problem: Problem, seen: Seen, pending: Pending, protection: float) -> list[Interval]:
    """Each count in turn, certified by the points so far or solved on `problem` (the audit's own model:
    its pins, and the bases its later solves start from, follow this order)."""
    intervals = []
    for k, (target, value, columns) in enumerate(pending):
        interval = seen.certify(k, target, value, protection)
        intervals.append(interval or solve(problem, seen, target, value, columns, protection))
    return intervals


def probe(
    problem: Problem,
    pending: Pending,
    levels: tuple[float, float],
    stop: bool,
    points: list[np.ndarray],
    first: frozenset[bytes] = frozenset(),
) -> tuple[list[Interval], Seen] | None:
    """Every pending count's interval, solved on a second model beside the audit's (`Problem.beside`:
    the unknowns the equations fix substituted out; primal simplex after its first solve): the counts in
    `first` first (those the last audit of this universe found exposed, by their columns: a count exposed
    in one round of secondary suppression usually still is in the next, and then only its LPs are lost),
    then, certified by `points` (feasible points of earlier audits, checked against this model) or
    solved, the others in turn; with `stop`, None as soon as one is exposed. No random objectives:
    on benchmark seeds 0 and 1, 0, 2, 4, 8, 12 or 16 of them before the counts made 35, 38, 38, 37, 39
    and 40 solves on seed 0 (28, 28, 30, 33, 34, 34 on seed 1): each count's own LP is the better point.

    Sound, and neutral to the patterns: a count is exposed exactly when its LP interval is too narrow,
    whatever path the solves take (points and the auditor's value lie inside the interval), so where
    none is, these are the intervals `own` would give (the same ends; inner bounds from other points).
    Only an exposed count's pins follow the path: the audit's model, untouched here, then solves."""
    protection, sensitive_below = levels
    mine = Seen(pending, problem)
    early = [k for k, (target, _, _) in enumerate(pending) if target.columns.tobytes() in first]
    later = sorted(set(range(len(pending))) - set(early))
    found: dict[int, Interval] = {}
    for turn, k in enumerate([*early, *later]):
        if turn == len(early):  # checked only now: where an early count is still exposed, not at all
            for point in points:
                mine.add(problem.feasible(point))
        target, value, columns = pending[k]
        if mine.certify(k, target, value, protection) is not None:
            continue
        if mine.problem is problem:  # the first solve: a model of its own
            mine.problem = problem.beside()
        interval = solve(mine.problem, mine, target, value, columns, protection, k)
        if stop and interval.exact and is_exposed(interval, protection, sensitive_below):
            return None
        found[k] = interval
    intervals: list[Interval] = []
    for k, (target, value, _) in enumerate(pending):
        shown = found.get(k) or mine.certify(k, target, value, protection)
        assert shown is not None  # certified at its turn, and more points only widen what they show
        intervals.append(shown)
    return intervals, mine


def solve(
    problem: Problem,
    seen: Seen,
    target: Target,
    value: float | None,
    columns: np.ndarray,
    protection: float,
    k: int | None = None,
) -> Interval:
    """The count's own LPs: the upper end, then the lower end unless the auditor's value already suffices,
    or, given the count's place `k` in `seen`, the points so far do (the probe's: its path steers nothing)."""
    objective = np.zeros(problem.free)
    objective[columns] = -1.0
    least_negated, point = problem.solve(objective)
    high = -least_negated
    seen.add(point, new=True)
    if value is not None and high - value >= protection - TOLERANCE:
        return Interval(target, value, high, exact=False)
    certified = None if k is None else seen.certify(k, target, value, protection)
    if certified is not None:
        return certified
    pins = problem.pins()
    objective[columns] = 1.0
    low, point = problem.solve(objective)
    seen.add(point, new=True)
    return Interval(target, low, high, pins=pins | problem.pins())


class Seen:
    """The least and most each pending count holds across the feasible points found so far."""

    def __init__(self, pending: list[tuple[Target, float | None, np.ndarray]], problem: Problem) -> None:
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
