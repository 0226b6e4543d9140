"""What the disclosure audit publishes about itself, whatever the withheld cells hold: its method, how
secondary suppression runs, the protection level and the goal as a statement, in the summary's form. Light (no solver): the decision audit's
shortcut for an output that withholds nothing (`decisions/_protect_open.py`) writes the same items without
loading the LP audit."""

from __future__ import annotations

import math

#: The LP audit, as published.
METHOD = "linear programming (HiGHS via highspy), integrality relaxed"
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


def protection_level(min_cell: int) -> float:
    """How wide a sensitive withheld count's interval must be: min_cell / 2 people (at least 1)."""
    return max(1.0, math.ceil(min_cell / 2))


class AuditSummary(dict[str, object]):
    """The audit's summary as published (the dict's items: written with the output, so into saved JSON,
    the HTML report and `released` ledger entries) and, as `auditor_only`, the diagnostics that depend
    on the withheld values (which counts are sensitive, how each was certified, the narrowest interval,
    the optimiser's rounds): kept on the in-memory result for whoever holds the data, never written.
    Every writer reads the items alone (json, orjson and the report see a dict)."""

    def __init__(self, published: dict[str, object], auditor_only: dict[str, object]) -> None:
        super().__init__(published)
        self.auditor_only = auditor_only
