"""The margins of an audited table of counts, as lines a reader compares with the source's own totals.

Published tables print totals (people per group, people selected); if the counts typed in from a table
do not give those totals back, a row was mistyped or the table does not add up. Only figures the audit
publishes are listed, so a withheld group's size is never printed here.
"""

from __future__ import annotations

from typing import Any

from misflag.result import ALL_STAGES, JOIN, OVERALL_ATTRIBUTE, AuditResult


def margin_lines(result: AuditResult) -> list[str]:
    """'attribute: group N people (F flagged, P with truth 1)' per published single attribute."""
    rows = result.rows()
    spec = result.metadata.get("spec") or {}
    stages = [name for name, _ in spec.get("stages") or []] or ["decision"]
    published = {
        (r["attribute"], r["group"], r["stage"], r["metric"]): r["value"]
        for r in rows
        if not r["suppressed"] and r["value"] is not None
    }
    counts = result.metadata.get("counts") or {}
    lines = [
        "Margins of this table of counts, to compare with the published totals "
        f"({counts.get('input_rows') or 0:,} input rows):"
    ]
    by_attribute: dict[str, list[str]] = {}
    for row in rows:
        key = (row["attribute"], row["group"], ALL_STAGES, "n")
        if row["metric"] != "n" or JOIN in row["attribute"] or key not in published:
            continue
        people = published[key]
        parts = [f"{people:,.0f} people"]
        selected = published.get((row["attribute"], row["group"], stages[-1], "selection_rate"))
        if selected is not None:
            parts.append(f"{round(people * selected):,} flagged")
        positives = published.get((row["attribute"], row["group"], ALL_STAGES, "base_rate"))
        if positives is not None:
            parts.append(f"{round(people * positives):,} with truth 1")
        label = "all" if row["attribute"] == OVERALL_ATTRIBUTE else _label(row["group"])
        by_attribute.setdefault(row["attribute"], []).append(f"{label} {', '.join(parts)}")
    lines += [f"  {attribute}: {'; '.join(items)}" for attribute, items in by_attribute.items()]
    return lines


def _label(group: Any) -> str:
    return "(missing)" if group is None else str(group)
