"""What a report is made of: sections holding plain-text findings, charts and tables (all escaped on output).

Kind-specific builders turn an `AuditResult` into sections; `visible_rows` is the one place that decides
which groups a report may name (groups under the audit's minimum cell are withheld, label included).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from misflag.result import OVERALL_ATTRIBUTE as OVERALL  # attribute of the whole-population rows
from misflag.result import AuditResult, format_number


@dataclass
class Chart:
    """One Vega-Lite chart: its spec (data inlined) and a caption saying how to read it."""

    title: str
    spec: dict[str, Any]
    caption: str = ""


@dataclass
class TableBlock:
    """A small table of already formatted cells, with notes printed under it."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


@dataclass
class Section:
    """A titled part of the report; every string in it is plain text and escaped when rendered."""

    title: str
    findings: list[str] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[TableBlock] = field(default_factory=list)


SectionBuilder = Callable[[AuditResult, "Visible"], list[Section]]


@dataclass
class Visible:
    """The rows a report may show: suppressed groups removed, and how many were withheld per attribute."""

    rows: list[dict[str, Any]]
    withheld: dict[str, int]
    min_cell: int | None

    def select(self, **wanted: Any) -> list[dict[str, Any]]:
        """Rows whose fields equal every given value (a value may also be a set of allowed values)."""
        return [
            r
            for r in self.rows
            if all(r[k] in v if isinstance(v, set | frozenset) else r[k] == v for k, v in wanted.items())
        ]

    def attributes(self) -> list[str]:
        """Attributes in table order, the overall row first."""
        seen = dict.fromkeys(r["attribute"] for r in self.rows)
        return sorted(seen, key=lambda a: (a != OVERALL, list(seen).index(a)))

    def stages(self) -> list[str]:
        """Stages in table order."""
        return list(dict.fromkeys(r["stage"] for r in self.rows))


def visible_rows(result: AuditResult) -> Visible:
    """Drop every group that is suppressed as a whole (its `n` row, or all its rows), label included.

    A group under the minimum cell size is never named in a report: its label could itself identify
    someone (e.g. a group by name). Single suppressed cells of a shown group stay, printed as suppressed.
    """
    rows = result.rows()
    by_group: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        by_group.setdefault((r["attribute"], r["group"]), []).append(r)
    hidden = {
        key
        for key, members in by_group.items()
        if all(r["suppressed"] for r in members)
        or any(r["suppressed"] and r["metric"] == "n" for r in members)
    }
    withheld: dict[str, int] = {}
    for attribute, _group in hidden:
        withheld[attribute] = withheld.get(attribute, 0) + 1
    min_cell = result.metadata.get("min_cell")
    return Visible(
        rows=[r for r in rows if (r["attribute"], r["group"]) not in hidden],
        withheld=withheld,
        min_cell=int(min_cell) if isinstance(min_cell, int | float) else None,
    )


def by_attribute(attribute: str) -> str:
    """'by race', or 'for everyone' for the whole-population rows (never 'by overall')."""
    return "for everyone" if attribute == OVERALL else f"by {attribute}"


def withheld_note(visible: Visible, attribute: str) -> str | None:
    """The sentence saying how many groups of an attribute are withheld, if any, and why."""
    count = visible.withheld.get(attribute, 0)
    if not count:
        return None
    size = f"fewer than {visible.min_cell} people" if visible.min_cell else "too few people"
    return (
        f"{count} group(s) of {attribute} are withheld ({size}, or so that a withheld group cannot be "
        "recovered by subtraction): neither their figures nor their names are shown."
    )


def cell(row: dict[str, Any] | None) -> str:
    """A value with its 95% interval, or why there is none."""
    if row is None:
        return ""
    if row["suppressed"]:
        return "suppressed"
    metric = row["metric"]
    text = format_number(row["value"], metric)
    if row["ci_low"] is not None and row["ci_high"] is not None and row["value"] is not None:
        text += f" [{format_number(row['ci_low'], metric)} – {format_number(row['ci_high'], metric)}]"
    return text


def clean_warning(warning: str | None) -> list[str]:
    """The notes of a row without the 'vs REFERENCE' tag (shown once per table instead)."""
    if not warning:
        return []
    return [
        part.strip() for part in warning.split(";") if part.strip() and not part.strip().startswith("vs ")
    ]


def reference_of(rows: list[dict[str, Any]]) -> str | None:
    """The reference group named by ratio rows ('vs GROUP; ...'), if any."""
    for r in rows:
        warning = r.get("warning") or ""
        if r["metric"].endswith("_ratio") and warning.startswith("vs "):
            return warning[3:].split(";")[0].strip()
    return None
