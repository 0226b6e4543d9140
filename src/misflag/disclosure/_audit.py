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

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from misflag.disclosure._kept import Models
from misflag.disclosure._lp import TOLERANCE, Problem
from misflag.disclosure._matrix import SparseRows
from misflag.disclosure._model import Output, Source, Target

#: LPs with random objectives solved first in each universe: their solutions certify most counts at once.
RANDOM_POINTS = 4
#: Feasible points kept per universe between audits (each is checked again before it certifies anything).
MAX_POINTS = 64


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


class AuditSummary(dict[str, object]):
    """The audit's summary as published (the dict's items: written with the output, so into saved JSON,
    the HTML report and `released` ledger entries) and, as `auditor_only`, the diagnostics that depend
    on the withheld values (which counts are sensitive, how each was certified, the narrowest interval,
    the optimiser's rounds): kept on the in-memory result for whoever holds the data, never written.
    Every writer reads the items alone (json, orjson and the report see a dict)."""

    def __init__(self, published: dict[str, object], auditor_only: dict[str, object]) -> None:
        super().__init__(published)
        self.auditor_only = auditor_only


@dataclass(frozen=True)
class DisclosureAudit:
    """Every audited withheld count's interval, and those narrower than the protection level."""

    protection: float
    intervals: list[Interval]
    sensitive_below: float = float(
        "inf"
    )  # a count the reader knows to hold this many or more is not sensitive
    secondary: dict[str, object] | None = None  # which secondary suppression ran, and what it withheld
    #: every withheld count of the reader's model, sensitive or not: a function of the published outputs
    withheld: int = 0

    @property
    def exposed(self) -> list[Interval]:
        return [
            i
            for i in self.intervals
            if not i.protects(self.protection) and i.low < self.sensitive_below - TOLERANCE
        ]

    def summary(self) -> AuditSummary:
        """The audit's result as metadata: only what a reader works out from the published output (the
        method, the level, how many counts the rows withhold, the guarantee as a statement), the same
        whatever the withheld cells hold; the diagnostics go to `auditor_only`."""
        published: dict[str, object] = {
            "method": "linear programming (HiGHS via highspy), integrality relaxed",
            "protection_level": self.protection,
            "withheld_counts": self.withheld,
            "guarantee": guarantee(self.protection, met=not self.exposed),
        }
        if self.secondary is not None:
            published["secondary_suppression"] = {
                "methods": SECONDARY_METHODS,
                "earlier_releases": self.secondary.get("earlier_releases", []),
            }
        return AuditSummary(published, self.diagnostics())

    def diagnostics(self) -> dict[str, object]:
        """What the auditor may read and no output carries: each depends on the withheld values."""
        # a shortcut interval's ends are feasible values (perhaps the auditor's own count)
        zero = [i for i in self.intervals if i.low <= TOLERANCE]
        bounded = [i for i in self.intervals if i.exact and i.low > TOLERANCE]  # someone is there
        narrowest = min(bounded, key=lambda i: i.width, default=None)
        return {
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


#: How secondary suppression runs, as published: which of the two ran depends on the sensitive counts.
SECONDARY_METHODS = (
    "cost-aware (MILP through highspy, cuts from the audit's LP duals), else the greedy escalation; "
    "either way the output is published only after the LP audit passes"
)


def guarantee(protection: float, met: bool = True, unit: str = "people") -> str:
    """The protection goal as a statement (a measured narrowest interval would tell which count is thin),
    in the unit the audit's withheld counts count (the biometric audit's are comparisons).
    `met` is False only where the greedy escalation ran out of steps: the output then says it falls short
    rather than claim the goal (the one case where this field follows the withheld values)."""
    goal = (
        f"every withheld count of 1 to min_cell - 1 {unit} has a feasible interval, given every published "
        f"figure, at least {protection:g} {unit} wide, or one that reaches down to 0"
    )
    return goal if met else f"NOT MET (suppression ran out of steps): {goal}"


def reader_summary(
    method: str,
    protection: float,
    withheld_counts: int,
    guarantee_text: str,
    checked: int,
    protected: int,
    narrowest: tuple[float, float] | None,
    rounds: int,
) -> AuditSummary:
    """The summary of an audit that checks its own release by integer programming (the biometric and
    linkage audits): published, only what a reader works out from the rows (the method, the level, how
    many counts they withhold, the guarantee as a statement); the sensitive counts checked and protected,
    the narrowest interval and the rounds depend on the withheld values: `auditor_only`, never written."""
    published: dict[str, object] = {
        "method": method,
        "protection_level": protection,
        "withheld_counts": withheld_counts,
        "guarantee": guarantee_text,
    }
    return AuditSummary(
        published,
        {
            "withheld_counts_checked": checked,
            "withheld_counts_protected": protected,
            "narrowest_interval": None if narrowest is None else {"low": narrowest[0], "high": narrowest[1]},
            "rounds_of_further_suppression": rounds,
        },
    )


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
    more: Callable[[Target], int] | None = None,
    removable: Callable[[frozenset[Source]], bool] | None = None,
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
    `more(target)`: for an exposed count, up to that many further sets of equations that pin it
    (`_alternatives`; `removable` says which equations a pattern can take out), for cuts; the intervals
    are unchanged.
    """
    intervals: list[Interval] = []
    withheld = 0
    for number, linked in enumerate(link(outputs)):
        kept = (models or Models()).get(number, linked)
        withheld += len(kept.targets)
        audited = [(t, known(t) if known is not None else None) for t in kept.targets]
        audited = [(t, v) for t, v in audited if known is None or v is not None]
        if not audited:  # no withheld count is sensitive: no LP model is built, none solved
            continue
        problem = Problem(*kept.matrices(), sources=kept.sources())
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
        exposed: list[tuple[int, np.ndarray]] = []
        for k, (target, value, columns) in enumerate(pending):
            interval = seen.certify(k, target, value, protection)
            if interval is None:
                interval = _solve(problem, seen, target, value, columns, protection)
            intervals.append(interval)
            if settled is not None and interval.protects(protection):
                settled[target.columns.tobytes()] = interval
            if interval.exact and _exposed(interval, protection, sensitive_below):
                exposed.append((len(intervals) - 1, columns))
        # after every count is solved: these LPs change no interval, point or basis used above
        if more is not None and removable is not None:
            chains = [(i, c, more(intervals[i].target)) for i, c in exposed]
            chains = [(index, columns, limit) for index, columns, limit in chains if limit]
            for chain, (index, columns, limit) in enumerate(chains):
                limits = (limit, protection, sensitive_below, chain == len(chains) - 1)
                intervals[index] = _alternatives(problem, intervals[index], columns, limits, removable)
        if points is not None:
            points[kept.signature] = [*carried, *seen.found][-MAX_POINTS:]
    return DisclosureAudit(protection, intervals, sensitive_below, withheld=withheld)


def _exposed(interval: Interval, protection: float, sensitive_below: float) -> bool:
    return not interval.protects(protection) and interval.low < sensitive_below - TOLERANCE


def _alternatives(
    problem: Problem,
    interval: Interval,
    columns: np.ndarray,
    limits: tuple[int, float, float, bool],
    removable: Callable[[frozenset[Source]], bool],
) -> Interval:
    """Other sets of equations that pin an exposed count: its LPs solved again with the removable
    equations of every set so far taken out (their rows left free), while it stays exposed, up to `more`
    sets. Each set is a valid cut on its own: its duals bound the count in any system that keeps its
    equations, whatever else is withheld. The rows are restored after.

    `last`: no solve follows in this model. Then the lower end is not solved where the upper end alone
    frees the count (rows taken out only lower the lower end): that solve would only have decided the
    basis the next solve starts from, and there is none, so the cuts and every later solve are the same."""
    more, protection, sensitive_below, last = limits
    found: list[frozenset[frozenset[Source]]] = []
    out: set[int] = set()
    pins = interval.pins
    objective = np.zeros(problem.free)
    for _ in range(more):
        rows = problem.rows_publishing(equation for equation in pins if removable(equation)) - out
        if not rows:
            break
        out |= rows
        problem.free_rows(sorted(out))
        objective[columns] = -1.0
        high = -problem.solve(objective)[0]
        if last and Interval(interval.target, interval.low, high).protects(protection):
            break
        pins = problem.pins()
        objective[columns] = 1.0
        low = problem.solve(objective)[0]
        pins |= problem.pins()
        if not _exposed(Interval(interval.target, low, high), protection, sensitive_below):
            break
        found.append(pins)
    if out:
        problem.restore_rows(sorted(out))
    return replace(interval, alternatives=tuple(found))


def _solve(
    problem: Problem,
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


class _Seen:
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
