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

The counts' own LPs run first on a second model beside the audit's (`_intervals.probe`, primal simplex): which
counts are exposed does not depend on the path the solves take, only the exposed counts' pins do. Where
none is exposed, that pass is the audit; where one is, the audit's own model solves them all as before.
Right after an audit of the same universe that found counts exposed, the probe solves those first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from misflag.disclosure._goal import METHOD, SECONDARY_METHODS, AuditSummary, guarantee
from misflag.disclosure._intervals import Interval, Pending, is_exposed, own, probe, start
from misflag.disclosure._kept import Carried, Models
from misflag.disclosure._lp import TOLERANCE, Problem
from misflag.disclosure._model import Output, Source, Target

__all__ = ["Interval"]  # defined in `_intervals`, imported from here as before


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
            "method": METHOD,
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
    points: dict[str, Carried] | None = None,
    models: Models | None = None,
    more: Callable[[Target], int] | None = None,
    removable: Callable[[frozenset[Source]], bool] | None = None,
    pins: bool = True,
) -> DisclosureAudit:
    """Solve for every withheld count's interval over all the outputs jointly.

    `known(target)` is the auditor's own count (None: not sensitive, skip it); with it, the lower bound
    is solved only where the upper bound alone leaves the interval too narrow. `settled` holds counts
    found protected by an earlier audit of similar outputs, reused without solving (a shortcut while
    suppression is being planned; new protected counts are added to it): an output is published only
    after an audit without it. `points` holds feasible points of earlier audits per universe
    (`_kept.Carried`): each is checked against this audit's equations and, where it satisfies them,
    certifies counts as any point found now does (a sound shortcut, kept in the final audit too); this
    audit's points are added to it.
    `models` keeps each universe's model for a later audit of the very same outputs (`Models`).
    `more(target)`: for an exposed count, up to that many further sets of equations that pin it
    (`_alternatives`; `removable` says which equations a pattern can take out), for cuts; the intervals
    are unchanged. `pins`: the caller reads the exposed counts' pins (cuts), so where a count is exposed
    every count is solved on the audit's own model, in the order and from the bases as before `probe`
    (the cuts, so the patterns, are unchanged); False takes the probe's intervals, exposed or not.
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
        pending: Pending = []
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
        carried = (points or {}).get(kept.signature) or Carried()
        levels = (protection, sensitive_below)
        probed = probe(problem, pending, levels, pins, carried.every(), carried.exposed)
        if probed is not None:  # the own model has solved nothing: its points wait for `replay`
            here, mine = probed
            if points is not None:
                later = _replay(problem, pending, (number, protection), carried)
                points[kept.signature] = Carried(replay=later, extra=[*carried.every(), *mine.found])
        else:
            seen = start(problem, pending, carried.exact(), number, protection)
            here = own(problem, seen, pending, protection)
            if points is not None:
                points[kept.signature] = Carried(carried.then(seen.found))
        exposed: list[tuple[int, np.ndarray]] = []
        for (target, _, columns), interval in zip(pending, here, strict=True):
            intervals.append(interval)
            if settled is not None and interval.protects(protection):
                settled[target.columns.tobytes()] = interval
            if interval.exact and is_exposed(interval, protection, sensitive_below):
                exposed.append((len(intervals) - 1, columns))
        if points is not None:
            points[kept.signature].exposed = frozenset(
                intervals[i].target.columns.tobytes() for i, _ in exposed
            )
        # after every count is solved: these LPs change no interval, point or basis used above
        if more is not None and removable is not None:
            chains = [(i, c, more(intervals[i].target)) for i, c in exposed]
            chains = [(index, columns, limit) for index, columns, limit in chains if limit]
            for chain, (index, columns, limit) in enumerate(chains):
                limits = (limit, protection, sensitive_below, chain == len(chains) - 1)
                intervals[index] = _alternatives(problem, intervals[index], columns, limits, removable)
    return DisclosureAudit(protection, intervals, sensitive_below, withheld=withheld)


def _replay(
    problem: Problem, pending: Pending, seeds: tuple[int, float], carried: Carried
) -> Callable[[], list[np.ndarray]]:
    """The points an audit that took the probe's intervals would have found on its own model: its random
    LPs (from the earlier audits' own points), then its counts in turn (`own`), on `problem`, which
    nothing solved."""
    number, protection = seeds

    def found() -> list[np.ndarray]:
        mine = start(problem, pending, carried.exact(), number, protection)
        own(problem, mine, pending, protection)
        return carried.then(mine.found)

    return found


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
        if not is_exposed(Interval(interval.target, low, high), protection, sensitive_below):
            break
        found.append(pins)
    if out:
        problem.restore_rows(sorted(out))
    return replace(interval, alternatives=tuple(found))
