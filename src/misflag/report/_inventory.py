"""Inventory section of the HTML report: safeguards by agency, reclassifications, and the review lists."""

from __future__ import annotations

from typing import Any

import altair as alt
import pyarrow as pa
import pyarrow.compute as pc

from misflag.inventory import PRACTICES
from misflag.report._model import Chart, Section, TableBlock, Visible
from misflag.result import AuditResult

_WIDTH = 520
_MAX_ROWS = 200


def _table(title: str, table: pa.Table | None, columns: list[str], note: str) -> list[TableBlock]:
    """Up to _MAX_ROWS rows of an extras table as text (the full list is in the saved bundle)."""
    if table is None or table.num_rows == 0:
        return []
    present = [c for c in columns if c in table.column_names]
    rows = [
        ["" if r[c] is None else str(r[c]) for c in present] for r in table.slice(0, _MAX_ROWS).to_pylist()
    ]
    notes = [note] + (
        [f"First {_MAX_ROWS} of {table.num_rows:,} rows; all are in the saved bundle."]
        if table.num_rows > _MAX_ROWS
        else []
    )
    return [TableBlock(title=title, columns=present, rows=rows, notes=notes)]


def _safeguards_chart(visible: Visible) -> list[Chart]:
    """Share of high-impact use cases with each practice established, per agency (latest year)."""
    rows = [
        r for r in visible.rows if r["attribute"] == "agency" and r["metric"].endswith("_established_share")
    ]
    if not rows:
        return []
    stage = max(r["stage"] for r in rows)
    records: list[dict[str, Any]] = [
        {
            "agency": r["group"],
            "practice": r["metric"].removesuffix("_established_share").replace("_", " "),
            "share": r["value"],
            "high_impact": r["denominator"],
        }
        for r in rows
        if r["stage"] == stage and r["metric"].removesuffix("_established_share") in PRACTICES
    ]
    spec = (
        alt.Chart(alt.Data(values=records))
        .mark_rect()
        .encode(
            x=alt.X("practice:N", title=None),
            y=alt.Y("agency:N", title=None),
            color=alt.Color("share:Q", scale=alt.Scale(domain=[0, 1]), title="established"),
            tooltip=[
                "agency:N",
                "practice:N",
                alt.Tooltip("share:Q", format=".0%"),
                alt.Tooltip("high_impact:Q", title="high-impact use cases"),
            ],
        )
        .properties(title=f"Minimum practices established, {stage}", width=_WIDTH)
    )
    return [
        Chart(
            title=f"Safeguards by agency ({stage})",
            spec=spec.to_dict(),
            caption="Share of each agency's high-impact use cases reporting the practice as established.",
        )
    ]


def _reclassification_chart(table: pa.Table | None) -> list[Chart]:
    """Linked use cases by impact class before and after, per year step."""
    if table is None or table.num_rows == 0:
        return []
    spec = (
        alt.Chart(alt.Data(values=table.to_pylist()))
        .mark_bar()
        .encode(
            y=alt.Y("impact_prev:N", title="previous year"),
            x=alt.X("use_cases:Q", title="linked use cases"),
            color=alt.Color("impact_next:N", title="next year"),
            row=alt.Row("step:N", title=None),
            tooltip=["step:N", "impact_prev:N", "impact_next:N", "use_cases:Q"],
        )
        .properties(width=_WIDTH)
    )
    return [
        Chart(
            title="Reclassifications between years",
            spec=spec.to_dict(),
            caption="Each bar: use cases linked to a predecessor, by impact class before (bar) and after (colour).",
        )
    ]


def inventory_sections(result: AuditResult, visible: Visible) -> list[Section]:
    """Scorecard, history and review-queue sections, whichever the result holds."""
    extras = result.extras
    sections = []
    if "scorecard" in extras:
        sections.append(
            Section(
                title="Scorecard",
                charts=_safeguards_chart(visible),
                tables=_table(
                    "High-impact use cases lacking an appeal process or independent review",
                    extras.get("lacking_safeguards"),
                    ["year", "agency", "bureau", "name", "appeal_raw", "independent_review_raw", "lacks"],
                    "Raw answers as the agency reported them.",
                ),
            )
        )
    if "history" in extras:
        changed = extras["history"].filter(pc.field("reclassified"))
        sections.append(
            Section(
                title="History across years",
                charts=_reclassification_chart(extras.get("reclassifications")),
                tables=_table(
                    "Reclassified use cases",
                    changed,
                    [
                        "step",
                        "agency",
                        "name_prev",
                        "name_next",
                        "impact_raw_prev",
                        "impact_raw_next",
                        "score",
                    ],
                    "score: Splink match probability of the link.",
                ),
            )
        )
    if "review_queue" in extras:
        sections.append(
            Section(
                title="Review queue",
                tables=_table(
                    "Use cases to read",
                    extras["review_queue"],
                    ["year", "agency", "bureau", "name", "impact_raw", "pattern", "field", "context"],
                    "A hit is a prompt to read the use case, not a finding.",
                )
                + _table(
                    "Patterns", extras.get("patterns"), ["id", "category", "regex", "reason", "version"], ""
                ),
            )
        )
    return sections
