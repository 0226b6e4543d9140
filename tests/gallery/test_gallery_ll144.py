"""docs/gallery/ll144.md: the DCWP rule's example bias audit, each printed rate and impact ratio checked
to its printed digit with counts and Wilson intervals computed here (scipy), and the interval misflag adds."""

from __future__ import annotations

from scipy.stats import binomtest

from misflag.gallery import PAGES, Check
from misflag.gallery._ll144 import scored

#: category -> (applicants, scored above the median, printed rate, printed impact ratio), read by hand
SEX = {"Male": (92, 50, "54.3", "1.00"), "Female": (76, 34, "44.7", "0.82")}
RACE = {
    "Hispanic or Latino": (28, 18, "64.2", "1.00"),
    "White (Not Hispanic or Latino)": (40, 15, "37.5", "0.58"),
    "Black or African American (Not Hispanic or Latino)": (32, 16, "50.0", "0.78"),
    "Native Hawaiian or Pacific Islander (Not Hispanic or Latino)": (8, 5, "62.5", "0.97"),
    "Asian (Not Hispanic or Latino)": (24, 10, "41.7", "0.65"),
}


def _by_figure() -> dict[str, Check]:
    checks, _ = PAGES["ll144"]()
    return {check.figure: check for check in checks}


def test_each_printed_figure_against_a_hand_computation() -> None:
    checks = _by_figure()
    for table, highest in ((SEX, "Male"), (RACE, "Hispanic or Latino")):
        top = table[highest][1] / table[highest][0]
        for category, (applicants, scored_count, rate, ratio) in table.items():
            rate_check, ratio_check = (
                checks[f"{category}: scoring rate, %"],
                checks[f"{category}: impact ratio"],
            )
            assert abs(rate_check.value - 100 * scored_count / applicants) < 1e-9
            low, high = binomtest(scored_count, applicants).proportion_ci(0.95, method="wilson")
            assert (
                abs(rate_check.interval[0] - 100 * low) < 1e-9
                and abs(rate_check.interval[1] - 100 * high) < 1e-9
            )
            by_hand = (scored_count / applicants) / top
            assert abs(ratio_check.value - by_hand) < 1e-12
            assert f"{by_hand:.2f}" == ratio == ratio_check.printed and ratio_check.follows is True
            printable = f"{100 * scored_count / applicants + 1e-9:.1f}" == rate
            assert rate_check.follows is printable


def test_hispanic_rate_of_64_2_follows_from_no_whole_number_of_28() -> None:
    assert not any(f"{100 * k / 28:.1f}" == "64.2" for k in range(29))  # 17/28 = 60.7, 18/28 = 64.3
    assert scored(28, "64.2") == (18, False)
    assert _by_figure()["Hispanic or Latino: scoring rate, %"].follows is False


def test_misflag_adds_intervals_only_white_impact_ratio_excludes_one() -> None:
    checks = _by_figure()
    below = {c: checks[f"{c}: impact ratio"] for c in (*SEX, *RACE) if float((SEX | RACE)[c][3]) < 0.8}
    assert set(below) == {
        "White (Not Hispanic or Latino)",
        "Black or African American (Not Hispanic or Latino)",
        "Asian (Not Hispanic or Latino)",
    }
    assert [c for c, check in below.items() if check.interval[1] < 1] == ["White (Not Hispanic or Latino)"]
    female = checks["Female: impact ratio"]
    assert female.interval[0] < 0.8 < female.interval[1]  # 0.82 passes the 4/5 rule, but within noise of it
