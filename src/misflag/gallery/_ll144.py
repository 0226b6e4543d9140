"""NYC Local Law 144: the DCWP rule's own worked example of a bias audit summary (6 RCNY 5-301(d)).

The example prints, per category, the number of applicants, the scoring rate (share scoring above the
median) and the impact ratio (the rate over the highest category's rate), with no interval. misflag
reads the number who scored from each printed rate (the whole number of the applicants that prints
as it), audits the table of counts in counts mode (`--counts-form selection`) and adds the interval
of every impact ratio; a printed rate that no whole number of applicants gives does not follow.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from misflag.decisions import audit_decisions
from misflag.decisions._forms import COUNT_COLUMN, FLAG_COLUMN, TRUTH_COLUMN, counts_table
from misflag.gallery._checks import Check, published


def scored(applicants: int, printed: str) -> tuple[int, bool]:
    """The number of applicants whose rate prints as `printed` (%, one decimal), or the nearest one,
    and whether it prints exactly so."""
    target = float(printed)
    exact = [k for k in range(applicants + 1) if _percent(k, applicants) == target]
    if exact:
        return exact[0], True
    return min(range(applicants + 1), key=lambda k: abs(100 * k / applicants - target)), False


def _percent(k: int, n: int) -> float:
    """k / n in percent, rounded half up to one decimal as the example prints it."""
    return int(1000 * k / n + 0.5 + 1e-9) / 10


def ll144_checks() -> tuple[list[Check], list[str]]:
    """Per table (sex, race/ethnicity): each printed scoring rate and impact ratio, and misflag's."""
    rows = published("ll144_dcwp_example")
    sources = sorted(
        {f"{row['source']}: {row['url']}; {row['where']} (read {row['retrieved']})" for row in rows}
    )
    checks: list[Check] = []
    for name in ("sex", "race"):
        table = [row for row in rows if row["table"] == name]
        checks += _table_checks(table)
    return checks, sources


def _table_checks(table: list[dict[str, Any]]) -> list[Check]:
    counts = {row["category"]: scored(int(row["applicants"]), row["rate_printed"]) for row in table}
    selection = pa.table(
        {
            "category": [row["category"] for row in table],
            "selected": [counts[row["category"]][0] for row in table],
            "total": [int(row["applicants"]) for row in table],
        }
    )
    highest = max(table, key=lambda row: float(row["rate_printed"]))["category"]
    result = audit_decisions(
        counts_table(selection, "selection", ["category"]),
        flag=FLAG_COLUMN,
        truth=TRUTH_COLUMN,
        count=COUNT_COLUMN,
        groups=["category"],
        reference=highest,
        min_cell=1,  # the source publishes every category already
        impact_ratio_min_share=0.02,
    )
    figures = {(r["group"], r["metric"]): r for r in result.rows() if r["attribute"] == "category"}
    total = sum(int(row["applicants"]) for row in table)
    checks = []
    for row in table:
        category, applicants = row["category"], int(row["applicants"])
        k, exact = counts[category]
        rate = figures[(category, "selection_rate")]
        checks.append(
            Check(
                f"{category}: scoring rate, %",
                row["rate_printed"],
                100 * rate["value"],
                (100 * rate["value"], 100 * rate["value"]),
                f"{applicants} applicants",
                (100 * rate["ci_low"], 100 * rate["ci_high"]),
                f"{k} of {applicants}"
                + ("" if exact else f"; no whole number of {applicants} prints as this"),
            )
        )
        ratio = figures[(category, "selection_rate_ratio")]
        interval = None if ratio["ci_low"] is None else (ratio["ci_low"], ratio["ci_high"] or float("inf"))
        checks.append(
            Check(
                f"{category}: impact ratio",
                row["impact_ratio_printed"],
                ratio["value"],
                (ratio["value"], ratio["value"]),
                f"vs {highest}; {100 * applicants / total:.1f}% of the table's {total} applicants",
                interval,
            )
        )
    return checks
