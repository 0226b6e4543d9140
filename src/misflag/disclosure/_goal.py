"""What the disclosure audit publishes about itself, whatever the withheld cells hold: its method, how
secondary suppression runs, and the protection goal as a statement. Light (no solver): the decision audit's
shortcut for an output that withholds nothing (`decisions/_protect_open.py`) writes the same items without
loading the LP audit."""

from __future__ import annotations

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
