"""The decision audit's disclosure step, entered here: an output that withholds nothing and is audited
with no earlier release is published as it is, without loading the LP audit (the reader's model, the
solver, the register: 15-20 ms of CPU on every command line); anything else goes to `_protect.protect`,
the LP audit and secondary suppression, unchanged. The summary's published items come from
`disclosure._goal`, as the LP audit's do.

The LP audit's targets are the withheld counts, so an output that withholds none, linked to no earlier
release, has nothing to solve: `_protect` gives it an empty audit after one round of the optimiser. Its
summary is written here with the same items (`disclosure._goal.AuditSummary`); a test compares them with the full path's
(`tests/decisions/test_decisions_audit_shortcuts.py`). Whether an earlier release is linked is the release
register's context (`disclosure._register.RELEASED`): it can hold one only where the register's module
has been imported, so a process that never imported it has none and needs no import to know it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from misflag.disclosure._goal import METHOD, SECONDARY_METHODS, AuditSummary, guarantee, protection_level

if TYPE_CHECKING:
    from misflag.decisions._protect import Publisher, Reader

#: Groups in the table above which the optimiser gives way to the greedy escalation (`_protect`).
OPTIMISER_GROUPS = 5_000
#: The optimiser's solver, as the audit's diagnostics name it.
MILP_SOLVER = "HiGHS via highspy (MILP); cuts from the audit's LP duals"


Protected = tuple[list[dict[str, Any]], dict[str, Any], dict[str, object]]


def protect(publish: Publisher, reader: Callable[[], Reader], min_cell: int) -> Protected:
    """The published rows, their metadata and the disclosure audit's summary: the output with nothing
    forced, as it is when it withholds nothing and no earlier release is registered, else protected by
    `_protect.protect` (which takes this first publication rather than publishing it again)."""
    first = publish({"n": set(), "detail": set()})
    rows, shadow, metadata = first
    if _registered() or any(row["suppressed"] for row in rows) or _past_the_optimiser(shadow):
        from misflag.decisions import _protect

        rows, metadata, audit = _protect.protect(publish, reader(), min_cell, first)
        return rows, metadata, audit.summary()
    return rows, metadata, open_summary(min_cell)


def open_summary(min_cell: int) -> AuditSummary:
    """What `_protect.protect` publishes for an output that withholds nothing: no count to check, the
    optimiser's first round passing with no cut."""
    level = protection_level(min_cell)
    secondary: dict[str, object] = {
        "method": "milp",
        "solver": MILP_SOLVER,
        "cheapest_for_its_cuts": True,
        "rounds": 1,
        "cuts": 0,
        "earlier_releases": [],
    }
    published: dict[str, object] = {
        "method": METHOD,
        "protection_level": level,
        "withheld_counts": 0,
        "guarantee": guarantee(level),
        "secondary_suppression": {"methods": SECONDARY_METHODS, "earlier_releases": []},
    }
    diagnostics: dict[str, object] = {
        "withheld_counts_checked": 0,
        "withheld_counts_protected": 0,
        "withheld_counts_that_may_be_zero": 0,
        "withheld_counts_solved_by_their_own_lp": 0,
        "narrowest_interval": None,
        "secondary_suppression": secondary,
    }
    return AuditSummary(published, diagnostics)


def _past_the_optimiser(shadow: list[dict[str, Any]]) -> bool:
    """Whether the table has more groups (its rows of n) than the optimiser takes, which `_protect` gives
    to the greedy escalation; not counted where the table has no more rows than that."""
    return len(shadow) > OPTIMISER_GROUPS and sum(row["metric"] == "n" for row in shadow) > OPTIMISER_GROUPS


def _registered() -> bool:
    """Whether this audit runs inside a release register's `protecting()`: only code that imported the
    register's module can have set its context."""
    register = sys.modules.get("misflag.disclosure._register")
    return register is not None and register.RELEASED.get() is not None
