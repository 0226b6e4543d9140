"""Consistency check: use cases whose own text describes acting on individuals, classified not high-impact.

Transparent rules only: a published, versioned list of patterns (patterns.yaml), each with the reason it
flags; every hit carries the text that matched. The output is a review queue, not a verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from misflag._text import shown
from misflag.engine import DuckDBEngine
from misflag.errors import EngineError, RuleError, literal
from misflag.inventory._load import Inventory
from misflag.inventory._mapping import CATEGORIES, TEXT_FIELDS
from misflag.inventory._scorecard import CENSUS_NOTE, impact_years
from misflag.io import read_data_file
from misflag.result import AuditResult, make_row, rows_to_table

PATTERNS_FORMAT = "misflag-inventory-patterns/1"
_CONTEXT = 80


@dataclass(frozen=True)
class Pattern:
    """One rule: what it looks for, the category it belongs to, and why it flags."""

    id: str
    category: str
    regex: str
    reason: str


@dataclass(frozen=True)
class PatternSet:
    """A versioned list of patterns, the text fields they read and the impact classes they apply to."""

    version: str
    fields: tuple[str, ...]
    classes: tuple[str, ...]
    patterns: tuple[Pattern, ...]
    source: str

    def table(self) -> pa.Table:
        """The rules as a table (published with every result)."""
        return pa.Table.from_pylist([{**p.__dict__, "version": self.version} for p in self.patterns])


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def parse_patterns(data: Any, where: str) -> PatternSet:
    """A PatternSet from parsed YAML; every regex is compiled by Python and by DuckDB's RE2."""
    if not isinstance(data, dict) or data.get("format") != PATTERNS_FORMAT:
        raise RuleError(f"{where} is not a misflag pattern file (format: {PATTERNS_FORMAT})")
    fields = tuple(str(f) for f in data.get("fields") or ())
    classes = tuple(str(c) for c in data.get("classes") or ())
    if not fields or not set(fields) <= set(TEXT_FIELDS):
        raise RuleError(f"{where}: 'fields' must list text fields among {', '.join(TEXT_FIELDS)}")
    if not classes or not set(classes) <= set(CATEGORIES["impact"]):
        raise RuleError(
            f"{where}: 'classes' must list impact classes among {', '.join(CATEGORIES['impact'])}"
        )
    patterns = []
    engine = DuckDBEngine(sandbox=True)  # patterns are user text: checked on a locked engine
    try:
        for index, item in enumerate(data.get("patterns") or []):
            missing = [
                k
                for k in ("id", "category", "regex", "reason")
                if not (isinstance(item, dict) and item.get(k))
            ]
            if missing:
                raise RuleError(f"{where}: pattern {index + 1} lacks {', '.join(missing)}")
            pattern = Pattern(str(item["id"]), str(item["category"]), str(item["regex"]), str(item["reason"]))
            try:
                re.compile(pattern.regex)
                engine.sql(f"SELECT regexp_matches('', {_sql_string('(?i)' + pattern.regex)})")
            except (re.error, EngineError) as error:
                raise RuleError(
                    f"{where}: pattern {literal(shown(pattern.id))} is not a valid regular expression: {error}"
                ) from None
            patterns.append(pattern)
    finally:
        engine.close()
    if not patterns:
        raise RuleError(f"{where} defines no patterns")
    if len({p.id for p in patterns}) != len(patterns):
        raise RuleError(f"{where}: pattern ids must be unique")
    return PatternSet(str(data.get("version", "")), fields, classes, tuple(patterns), where)


def read_patterns(path: str | Path | None = None) -> PatternSet:
    """The built-in pattern file, or a user's own."""
    if path is None:
        text = (resources.files("misflag.inventory") / "patterns.yaml").read_text(encoding="utf-8")
        return parse_patterns(yaml.safe_load(text), "patterns.yaml")
    return parse_patterns(read_data_file(path, "pattern file", RuleError), str(path))


def review_queue(inventory: Inventory, rules: PatternSet, years: list[int]) -> pa.Table:
    """One row per (use case, pattern, field) hit, with the matched text and its surrounding context."""
    classes = ", ".join(_sql_string(c) for c in rules.classes)
    parts = []
    for pattern in rules.patterns:
        regex = _sql_string("(?i)" + pattern.regex)
        context = _sql_string(f"(?is).{{0,{_CONTEXT}}}(?:{pattern.regex}).{{0,{_CONTEXT}}}")
        for field in rules.fields:
            parts.append(
                f"SELECT year, agency, bureau, uid, source_id, name, impact, impact_raw, "
                f"{_sql_string(pattern.id)} AS pattern, {_sql_string(pattern.category)} AS category, "
                f"'{field}' AS field, regexp_extract({field}, {regex}, 0) AS matched, "
                f"regexp_extract({field}, {context}, 0) AS context "
                f"FROM use_cases WHERE year IN ({', '.join(map(str, years))}) AND impact IN ({classes}) "
                f"AND regexp_matches({field}, {regex})"
            )
    return inventory.engine.sql(
        " UNION ALL ".join(parts) + " ORDER BY year, agency, bureau, name, pattern, field"
    )


def _counts(
    inventory: Inventory, queue: pa.Table, rules: PatternSet, years: list[int]
) -> list[dict[str, Any]]:
    """Use cases with at least one hit (and per category), per agency and per bureau, over the denominators."""
    engine = inventory.engine
    engine.register_arrow("_review_queue", queue)
    classes = ", ".join(_sql_string(c) for c in rules.classes)
    categories = sorted({p.category for p in rules.patterns})
    per_category = ", ".join(
        f"count(DISTINCT q.uid) FILTER (WHERE q.category = {_sql_string(c)}) AS c{i}"
        for i, c in enumerate(categories)
    )
    table = engine.sql(
        f"""
        SELECT u.year,
               CASE WHEN grouping(u.agency) = 1 THEN 'all' WHEN grouping(u.bureau) = 1 THEN 'agency'
                    ELSE 'bureau' END AS attribute,
               CASE WHEN grouping(u.agency) = 1 THEN 'all' WHEN grouping(u.bureau) = 1 THEN coalesce(u.agency, '(none)')
                    ELSE coalesce(u.agency, '(none)') || ' / ' || coalesce(u.bureau, '(none)') END AS "group",
               count(DISTINCT u.uid) AS classified_not_high_impact,
               count(DISTINCT q.uid) AS flagged, {per_category}
        FROM use_cases u LEFT JOIN _review_queue q ON q.uid = u.uid
        WHERE u.year IN ({", ".join(map(str, years))}) AND u.impact IN ({classes})
        GROUP BY GROUPING SETS ((u.year), (u.year, u.agency), (u.year, u.agency, u.bureau))
        ORDER BY u.year, attribute = 'bureau', attribute <> 'all', "group"
        """
    )
    rows = []
    for record in table.to_pylist():
        if record["attribute"] != "all" and not record["flagged"]:
            continue
        key = (record["attribute"], record["group"], str(record["year"]))
        n = record["classified_not_high_impact"]
        rows.append(make_row(*key, "review_queue_count", record["flagged"], denominator=n))
        rows.append(make_row(*key, "review_queue_share", record["flagged"] / n if n else None, denominator=n))
        for i, category in enumerate(categories):
            slug = re.sub(r"[^a-z0-9]+", "_", category.lower()).strip("_")
            rows.append(make_row(*key, f"{slug}_count", record[f"c{i}"], denominator=n))
    return rows


def check(
    inventory: Inventory, *, year: int | None = None, patterns: str | Path | None = None
) -> AuditResult:
    """The consistency check as an AuditResult (kind "inventory"); extras: `review_queue`, `patterns`."""
    rules = read_patterns(patterns)
    years = impact_years(inventory, year) if year is not None else impact_years(inventory, None)[-1:]
    queue = review_queue(inventory, rules, years)
    rows = _counts(inventory, queue, rules, years)
    flagged = len(set(queue["uid"].to_pylist()))
    summary = (
        f"{flagged:,} use case(s) in the {', '.join(map(str, years))} inventory classified "
        f"{' or '.join(rules.classes)} have text matching one of {len(rules.patterns)} published patterns "
        f"(version {rules.version}); each hit shows the matching text. This is a review queue, not a verdict. "
        + CENSUS_NOTE
    )
    return AuditResult(
        kind="inventory",
        table=rows_to_table(rows),
        summary=summary,
        metadata={
            **inventory.metadata(),
            "audit": "check",
            "years": years,
            "patterns_version": rules.version,
            "patterns_source": rules.source,
        },
        extras={"review_queue": queue, "patterns": rules.table()},
    )
