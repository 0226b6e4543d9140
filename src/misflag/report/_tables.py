"""Per-group tables (values with intervals, suppression and small-denominator notes) and the
reproducibility block; these are the same for every kind of audit."""

from __future__ import annotations

import json
from typing import Any

from misflag.report._model import (
    OVERALL,
    TableBlock,
    Visible,
    cell,
    clean_warning,
    header,
    percent_decimals,
    reference_of,
    withheld_note,
)
from misflag.result import AuditResult

#: Preferred table columns, in order; other metrics follow (differences are left to the full table).
TABLE_METRICS: tuple[str, ...] = (
    "n",
    "use_cases_count",
    "high_impact_count",
    "appeal_established_share",  # the inventory headline's two safeguards, before any other share
    "independent_review_established_share",
    "base_rate",
    "selection_rate",
    "fpr",
    "fnr",
    "precision",
    "recall",
    "f1",
    "wrongful_link_rate",
    "wrongful_match_per_100k",
    "cleared_false_flags",
    "cleared_true_flags",
    "override_clear_rate",
    "new_false_flags",
    "fpr_ratio",
    "fnr_ratio",
    "ratio_to_min",
)
_MAX_COLUMNS = 8


def _metrics_for(rows: list[dict[str, Any]]) -> list[str]:
    present = list(dict.fromkeys(r["metric"] for r in rows))
    preferred = [m for m in TABLE_METRICS if m in present]
    others = [
        m for m in present if m not in preferred and not m.endswith("_diff") and not m.endswith("_ratio")
    ]
    return (preferred + others)[:_MAX_COLUMNS]


def _spread(index: dict[tuple[str, str], dict[str, Any]], group: str, metric: str) -> dict[str, Any] | None:
    """For a ratio column, a "(highest/lowest)" or "(between groups)" row's highest-over-lowest figure."""
    if not metric.endswith("_ratio"):
        return None
    return index.get((group, metric.removesuffix("_ratio") + "_max_min_ratio"))


def group_tables(visible: Visible, kind: str = "") -> list[TableBlock]:
    """One table per attribute and stage: a row per shown group, a column per main metric.

    Headers say what is counted (`header`), and each rate column prints in percent at one precision.
    """
    tables = []
    for attribute in visible.attributes():
        for stage in visible.stages():
            rows = visible.select(attribute=attribute, stage=stage)
            if not rows:
                continue
            metrics = _metrics_for(rows)
            groups = list(dict.fromkeys(r["group"] for r in rows))
            index = {(r["group"], r["metric"]): r for r in rows}
            decimals = {m: percent_decimals([r for r in rows if r["metric"] == m]) for m in metrics}
            body = []
            for group in groups:
                shown = [index.get((group, m)) or _spread(index, group, m) for m in metrics]
                notes = sorted({n for row in shown for n in clean_warning((row or {}).get("warning"))})
                cells = [cell(row, decimals[m]) for row, m in zip(shown, metrics, strict=True)]
                body.append([group, *cells, "; ".join(notes)])
            notes = ["Brackets: 95% interval."]
            reference = reference_of(rows)
            if reference:
                notes.append(f"Ratios compare each group with the reference group {reference}.")
            withheld = withheld_note(visible, attribute)
            if withheld:
                notes.append(withheld)
            title = "Everyone" if attribute == OVERALL else f"By {attribute}"
            headers = [header(m, kind) for m in metrics]
            tables.append(TableBlock(f"{title} — stage {stage}", ["group", *headers, "notes"], body, notes))
    return tables


def interval_methods(result: AuditResult) -> dict[str, str]:
    """metric → how its interval was computed, where the audit records it (`metadata["interval_methods"]`)."""
    methods = result.metadata.get("interval_methods")
    if not isinstance(methods, dict):
        return {}
    return {str(metric): _text(method) for metric, method in methods.items() if method is not None}


def full_table(visible: Visible, methods: dict[str, str] | None = None) -> TableBlock:
    """Every shown row of the long table, for readers who want each figure, its denominator and method."""
    methods = methods or {}
    columns = ["attribute", "group", "stage", "metric", "value [95% interval]", "denominator", "notes"]
    metrics = dict.fromkeys(r["metric"] for r in visible.rows)
    decimals = {m: percent_decimals([r for r in visible.rows if r["metric"] == m]) for m in metrics}
    body = [
        [
            r["attribute"],
            r["group"],
            r["stage"],
            r["metric"],
            cell(r, decimals[r["metric"]]),
            "" if r["denominator"] is None else f"{r['denominator']:,.0f}",
            r["warning"] or "",
        ]
        + ([methods.get(r["metric"], "")] if methods else [])
        for r in visible.rows
    ]
    notes = [n for a in visible.attributes() if (n := withheld_note(visible, a))]
    return TableBlock("All figures", columns + (["interval method"] if methods else []), body, notes)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def _names_groups(value: Any) -> bool:
    """Whether metadata is a list of per-group records (which may name groups the report withholds)."""
    return isinstance(value, list) and any(isinstance(v, dict) and "group" in v for v in value)


def _expression_pairs(key: str, value: Any) -> list[tuple[str, str]]:
    """Named pairs (stages) one line each; lists joined; empty expressions left out."""
    if value in (None, [], ""):
        return []
    if isinstance(value, list) and all(isinstance(x, list | tuple) and len(x) == 2 for x in value):
        singular = key[:-1] if key.endswith("s") else key
        return [(f"expression: {singular} {name}", _text(text)) for name, text in value]
    if isinstance(value, list):
        return [(f"expression: {key}", "; ".join(_text(v) for v in value))]
    return [(f"expression: {key}", _text(value))]


def reproducibility(result: AuditResult) -> list[tuple[str, str]]:
    """(label, value) pairs: input digest and size, expressions, engine, seed, replicates, version, command."""
    meta = result.metadata
    source = meta.get("input") if isinstance(meta.get("input"), dict) else {}
    pairs: list[tuple[str, str]] = [("audit", result.kind)]
    if source:
        pairs += [
            ("input", _text(source.get("description", ""))),
            ("input sha256", _text(source.get("sha256", ""))),
            (
                "input rows",
                f"{source['rows']:,}" if isinstance(source.get("rows"), int) else _text(source.get("rows")),
            ),
        ]
    expressions = meta.get("expressions")
    if isinstance(expressions, dict):
        for key, value in expressions.items():
            pairs += _expression_pairs(key, value)
    shown = {"input", "expressions", "command", "misflag_version", "audit"}
    for key, value in meta.items():
        if key in shown or value is None:
            continue
        if _names_groups(value):  # e.g. the list of suppressed cells: it would name withheld groups
            pairs.append((key.replace("_", " "), f"{len(value):,} entries (in the saved result, not shown)"))
            continue
        if isinstance(value, dict) and value and all(not isinstance(v, dict | list) for v in value.values()):
            # e.g. interval_methods: one line per metric, so each figure's method can be found
            pairs += [(f"{key.replace('_', ' ')}: {k}", _text(v)) for k, v in value.items() if v is not None]
        else:
            pairs.append((key.replace("_", " "), _text(value)))
    pairs.append(("misflag version", _text(meta.get("misflag_version", "unknown"))))
    pairs.append(("command", _text(meta.get("command", "not recorded"))))
    return pairs
