"""Interstate Crosscheck-style matching (first name, last name, date of birth) against the observed
collision rate of the 2012 US vote records (Goel et al., APSR 2020), and misflag's linkage risk model.

The observed figure is the one docs/linkage-risk.md compares with: about 3 million of about 129
million 2012 vote records share first name, last name and date of birth with another record. The model
(`misflag linkage risk --rule crosscheck --population 129000000 --list 129000000`) expects fewer:
first names follow birth cohorts, which the census tables cannot show, so its rates are lower bounds.
"""

from __future__ import annotations

from misflag.gallery._checks import Check, published
from misflag.linkage import assess_rule_risk


def crosscheck_checks() -> tuple[list[Check], list[str]]:
    """The observed share, the model's expectation for the same file, and double votes per collision."""
    rows = published("crosscheck_goel2020")
    values = {row["figure"]: float(row["printed"]) for row in rows}
    printed = {row["figure"]: row["printed"] for row in rows}
    sources = sorted(
        {f"{row['source']}: {row['url']}; {row['where']} (read {row['retrieved']})" for row in rows}
    )
    records, shared = values["records_2012"], values["records_sharing_name_dob"]
    share = 100 * shared / records
    low, high = 100 * (shared - 0.5e6) / (records + 0.5e6), 100 * (shared + 0.5e6) / (records - 0.5e6)
    result = assess_rule_risk("crosscheck", population_size=int(records), list_size=int(records))
    expected = sum(
        r["value"]
        for r in result.rows()
        if r["attribute"] == "group" and r["metric"] == "wrongful_match_count"
    )
    model = 100 * expected / records
    double = 100 / values["voters_per_double_vote"]
    return [
        Check(
            "2012 vote records sharing first name, last name and DOB with another, %",
            printed["share_sharing_name_dob"],
            share,
            (low, high),
            f"about {records:,.0f} vote records",
            note=f"about {shared:,.0f} records, printed to the million",
        ),
        Check(
            "misflag's model: records wrongly matched by the crosscheck rule, %",
            None,
            model,
            (model, model),
            f"{records:,.0f} records against each other",
            note=f"{expected:,.0f} records; {share / model:.1f}x fewer than observed: a lower bound",
        ),
        Check(
            "double votes, % of voters",
            printed["double_vote_share"],
            double,
            (double, double),
            "2012 voters",
            note=f"one in {values['voters_per_double_vote']:,.0f}; {share / double:.0f} shared identities per double vote",
        ),
    ], sources
