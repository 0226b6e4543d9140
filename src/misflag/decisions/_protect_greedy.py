"""The greedy escalation, the fallback of the decision audit's disclosure protection (`_protect`) when
the cost-aware optimiser gives up: an exposed group is withheld one step further per round (every figure
but n; then the whole group; then the published group of the same attribute that shares the most values
with it), the last resort withholding every group of that attribute, then of every attribute. Each
round is published and audited by `_protect`'s rounds; the audit decides, as it does for the optimiser."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from misflag.decisions._disclosure import Forced
from misflag.disclosure import DisclosureAudit, Interval
from misflag.result import JOIN, OVERALL_ATTRIBUTE

if TYPE_CHECKING:
    from misflag.decisions._protect import _Rounds

MAX_ROUNDS = 40


def greedy(rounds: _Rounds) -> tuple[list[dict[str, Any]], dict[str, Any], DisclosureAudit]:
    """The fallback: withhold one step more of each exposed group per round, until nothing is exposed."""
    forced: Forced = {"n": set(), "detail": set()}
    settled: dict[bytes, Interval] = {}
    for round_number in range(MAX_ROUNDS + 1):
        rows, _, metadata, audit = rounds.run(forced, settled)
        if not audit.exposed:
            # the complementary suppressions are planned afresh each round, so a count settled in an
            # earlier round may have lost room since: the output is audited once more in full
            rows, _, metadata, audit = rounds.run(forced)
            if not audit.exposed:
                return rows, metadata, audit
            settled.clear()
        units = _worst_per_attribute(audit.exposed)
        if round_number < MAX_ROUNDS - 1 and _escalate(forced, units, rows):
            continue
        # last resorts: every group of the exposed attributes, then every group of every attribute
        groups = {
            (r["attribute"], r["group"])
            for r in rows
            if r["metric"] == "n" and r["attribute"] != OVERALL_ATTRIBUTE
        }
        attributes = {attribute for attribute, _ in units}
        wider = {unit for unit in groups if unit[0] in attributes}
        if wider <= forced["n"]:
            wider = groups
        if wider <= forced["n"]:
            return rows, metadata, audit
        forced["n"] |= wider
    return rows, metadata, audit


def _worst_per_attribute(exposed: list[Interval]) -> set[tuple[str, str | None]]:
    """Per attribute, the group with the most exposed counts: one step at a time, so that a group
    withheld for one exposure can settle others before more is withheld."""
    tally: dict[tuple[str, str | None], int] = {}
    for interval in exposed:
        for row in interval.target.rows:
            tally[(row[1], row[2])] = tally.get((row[1], row[2]), 0) + 1
    best: dict[str, tuple[str, str | None]] = {}
    for unit, _count in sorted(tally.items(), key=lambda item: (-item[1], str(item[0]))):
        best.setdefault(unit[0], unit)
    return set(best.values())


def _escalate(forced: Forced, units: set[tuple[str, str | None]], rows: list[dict[str, Any]]) -> bool:
    """One more step of suppression for each exposed group; False when no step is left."""
    published = {
        (r["attribute"], r["group"]): float(r["value"])
        for r in rows
        if r["metric"] == "n" and not r["suppressed"] and r["value"]
    }
    changed = False
    for unit in sorted(units, key=str):
        if unit in published and unit not in forced["detail"]:
            forced["detail"].add(unit)
        elif unit in published:
            forced["n"].add(unit)
        else:
            partner = _partner(unit, published, forced)
            if partner is None:
                continue
            forced["n"].add(partner)
        changed = True
    return changed


def _partner(
    unit: tuple[str, str | None], published: dict[tuple[str, str | None], float], forced: Forced
) -> tuple[str, str | None] | None:
    """The published group of the same attribute sharing the most values with the unit, then the smallest."""
    attribute, group = unit
    values = set((group or "").split(JOIN))
    candidates = [
        (len(values & set((other or "").split(JOIN))), -size, str(other), (a, other))
        for (a, other), size in published.items()
        if a == attribute and (a, other) not in forced["n"] and a != OVERALL_ATTRIBUTE
    ]
    return max(candidates)[3] if candidates else None
