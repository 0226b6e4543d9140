"""The result of `misflag inventory load`: rows per year, agency and impact class, and the load report."""

from __future__ import annotations

from misflag.inventory._load import Inventory
from misflag.result import AuditResult, make_row, rows_to_table


def load_summary(inventory: Inventory) -> AuditResult:
    """Counts of loaded use cases per year (all, per agency, per impact class); extras: `load_issues`."""
    counts = inventory.engine.sql(
        """
        SELECT year, 'all' AS attribute, 'all' AS "group", count(*) AS n FROM use_cases GROUP BY year
        UNION ALL
        SELECT year, 'impact', coalesce(impact, 'not_asked'), count(*) FROM use_cases GROUP BY ALL
        UNION ALL
        SELECT year, 'agency', coalesce(agency, '(none)'), count(*) FROM use_cases GROUP BY ALL
        ORDER BY year, attribute <> 'all', attribute, "group"
        """
    ).to_pylist()
    totals = {c["year"]: c["n"] for c in counts if c["attribute"] == "all"}
    rows = [
        make_row(
            c["attribute"],
            c["group"],
            str(c["year"]),
            "use_cases_count",
            c["n"],
            denominator=None if c["attribute"] == "all" else totals[c["year"]],
        )
        for c in counts
    ]
    issues = inventory.issues
    kinds = sorted(set(issues["kind"].to_pylist()))
    summary = (
        "Loaded "
        + ", ".join(f"{f.year}: {f.rows:,} use cases ({f.encoding})" for f in inventory.files)
        + ". "
        + (
            f"{issues.num_rows} load issue(s) reported ({', '.join(kinds)}); see the load_issues table."
            if issues.num_rows
            else "No unknown columns or values."
        )
    )
    return AuditResult(
        kind="inventory",
        table=rows_to_table(rows),
        summary=summary,
        metadata={**inventory.metadata(), "audit": "load"},
        extras={"load_issues": issues},
    )
