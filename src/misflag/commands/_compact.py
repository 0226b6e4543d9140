"""The compact terminal view of any audit result: groups as rows, headline figures with their intervals.

The long table (every metric of every group and stage) is for files and pipes (`--format long|csv|json`);
a person at an 80-column terminal reads this view instead, in the demo's style. Which figures are
headlines depends on the result's kind (`HEADLINES`); a kind without an entry (a new audit) gets its
metrics that carry intervals, as many as fit. Groups too small to report are withheld, label included,
exactly as in the HTML report. Cells never break a word: a row takes two lines (value, then interval)
when one does not fit, and columns that still do not fit are left to the long table, which says so; a
label with a word over 40 characters is cut with an ellipsis. Data values print as text
(`misflag._text`): never as rich markup, never as terminal control.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from misflag._text import plain, printable
from misflag.commands._compact_cells import (
    MARKS,
    Notes,
    compact_cell,
    interval_text,
    is_ratio,
    is_reference,
    reference_name,
)
from misflag.report._model import (
    COUNTED,
    OVERALL,
    Visible,
    score_stage_rule,
    visible_rows,
    withheld_note,
)
from misflag.result import AuditResult

#: Headline metrics per kind of result, with their column headers, in column order.
HEADLINES: dict[str, tuple[tuple[str, str], ...]] = {
    "decisions": (
        ("fpr", "wrongly flagged (FPR)"),
        ("fnr", "missed (FNR)"),
        ("fpr_ratio", "FPR ratio"),
        ("fnr_ratio", "FNR ratio"),
        ("cleared_false_flags", "false flags cleared"),
        ("new_false_flags", "new false flags"),
    ),
    "linkage-risk": (
        ("wrongful_match_per_100k", "wrongly matched per 100,000"),
        ("ratio_to_min", "ratio to lowest"),
        ("wrongful_match_count", "wrongly matched"),
    ),
    "biometrics": (
        ("fmr", "false match (fmr)"),
        ("fnmr", "false non-match (fnmr)"),
        ("fpir", "false positive identification (fpir)"),
        ("fnir", "false negative identification (fnir)"),
        ("fmr_ratio", "fmr ratio"),
        ("fnmr_ratio", "fnmr ratio"),
    ),
    "inventory": (
        ("use_cases_count", "use cases"),
        ("high_impact_count", "high-impact use cases"),
        ("appeal_established_share", "high-impact with an appeal process"),
        ("independent_review_established_share", "high-impact with independent review"),
    ),
    "linkage-audit": (
        ("wrongful_link_rate", "wrongly linked"),
        ("precision", "precision"),
        ("recall", "recall"),
        ("ratio_to_min", "ratio to lowest"),
    ),
}
#: Metrics never chosen as generic headlines: differences (ratios are kept; `n` is the people column).
_NOT_GENERIC = ("_diff",)
_MAX_GENERIC = 4
#: A group label wider than this is cut with an ellipsis rather than pushing every figure off the screen.
_MAX_LABEL = 40
#: A ratio column also shows the row of the same rate's highest/lowest spread (it has no group of its own).
_SPREADS = {
    "fpr_ratio": "fpr_max_min_ratio",
    "fmr_ratio": "fmr_max_min_ratio",
    "fnmr_ratio": "fnmr_max_min_ratio",
}


def _headlines(result: AuditResult, visible: Visible) -> list[tuple[str, str]]:
    """(metric, header) pairs shown for this result, in order."""
    present = {r["metric"] for r in visible.rows}
    chosen = [(m, h) for m, h in HEADLINES.get(result.kind, ()) if m in present]
    if chosen:
        return chosen
    with_intervals = dict.fromkeys(
        r["metric"]
        for r in visible.rows
        if r["ci_low"] is not None and r["metric"] != "n" and not r["metric"].endswith(_NOT_GENERIC)
    )
    metrics = list(with_intervals) or [
        m
        for m in dict.fromkeys(r["metric"] for r in visible.rows)
        if m != "n" and not m.endswith(_NOT_GENERIC)
    ]
    return [(m, m.replace("_", " ")) for m in metrics[:_MAX_GENERIC]]


def _people(visible: Visible) -> dict[tuple[str, str], float]:
    """People per group, from the `n` rows (any stage)."""
    return {
        (r["attribute"], r["group"]): r["value"]
        for r in visible.rows
        if r["metric"] == "n" and r["value"] is not None and not r["suppressed"]
    }


def _attribute_notes(visible: Visible, stage: str, metrics: Sequence[str]) -> list[str]:
    """Per attribute: the group its ratios divide by, and how many small groups are withheld."""
    lines = []
    for attribute in visible.attributes():
        rows = [
            r
            for m in metrics
            if is_ratio(m)
            for r in visible.select(attribute=attribute, stage=stage, metric=m)
        ]
        reference = next((name for r in rows if (name := reference_name(r))), None)
        if attribute != OVERALL and reference:
            lines.append(f"Ratios by {attribute}: each group's figure divided by {reference}'s.")
    for attribute in visible.attributes():
        note = withheld_note(visible, attribute)
        if note:
            lines.append(note)
    return lines


def _stage_table(
    visible: Visible,
    stage: str,
    columns: Sequence[tuple[str, str]],
    people: dict[tuple[str, str], float],
    notes: Notes,
    *,
    two_lines: bool,
    title: str,
    counted: str = "people",
) -> Table:
    table = Table(
        title=plain(title),
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        header_style="bold",
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    rows = visible.select(stage=stage)
    order = visible.attributes()  # everyone first, then each attribute as the audit listed it
    groups = sorted(
        dict.fromkeys((r["attribute"], r["group"]) for r in rows), key=lambda k: order.index(k[0])
    )
    index = {(r["attribute"], r["group"], r["metric"]): r for r in rows}
    body: list[list[str]] = []
    for key in groups:
        cells = []
        for metric, _ in columns:
            row = index.get((*key, metric))
            if row is None and metric in _SPREADS:  # e.g. the "(highest/lowest)" row of a score stage
                row = index.get((*key, _SPREADS[metric]))
            if row is not None and is_ratio(metric) and is_reference(row, key[1]):
                cells.append("reference")
                continue
            if row is not None and row["suppressed"]:
                cells.append("suppressed")
                continue
            mark = notes.mark(row["warning"]) if row is not None else ""
            cells.append(compact_cell(row, two_lines=two_lines, mark=mark))
        body.append(cells)
    labels = [word for key in groups for label in key for word in printable(label or "").split()]
    widest = min(max([5, *map(len, labels)]), _MAX_LABEL)
    table.add_column("group", min_width=widest, overflow="ellipsis")
    show_people = any(key in people for key in groups)
    if show_people:
        counts = [f"{people[key]:,.0f}" for key in groups if key in people]
        width = max(len(counted), *map(len, counts))
        table.add_column(counted, justify="right", width=width, no_wrap=True)
    for position, (_, header) in enumerate(columns):
        content = max((len(line) for cells in body for line in cells[position].splitlines()), default=0)
        width = max(content, *(len(word) for word in header.split()))
        table.add_column("\n".join(textwrap.wrap(header, width)), justify="right", width=width, no_wrap=True)
    attribute = None
    for key, cells in zip(groups, body, strict=True):
        if key[0] != attribute:
            attribute = key[0]
            if attribute != OVERALL:
                table.add_row(plain(attribute, style="bold italic"))
        label = "everyone" if key[0] == OVERALL else key[1]
        count = people.get(key)
        people_cell = [f"{count:,.0f}" if count is not None else ""] if show_people else []
        shown = plain(label)
        if max(map(len, shown.plain.split()), default=0) > _MAX_LABEL:  # a word too long to wrap: cut it
            shown.truncate(_MAX_LABEL, overflow="ellipsis")
        table.add_row(shown, *people_cell, *map(Text, cells))
    return table


def _fits(console: Console, table: Table) -> bool:
    """Whether the table fits the console with only group labels wrapped (at spaces)."""
    unbounded = console.options.update_width(10 * console.width)
    return Measurement.get(console, unbounded, table).minimum <= console.width


def stage_title(result: AuditResult, stage: str) -> str:
    """'stage NAME', and for a decision audit's score stage, the rule that chose its threshold."""
    rule = score_stage_rule(result, stage)
    return f"stage {stage}: {rule}" if rule else f"stage {stage}"


def compact_view(result: AuditResult, console: Console) -> tuple[list[RenderableType], list[str]]:
    """The tables (one per stage) and the notes under them, fitted to the console's width."""
    visible = visible_rows(result)
    headlines = _headlines(result, visible)
    people = _people(visible)
    tables: list[RenderableType] = []
    left_out: set[str] = set()
    layouts: set[bool] = set()  # how the tables shown print intervals: True = on the line below
    distinct = Notes([])
    for row in visible.rows:
        distinct.mark(row["warning"])
    notes = Notes([], generalise=len(distinct.texts) > len(MARKS))
    for stage in visible.stages():
        columns = [(m, h) for m, h in headlines if visible.select(stage=stage, metric=m)]
        if not columns:
            continue
        title = (
            stage_title(result, stage)
            if len(visible.stages()) > 2 or stage not in {"decision", "all"}
            else ""
        )
        table = None
        while columns:
            for two_lines in (False, True):
                trial = notes.copy()
                candidate = _stage_table(
                    visible,
                    stage,
                    columns,
                    people,
                    trial,
                    two_lines=two_lines,
                    title=title,
                    counted=COUNTED.get(result.kind, "people"),
                )
                if _fits(console, candidate):
                    table, notes = candidate, trial
                    shown = {m for m, _ in columns}
                    if any(
                        interval_text(r) and not r["suppressed"]
                        for r in visible.select(stage=stage)
                        if r["metric"] in shown
                    ):
                        layouts.add(two_lines)
                    break
            if table is not None:
                break
            left_out.add(columns.pop()[1])
        if table is not None:
            tables.append(table)
    lines = notes.lines()
    if any(r["suppressed"] for r in visible.rows if r["metric"] in dict(headlines)):
        lines.append(
            "suppressed: withheld for disclosure control, a small count or a figure that would give one "
            "back (--format long lists them)."
        )
    for label in dict.fromkeys(r["group"] for r in visible.rows if r["metric"] in _SPREADS.values()):
        lines.append(f"{label}: the highest group's rate divided by the lowest's, in the ratio columns.")
    if layouts:
        where = {frozenset({False}): "in brackets", frozenset({True}): "on the line below each figure"}
        lines.append(
            f"95% intervals {where.get(frozenset(layouts), 'in brackets, or on the line below the figure')}."
        )
    lines += dict.fromkeys(
        n for stage in visible.stages() for n in _attribute_notes(visible, stage, [m for m, _ in headlines])
    )
    if left_out:
        lines.append(f"Too wide for this terminal: {', '.join(sorted(left_out))}.")
    return tables, lines


#: Review queues printed under the table (at most this many items; the rest with --format json or a file).
MAX_QUEUE_ITEMS = 20


def review_queue_lines(result: AuditResult) -> list[str]:
    """A result's review queue (e.g. the inventory check's), one item per entry with the text that matched.

    Entries name programs, never people: the inventory is what agencies published about their AI use.
    """
    queue = result.extras.get("review_queue")
    if queue is None or queue.num_rows == 0 or not {"name", "matched"} <= set(queue.column_names):
        return []
    items: dict[Any, tuple[str, list[str]]] = {}
    for row in queue.to_pylist():
        label = f"{row.get('agency') or ''}: {row['name'] or ''}"
        _, texts = items.setdefault(row.get("uid", label), (label, []))
        text = " ".join(str(row["matched"] or "").split())
        if text and text not in texts:
            texts.append(text)
    shown = list(items.values())[:MAX_QUEUE_ITEMS]
    more = (
        f" (the first {len(shown)} of {len(items):,}; all with --queue FILE)"
        if len(items) > len(shown)
        else ""
    )
    lines = [f"Review queue{more}: each use case and the text that matched a pattern."]
    lines += [f"- {label} — " + "; ".join(f"“{t}”" for t in texts) for label, texts in shown]
    return lines


def render_compact(result: AuditResult, console: Console, *, footer: bool = True) -> None:
    """Print the compact view and its notes; with `footer`, say how to get every figure."""
    tables, notes = compact_view(result, console)
    if tables:
        console.print(Group(*[item for table in tables for item in (table, Text(""))]))
    else:
        console.print("(no group is large enough to report)")
    for note in notes:
        console.print(plain(note))
    if footer:
        console.print("Every metric, stage and denominator: --format long, csv or json.", markup=False)
    queue = review_queue_lines(result)
    if queue:
        console.print()
        for line in queue:
            console.print(plain(line))
