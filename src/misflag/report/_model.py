"""What a report is made of: sections holding plain-text findings, charts and tables (all escaped on output).

Kind-specific builders turn an `AuditResult` into sections; `visible_rows` is the one place that decides
which groups a report may name (groups under the audit's minimum cell are withheld, label included).
"""

from __future__ import annotations

import re
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


_LONG_NUMBER = re.compile(r"\d+\.\d{4,}(?:e-?\d+)?")


def display_stage(stage: str) -> str:
    """A stage name for chart titles, numbers to 4 significant figures ('score>3.442'); display only.

    Tables and the rule's own line keep the exact threshold, so the figure applied can always be read.
    """
    return _LONG_NUMBER.sub(lambda m: f"{float(m.group()):.4g}", stage)


def score_stage_rule(result: AuditResult, stage: str) -> str | None:
    """For a decision audit's score stage, the rule that chose its threshold; None for any other stage.

    With --score and no --threshold, the audit adds a stage at the lowest threshold whose overall false
    positive rate is at most --target-fpr: terminal and report say so, so the stage is never a surprise.
    """
    spec = result.metadata.get("spec") or {}
    threshold = result.metadata.get("global_threshold")
    if result.kind != "decisions" or not stage.startswith("score") or threshold is None:
        return None
    rule = f"flagged when {spec.get('score')} >= {threshold:g}"
    if spec.get("threshold") is None and spec.get("target_fpr") is not None:
        return (
            f"{rule}, the lowest threshold that wrongly flags at most {100 * spec['target_fpr']:g}% of "
            "everyone (--target-fpr; --threshold sets it)"
        )
    return f"{rule} (--threshold)"


def by_attribute(attribute: str) -> str:
    """'by race', or 'for everyone' for the whole-population rows (never 'by overall')."""
    return "for everyone" if attribute == OVERALL else f"by {attribute}"


def withheld_note(visible: Visible, attribute: str) -> str | None:
    """The sentence saying how many groups of an attribute are withheld, if any, and why."""
    count = visible.withheld.get(attribute, 0)
    if not count:
        return None
    rule = f" (--min-cell {visible.min_cell})" if visible.min_cell else ""
    # one reason for every withheld group: which of them are small is itself what is withheld
    return (
        f"{count} group(s) of {attribute} are withheld for disclosure control{rule}, each a small group or "
        "one that would give a small one back: neither their figures nor their names are shown."
    )


def is_rate(metric: str) -> bool:
    """Whether a metric is a share (printed in percent): not a count, ratio, difference or per-100k figure.

    A difference of two shares (`fpr_diff`) is printed in percentage points by `cell` all the same.
    """
    return not (
        metric == "n"
        or metric.endswith(("_n", "count", "_ratio", "_diff", "_gini"))
        or metric.startswith("ratio")
        or "per_" in metric
        or metric == "fdr"
    )


def percent_decimals(rows: list[dict[str, Any]]) -> int:
    """Fewest decimals (2 to 6) at which, in percent, no non-zero rate reads 0 and no interval collapses.

    One table prints a rate in one unit with one precision, so an FMR of 0.004% sits beside 0.000% with
    an interval that shows its width (never '0.00%–9.6e-05', never '0.00 – 0.00').
    """

    def shown(value: float, decimals: int) -> str:
        return f"{100 * value:.{decimals}f}"

    for decimals in range(2, 7):
        if all(
            (not r["value"] or shown(abs(r["value"]), decimals) != shown(0.0, decimals))
            and (
                r["ci_low"] is None
                or r["ci_high"] is None
                or r["ci_high"] <= r["ci_low"]
                or shown(r["ci_low"], decimals) != shown(r["ci_high"], decimals)
            )
            for r in rows
            if r["value"] is not None and not r["suppressed"]
        ):
            return decimals
    return 6


def cell(row: dict[str, Any] | None, decimals: int | None = None) -> str:
    """A value with its 95% interval, or why there is none; a rate in percent at `decimals` when given."""
    if row is None:
        return ""
    if row["suppressed"]:
        return "suppressed"
    metric = row["metric"]

    def number(value: float | None) -> str:
        if decimals is not None and value is not None and is_rate(metric.removesuffix("_diff")):
            return f"{100 * value:.{decimals}f}%"
        return format_number(value, metric)

    if row["value"] is None and row["ci_low"] is not None:  # only a range is known (missing truth)
        high = "no limit" if row["ci_high"] is None else number(row["ci_high"])
        return f"range {number(row['ci_low'])} – {high}"
    text = number(row["value"])
    if row["ci_low"] is not None and row["ci_high"] is not None and row["value"] is not None:
        text += f" [{number(row['ci_low'])} – {number(row['ci_high'])}]"
    return text


#: What a count column counts, per kind of audit (a biometric audit's n counts comparisons, not people).
COUNTED = {"biometrics": "comparisons", "inventory": "use cases"}
#: Column headers in words, the metric's own name kept in brackets so the full table can be matched.
HEADERS = {
    "selection_rate": "flagged (selection_rate)",
    "fpr": "wrongly flagged (fpr)",
    "fnr": "missed (fnr)",
    "fmr": "false matches (fmr)",
    "fnmr": "false non-matches (fnmr)",
    "impostor_n": "impostor comparisons",
    "genuine_n": "genuine comparisons",
    "use_cases_count": "use cases",
    "high_impact_count": "high-impact use cases",
    "appeal_established_share": "high-impact with an appeal process (appeal_established_share)",
    "independent_review_established_share": "high-impact with independent review "
    "(independent_review_established_share)",
    "wrongful_link_rate": "people wrongly linked (wrongful_link_rate)",
}


def header(metric: str, kind: str) -> str:
    """A table column's header saying what is counted: 'people', 'comparisons', 'wrongly flagged (fpr)'."""
    if metric == "n":
        return COUNTED.get(kind, "people")
    return HEADERS.get(metric, metric)


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
