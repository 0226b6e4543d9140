"""The audit by linear programming: each withheld count's feasibility interval, as tau-ARGUS checks it.

For every withheld count the reader's model (`_model`) is solved twice with HiGHS (scipy's `linprog`):
the least and the most people the count can hold given everything published, counts non-negative
(integrality relaxed, which can only widen the interval, so a narrow LP interval is a real exposure).
A withheld count is protected when that interval is at least `protection` people wide, or reaches
down to 0 (the reader cannot tell that anyone is in it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from misflag.disclosure._model import Output, Target, Universe, build
from misflag.errors import MisflagError

TOLERANCE = 1e-6


@dataclass(frozen=True)
class Interval:
    """What a reader can learn of one withheld count: between `low` and `high` people."""

    target: Target
    low: float
    high: float
    exact: bool = True  # False: only the upper end was solved (`low` is then the auditor's own value)

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

    @property
    def exposed(self) -> list[Interval]:
        return [
            i
            for i in self.intervals
            if not i.protects(self.protection) and i.low < self.sensitive_below - TOLERANCE
        ]

    def summary(self) -> dict[str, object]:
        """The audit's result as metadata: counts checked and protected, the narrowest interval."""
        # a shortcut interval's low end is the auditor's own count: never published
        solved = [i for i in self.intervals if i.exact]
        bounded = [i for i in solved if i.low > TOLERANCE]  # the reader knows someone is there
        narrowest = min(bounded, key=lambda i: i.width, default=None)
        return {
            "method": "linear programming (HiGHS via scipy.optimize.linprog), integrality relaxed",
            "protection_level": self.protection,
            "withheld_counts_checked": len(self.intervals),
            "withheld_counts_protected": len(self.intervals) - len(self.exposed),
            "withheld_counts_that_may_be_zero": len(solved) - len(bounded),
            "narrowest_interval": None
            if narrowest is None
            else {
                "low": round(narrowest.low, 6),
                "high": round(narrowest.high, 6),
                "rows": len(narrowest.target.rows),
            },
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
) -> DisclosureAudit:
    """Solve for every withheld count's interval over all the outputs jointly.

    `known(target)` is the auditor's own count (None: not sensitive, skip it); with it, the lower bound
    is solved only where the upper bound alone leaves the interval too narrow. `settled` holds counts
    found protected by an earlier audit of similar outputs, reused without solving (a shortcut while
    suppression is being planned; new protected counts are added to it): an output is published only
    after an audit without it.
    """
    intervals: list[Interval] = []
    for number, linked in enumerate(link(outputs)):
        universe = Universe(linked)
        model, targets = build(universe, number)
        position, a_eq, b_eq, a_ub, b_ub = model.matrices()
        free = int((position >= 0).sum())
        for target in targets:
            value = known(target) if known is not None else None
            if known is not None and value is None:
                continue
            earlier = (settled or {}).get(target.columns.tobytes())
            if earlier is not None and earlier.protects(protection):
                intervals.append(Interval(target, earlier.low, earlier.high, earlier.exact))
                continue
            columns = position[target.columns][position[target.columns] >= 0]
            if columns.size == 0:  # every person it could hold is known to be absent
                intervals.append(Interval(target, 0.0, 0.0))
                continue
            high = _extreme(columns, -1.0, free, a_eq, b_eq, a_ub, b_ub)
            if value is not None and high - value >= protection - TOLERANCE:
                intervals.append(Interval(target, value, high, exact=False))
            else:
                intervals.append(Interval(target, _extreme(columns, 1.0, free, a_eq, b_eq, a_ub, b_ub), high))
            if settled is not None and intervals[-1].protects(protection):
                settled[target.columns.tobytes()] = intervals[-1]
    return DisclosureAudit(protection, intervals, sensitive_below)


def _extreme(
    columns: np.ndarray,
    sign: float,
    unknowns: int,
    a_eq: object,
    b_eq: np.ndarray,
    a_ub: object,
    b_ub: np.ndarray,
) -> float:
    """The least (sign 1) or most (sign -1) people the columns can hold; inf when unbounded."""
    objective = np.zeros(unknowns)
    objective[columns] = sign
    solved = linprog(
        objective,
        A_ub=a_ub,
        b_ub=b_ub if a_ub is not None else None,
        A_eq=a_eq,
        b_eq=b_eq if a_eq is not None else None,
        bounds=(0, None),
        method="highs",
    )
    if solved.status == 3:
        return float("inf")
    if solved.status != 0:
        raise MisflagError(
            f"the published figures are inconsistent (the disclosure audit's LP: {solved.message})"
        )
    return float(sign * solved.fun)
