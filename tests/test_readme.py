"""README's quoted figures come from the audit it shows, so the text cannot drift from what misflag prints.

The decision-audit paragraph quotes ProPublica's published error rates (Angwin et al., "Machine Bias", 2016:
FPR 44.85% vs 23.45%, FNR 27.99% vs 47.72%) and misflag's ratio with its bootstrap interval (seed 0, 1,000
replicates: the CLI's defaults).
"""

from __future__ import annotations

import re
from pathlib import Path

from misflag.decisions import audit_decisions

README = Path(__file__).resolve().parents[1] / "README.md"
QUOTE = re.compile(
    r"FPR ([\d.]+)% African-American vs ([\d.]+)% Caucasian; FNR ([\d.]+)% vs ([\d.]+)%; "
    r"ratio ([\d.]+), 95% CI ([\d.]+)–([\d.]+)"
)


def test_readme_decision_figures_are_what_the_audit_computes(compas_csv: Path) -> None:
    text = " ".join(README.read_text(encoding="utf-8").split())
    quoted = QUOTE.search(text)
    assert quoted, "README no longer quotes the COMPAS figures in the expected form"
    result = audit_decisions(
        str(compas_csv),
        flag="score_text IN ('Medium','High')",
        truth="two_year_recid",
        groups=["race", "sex"],
        intersect=True,
        reference="Caucasian",
    )
    rows = {
        (r["group"], r["metric"]): r
        for r in result.rows()
        if r["attribute"] == "race" and r["stage"] == "decision"
    }
    computed = (
        f"{rows['African-American', 'fpr']['value'] * 100:.2f}",
        f"{rows['Caucasian', 'fpr']['value'] * 100:.2f}",
        f"{rows['African-American', 'fnr']['value'] * 100:.2f}",
        f"{rows['Caucasian', 'fnr']['value'] * 100:.2f}",
        f"{rows['African-American', 'fpr_ratio']['value']:.2f}",
        f"{rows['African-American', 'fpr_ratio']['ci_low']:.2f}",
        f"{rows['African-American', 'fpr_ratio']['ci_high']:.2f}",
    )
    assert quoted.groups() == computed
    assert quoted.groups()[:4] == ("44.85", "23.45", "27.99", "47.72")  # ProPublica's published table
