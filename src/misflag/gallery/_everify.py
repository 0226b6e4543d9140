"""E-Verify's erroneous tentative nonconfirmations (TNCs), from the published figures only.

An erroneous TNC flags a worker who is authorised to work: a false positive. Its rate depends on the
denominator, which the publications change between reports: all cases, or workers found authorised.
Each check below states its denominator; where the source prints only rounded percentages, the range
the rounding allows is carried through instead of an interval that would pretend to know the counts.
"""

from __future__ import annotations

import numpy as np

from misflag.gallery._checks import Check, published
from misflag.stats import wilson_limits


def _figures() -> tuple[dict[str, float], dict[str, str], list[str]]:
    rows = published("everify")
    values = {row["figure"]: float(row["printed"]) for row in rows}
    printed = {row["figure"]: row["printed"] for row in rows}
    sources = sorted({f"{row['source']}: {row['url']} (read {row['retrieved']})" for row in rows})
    return values, printed, sources


def _half(printed: str) -> float:
    """Half a unit of the last printed digit: how far a rounded figure may be from the true one."""
    digits = len(printed.split(".")[1]) if "." in printed else 0
    return 0.5 * 10.0**-digits


def _share_range(part: float, part_slack: float, whole: float, whole_slack: float) -> tuple[float, float]:
    """The range of 100 * part / whole when each may be off by its slack (rounding)."""
    low = 100 * (part - part_slack) / (whole + whole_slack)
    return low, 100 * (part + part_slack) / (whole - whole_slack)


def everify_checks() -> tuple[list[Check], list[str]]:
    """The E-Verify page's checks, and its sources."""
    v, p, sources = _figures()
    cases, not_found = int(v["fy2020_cases"]), int(v["fy2020_not_found_authorized"])
    low, high = wilson_limits(np.array([not_found]), np.array([cases]))
    share = 100 * not_found / cases
    parts = ("fy2020_uncontested", "fy2020_contested_not_found", "fy2020_unresolved")
    parts_sum = sum(v[name] for name in parts)
    slack = sum(_half(p[name]) for name in parts)
    wrong, authorised = (
        v["fy2020_confirmed_after_mismatch"],
        v["fy2020_confirmed_automatically"] + v["fy2020_confirmed_after_mismatch"],
    )
    wrong_slack, authorised_slack = (
        _half(p["fy2020_confirmed_after_mismatch"]),
        _half(p["fy2020_confirmed_automatically"]) + _half(p["fy2020_confirmed_after_mismatch"]),
    )
    w09 = v["westat2009_authorized_not_confirmed"]
    w09_authorised = v["westat2009_authorized_confirmed"] + w09
    w09_slack = _half(p["westat2009_authorized_not_confirmed"])
    w09_authorised_slack = _half(p["westat2009_authorized_confirmed"]) + w09_slack
    fnc, accurate = v["westat2012_fnc"], v["westat2012_fnc_accurate"]
    checks = [
        Check(
            "FY2020 (to Q2): cases not found work authorized, % of all cases",
            p["fy2020_not_found_authorized_share"],
            share,
            (share, share),
            f"all {cases:,} cases",
            (100 * float(low[0]), 100 * float(high[0])),
            f"{not_found:,} of {cases:,}",
        ),
        Check(
            "FY2020: the same share as the sum of its three published parts",
            p["fy2020_not_found_authorized_share"],
            parts_sum,
            (parts_sum - slack, parts_sum + slack),
            "all cases",
            note="uncontested + contested + unresolved, each rounded",
        ),
        Check(
            "FY2020: erroneous TNCs (confirmed after a mismatch), % of all cases",
            p["fy2020_confirmed_after_mismatch"],
            wrong,
            (wrong - wrong_slack, wrong + wrong_slack),
            "all cases",
            note=f"about {round(cases * (wrong - wrong_slack) / 100):,}–{round(cases * (wrong + wrong_slack) / 100):,} people",
        ),
        Check(
            "FY2020: erroneous TNC rate among workers found authorized, %",
            None,
            100 * wrong / authorised,
            _share_range(wrong, wrong_slack, authorised, authorised_slack),
            "cases confirmed authorized, automatically or after a mismatch (98.42% of cases)",
            note="the 1.25% unresolved cases are of unknown status",
        ),
        Check(
            "Westat 2009: authorized workers not initially confirmed, % of all cases",
            p["westat2009_authorized_not_confirmed"],
            w09,
            (w09 - w09_slack, w09 + w09_slack),
            "all cases",
        ),
        Check(
            "Westat 2012 summary: the 2009 erroneous TNC rate, % of workers found authorized",
            p["westat2012_erroneous_tnc_before"],
            100 * w09 / w09_authorised,
            _share_range(w09, w09_slack, w09_authorised, w09_authorised_slack),
            "authorized workers (93.1% + 0.7% of cases in the 2009 report)",
            note="same 0.7 printed over another denominator; follows only within rounding",
        ),
        Check(
            "Westat 2012 summary: FNC accuracy, % of final nonconfirmations",
            p["westat2012_fnc_accuracy"],
            100 * accurate / fnc,
            _share_range(accurate, 500, fnc, 500),
            f"about {fnc:,.0f} final nonconfirmations (2009)",
            note=f"{accurate:,.0f} of {fnc:,.0f}, both printed to the thousand",
        ),
    ]
    return checks, sources
