"""The decision audit's last step before it publishes: the disclosure audit by linear programming, and
more suppression until every sensitive withheld count is protected (docs/disclosure.md).

A withheld count is sensitive when it holds from 1 to `min_cell` - 1 people (a group's size, a rate's
numerator or denominator; an empty count is not sensitive, as in tau-ARGUS's threshold rule). Each sensitive count's feasibility interval, solved from everything the
output publishes, must be at least `min_cell` people wide (+-min_cell/2). While one is narrower, its
group is withheld further, one step per round: every figure but n; then the whole group; then the
published group of the same attribute that shares the most values with it (its nearest sibling), so
the complementary suppression gains room. The last resort withholds every group of that attribute.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from misflag.decisions._disclosure import Forced
from misflag.decisions._groups import Grouping
from misflag.disclosure import FIGURES, DisclosureAudit, Interval, Output, Target, audit_outputs, base_metric
from misflag.result import JOIN, OVERALL_ATTRIBUTE

MAX_ROUNDS = 40

#: forced suppressions -> (published rows, the same rows with nothing withheld, metadata to publish)
Publisher = Callable[[Forced], tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]]


@dataclass(frozen=True)
class Reader:
    """How a reader of this audit's output sees it (everything but the rows, which change per round)."""

    groups: tuple[str, ...]
    stages: dict[str, str]
    truth: str
    weighted: bool
    digest: str
    filtered: bool
    missing_label: str
    groupings: list[Grouping]

    def output(self, rows: list[dict[str, Any]], metadata: dict[str, Any]) -> Output:
        keys = {
            (grouping.attribute, grouping.output_label(g)): key
            for grouping in self.groupings
            for g, key in enumerate(grouping.keys)
        }
        return Output(
            name="this audit",
            rows=rows,
            groups=self.groups,
            stages=self.stages,
            truth=self.truth,
            weighted=self.weighted,
            population=self.digest,
            rows_audited=metadata.get("rows_audited"),
            input_rows=None if self.filtered else (metadata.get("input") or {}).get("rows"),
            missing_label=self.missing_label,
            keys=keys,
        )


def protect(
    publish: Publisher, reader: Reader, min_cell: int
) -> tuple[list[dict[str, Any]], dict[str, Any], DisclosureAudit]:
    """Publish, audit, withhold more, until no sensitive withheld count is too narrow; the output is
    audited in full (no earlier interval reused; earlier rounds' points only where they satisfy every
    equation of this output) before it is returned."""
    forced: Forced = {"n": set(), "detail": set()}
    settled: dict[bytes, Interval] = {}
    points: dict[str, list[np.ndarray]] = {}  # feasible points of earlier rounds, re-checked before use
    level = protection_level(min_cell)
    for round_number in range(MAX_ROUNDS + 1):
        rows, shadow, metadata = publish(forced)
        output, known = reader.output(rows, metadata), _known(shadow, min_cell, reader)
        audit = audit_outputs([output], level, known, settled, points=points)
        if not audit.exposed:
            # the complementary suppressions are planned afresh each round, so a count settled in an
            # earlier round may have lost room since: the output is audited once more in full
            audit = audit_outputs([output], level, known, points=points)
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


def protection_level(min_cell: int) -> float:
    """How wide a sensitive withheld count's interval must be: min_cell / 2 people (at least 1)."""
    return max(1.0, math.ceil(min_cell / 2))


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


def _known(shadow: list[dict[str, Any]], min_cell: int, reader: Reader) -> Callable[[Target], float | None]:
    """The auditor's own value of a withheld count, when it is sensitive (under min_cell); else None."""
    table = {(r["attribute"], r["group"], r["stage"], r["metric"]): r for r in shadow}

    def known(target: Target) -> float | None:
        _, attribute, group, stage, metric, part = target.rows[0]
        figure = base_metric(metric) or metric
        row = table.get((attribute, group, stage, figure))
        if row is None:
            return float("nan")  # not in the auditor's table: audit it, value unknown
        if part == "n":
            value = float(row["value"])
        elif part == "denominator":
            value = float(row["denominator"] or 0.0)
        elif reader.weighted and FIGURES[figure][2]:
            return float("nan")
        else:
            value = float(round((row["value"] or 0.0) * (row["denominator"] or 0.0)))
        return value if 1 <= value < min_cell else None

    return known


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
