"""RFW: four commercial face verifiers' accuracy per race (Wang et al. 2018, Table 1), public figures only.

Each RFW subset holds 6,000 verification pairs; the paper prints accuracy in percent. misflag reads the
number of wrong decisions from each printed accuracy (the whole number of 6,000 that prints as it),
audits each verifier's table of counts (`--counts-form selection`: errors of 6,000 per race) and adds
the error rate's interval and each race's error ratio to Caucasian with its MOVER-R interval. The
intervals treat pairs as independent; RFW reuses identities across pairs, so they are narrower than
a clustered interval would be (docs/biometrics.md), and accuracy mixes false matches and false
non-matches, which the public table does not separate.
"""

from __future__ import annotations

import pyarrow as pa

from misflag.decisions import audit_decisions
from misflag.decisions._forms import COUNT_COLUMN, FLAG_COLUMN, TRUTH_COLUMN, counts_table
from misflag.gallery._checks import Check, published

RACES = ("Caucasian", "Indian", "Asian", "African")
PAIRS = 6000


def errors_of(accuracy: str, pairs: int = PAIRS) -> int | None:
    """Wrong decisions among `pairs` whose accuracy prints as `accuracy` (two decimals), or None."""
    target = round(float(accuracy) * 100)
    for correct in range(pairs + 1):
        if int(10_000 * correct / pairs + 0.5 + 1e-9) == target:
            return pairs - correct
    return None


def rfw_checks() -> tuple[list[Check], list[str]]:
    """Per verifier: the printed mean row, each race's error rate and its ratio to Caucasian's."""
    rows = published("rfw_commercial_apis")
    sources = sorted(
        {f"{row['source']}: {row['url']}; {row['where']} (read {row['retrieved']})" for row in rows}
    )
    printed = {(row["model"], row["test_set"]): row["accuracy_printed"] for row in rows}
    models = [model for model in dict.fromkeys(row["model"] for row in rows) if model != "mean"]
    checks = []
    for test in ("LFW", *RACES):  # the printed mean row against the four verifiers' figures
        mean = sum(float(printed[(model, test)]) for model in models) / len(models)
        checks.append(
            Check(
                f"mean of the four APIs, {test} accuracy, %",
                printed[("mean", test)],
                mean,
                (mean, mean),
                "four verifiers",
            )
        )
    for model in models:
        errors = {race: errors_of(printed[(model, race)]) for race in RACES}
        missing = [race for race, count in errors.items() if count is None]
        if missing:
            checks.append(
                Check(
                    f"{model}: {missing[0]} accuracy, %",
                    printed[(model, missing[0])],
                    float("nan"),
                    (0.0, 0.0),
                    f"{PAIRS:,} pairs",
                    note="no whole number of pairs prints as this",
                )
            )
            continue
        selection = pa.table(
            {"race": list(RACES), "selected": [errors[r] for r in RACES], "total": [PAIRS] * len(RACES)}
        )
        result = audit_decisions(
            counts_table(selection, "selection", ["race"]),
            flag=FLAG_COLUMN,
            truth=TRUTH_COLUMN,
            count=COUNT_COLUMN,
            groups=["race"],
            reference="Caucasian",
            min_cell=1,  # published figures
        )
        figures = {(r["group"], r["metric"]): r for r in result.rows() if r["attribute"] == "race"}
        for race in RACES:
            rate = figures[(race, "selection_rate")]
            accuracy = 100 * (1 - rate["value"])
            checks.append(
                Check(
                    f"{model}: {race} accuracy, %",
                    printed[(model, race)],
                    accuracy,
                    (accuracy, accuracy),
                    f"{PAIRS:,} pairs",
                    (100 * (1 - rate["ci_high"]), 100 * (1 - rate["ci_low"])),
                    f"{errors[race]:,} wrong: error rate {100 * rate['value']:.2f}%",
                )
            )
            if race != "Caucasian":
                ratio = figures[(race, "selection_rate_ratio")]
                checks.append(
                    Check(
                        f"{model}: {race} error rate / Caucasian's",
                        None,
                        ratio["value"],
                        (ratio["value"], ratio["value"]),
                        f"{PAIRS:,} pairs each",
                        (ratio["ci_low"], ratio["ci_high"]),
                    )
                )
    return checks, sources
