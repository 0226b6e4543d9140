"""Scorecard: per agency and bureau, high-impact use cases and the status of each minimum practice.

An inventory is a census of what agencies reported, not a sample: shares carry no sampling interval,
and every share is given with its denominator (the high-impact use cases of the group).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from misflag._text import shown
from misflag.errors import InputError, literal
from misflag.inventory._load import Inventory
from misflag.inventory._mapping import CATEGORIES, PRACTICES, TEXT_FIELDS, UNMAPPED
from misflag.result import AuditResult, make_row, rows_to_table

STATUSES: tuple[str, ...] = (*CATEGORIES["practice_appeal"], UNMAPPED)
CENSUS_NOTE = (
    "An inventory is a census of what agencies reported, not a sample: shares carry no sampling interval; "
    "each is given with its denominator. Classification and practice status are self-reported."
)
#: Statuses that count as "in place" when listing use cases lacking a safeguard.
_APPEAL_OK = ("established", "not_applicable")


def impact_years(inventory: Inventory, year: int | None) -> list[int]:
    """The loaded years that asked the impact question (2023 did not), or the one asked for."""
    asked = [
        int(r["year"])
        for r in inventory.engine.sql(
            "SELECT DISTINCT year FROM use_cases WHERE impact IS NOT NULL ORDER BY year"
        ).to_pylist()
    ]
    if year is None:
        if not asked:
            raise InputError("none of the loaded inventories asks whether a use case is high-impact")
        return asked
    if year not in inventory.years:
        raise InputError(f"year {year} is not loaded; loaded: {', '.join(map(str, inventory.years))}")
    if year not in asked:
        raise InputError(f"the {year} inventory does not ask whether a use case is high-impact")
    return [year]


def scorecard_table(inventory: Inventory, years: list[int]) -> pa.Table:
    """Counts per year x (all | agency | agency and bureau): use cases, high-impact, each practice's statuses."""
    counts = [
        f"count(*) FILTER (WHERE impact = 'high_impact' AND practice_{p} = '{s}') AS {p}_{s}"
        for p in PRACTICES
        for s in STATUSES
    ]
    return inventory.engine.sql(
        f"""
        SELECT year,
               CASE WHEN grouping(agency) = 1 THEN 'all'
                    WHEN grouping(bureau) = 1 THEN 'agency' ELSE 'bureau' END AS attribute,
               CASE WHEN grouping(agency) = 1 THEN 'all'
                    WHEN grouping(bureau) = 1 THEN coalesce(agency, '(none)')
                    ELSE coalesce(agency, '(none)') || ' / ' || coalesce(bureau, '(none)') END AS "group",
               count(*) AS use_cases,
               count(*) FILTER (WHERE impact = 'high_impact') AS high_impact,
               {", ".join(counts)}
        FROM use_cases
        WHERE year IN ({", ".join(map(str, years))})
        GROUP BY GROUPING SETS ((year), (year, agency), (year, agency, bureau))
        ORDER BY year, attribute = 'bureau', attribute <> 'all', "group"
        """
    )


def _rows(card: pa.Table) -> list[dict[str, Any]]:
    """The long-table rows: counts of use cases and high-impact, and each practice status's share."""
    rows = []
    for record in card.to_pylist():
        attribute, group, stage = record["attribute"], record["group"], str(record["year"])
        n, high = record["use_cases"], record["high_impact"]
        rows.append(make_row(attribute, group, stage, "use_cases_count", n))
        rows.append(make_row(attribute, group, stage, "high_impact_count", high, denominator=n))
        rows.append(
            make_row(attribute, group, stage, "high_impact_share", high / n if n else None, denominator=n)
        )
        if not high:
            continue
        for practice in PRACTICES:
            if not any(record[f"{practice}_{status}"] for status in STATUSES):
                continue  # the question was not asked that year
            for status in STATUSES:
                count = record[f"{practice}_{status}"]
                if count or status == "established":
                    rows.append(
                        make_row(
                            attribute,
                            group,
                            stage,
                            f"{practice}_{status}_share",
                            count / high,
                            denominator=high,
                        )
                    )
    return rows


def lacking_safeguards(inventory: Inventory, years: list[int]) -> pa.Table:
    """High-impact use cases without an established appeal process or independent review."""
    return inventory.engine.sql(
        f"""
        SELECT year, agency, bureau, source_id, name,
               practice_appeal AS appeal, practice_appeal_raw AS appeal_raw,
               practice_independent_review AS independent_review,
               practice_independent_review_raw AS independent_review_raw,
               concat_ws(', ',
                   CASE WHEN practice_appeal NOT IN {_APPEAL_OK} THEN 'appeal' END,
                   CASE WHEN practice_independent_review <> 'established' THEN 'independent review' END
               ) AS lacks
        FROM use_cases
        WHERE year IN ({", ".join(map(str, years))}) AND impact = 'high_impact'
          AND (practice_appeal NOT IN {_APPEAL_OK} OR practice_independent_review <> 'established')
        ORDER BY year, agency, bureau, name
        """
    )


def _absent_columns(inventory: Inventory, years: list[int]) -> str:
    """Sentences naming the columns of the years' layouts that their files lack, by what each became (the
    field it feeds is the issue's `value`): a coded one (a practice, the stage) blank answers, so that
    "lack one or both" is read as "reported neither"; a free-text one NULL. Empty when all are there."""
    blank: list[str] = []
    empty: list[str] = []
    for issue in inventory.issues.to_pylist():
        if issue["kind"] == "missing_column" and issue["year"] in years:
            named = f"{shown(issue['column'])} ({issue['year']})"
            (empty if issue["value"] in TEXT_FIELDS else blank).append(named)
    return (f"Not in the file, so read as blank answers: {', '.join(blank)}. " if blank else "") + (
        f"Not in the file, so left empty (NULL): {', '.join(empty)}. " if empty else ""
    )


def scorecard(inventory: Inventory, *, year: int | None = None, by: str = "agency") -> AuditResult:
    """The scorecard as an AuditResult (kind "inventory"); `by` is "agency" or "bureau" for the long table.

    Extras: `scorecard` (counts of every practice status, all groups) and `lacking_safeguards`.
    """
    if by not in ("agency", "bureau"):
        raise InputError(f"{{by}} must be agency or bureau, not {literal(shown(by))}")
    years = impact_years(inventory, year)
    card = scorecard_table(inventory, years)
    keep = [r for r in _rows(card) if r["attribute"] in ("all", by)]
    lacking = lacking_safeguards(inventory, years)
    latest = card.filter(pc.equal(card["attribute"], "all")).to_pylist()[-1]
    high = latest["high_impact"]
    summary = (
        f"{latest['year']} inventory: {latest['use_cases']:,} use cases, {high:,} high-impact; among those, "
        f"{latest['appeal_established']:,} report an established appeal process and "
        f"{latest['independent_review_established']:,} an independent review. "
        f"{lacking.num_rows:,} high-impact use case(s) in {', '.join(map(str, years))} lack one or both. "
        + _absent_columns(inventory, years)
        + CENSUS_NOTE
    )
    return AuditResult(
        kind="inventory",
        table=rows_to_table(keep),
        summary=summary,
        metadata={**inventory.metadata(), "audit": "scorecard", "years": years, "by": by},
        extras={"scorecard": card, "lacking_safeguards": lacking},
    )
