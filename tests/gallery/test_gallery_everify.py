"""docs/gallery/everify.md: every published E-Verify figure checked to its printed digit, by hand here."""

from __future__ import annotations

import subprocess
import sys

from misflag.gallery import PAGES
from misflag.gallery._checks import published


def test_every_published_figure_has_its_source_place_and_date() -> None:
    rows = published("everify")
    assert len(rows) == 17
    for row in rows:
        assert (
            row["source"]
            and row["url"].startswith("http")
            and row["where"]
            and row["retrieved"] == "2026-12-06"
        )
        float(row["printed"])


def test_fy2020_share_not_found_authorized_follows_from_its_counts() -> None:
    checks, _ = PAGES["everify"]()
    first = checks[0]
    assert round(100 * 300_070 / 18_855_846, 2) == 1.59  # the page's 1.59 percent, by hand
    assert first.printed == "1.59" and first.follows is True
    assert abs(first.value - 100 * 300_070 / 18_855_846) < 1e-12
    low, high = first.interval or (0.0, 0.0)
    assert low < first.value < high and high - low < 0.02  # 18.9M cases: a narrow interval
    parts = checks[1]  # 0.33 + 0.005 + 1.25 = 1.585, each rounded: 1.5745 to 1.5955 prints as 1.57 to 1.60
    assert abs(parts.value - 1.585) < 1e-12 and parts.follows is True


def test_erroneous_tnc_denominators_are_stated_and_differ() -> None:
    checks, _ = PAGES["everify"]()
    all_cases, among_authorized = checks[2], checks[3]
    assert all_cases.denominator == "all cases" and all_cases.printed == "0.25"
    assert among_authorized.printed is None and "confirmed authorized" in among_authorized.denominator
    assert abs(among_authorized.value - 100 * 0.25 / (98.17 + 0.25)) < 1e-12
    westat_2009, westat_2012 = checks[4], checks[5]
    assert westat_2009.printed == westat_2012.printed == "0.7"
    assert abs(westat_2012.value - 100 * 0.7 / 93.8) < 1e-12  # 0.746...: 0.7 of all cases is 0.75% of workers
    assert westat_2012.follows is True  # only because 0.692 to 0.800 prints as 0.7 or 0.8


def test_fnc_accuracy_of_94_percent_does_not_follow_from_176000_of_191000() -> None:
    checks, _ = PAGES["everify"]()
    fnc = checks[6]
    assert fnc.printed == "94" and round(100 * 176_000 / 191_000, 1) == 92.1
    assert round(100 * 176_500 / 190_500) == 93  # the most the rounded counts allow
    assert fnc.follows is False


def test_the_page_runs_as_one_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "misflag.gallery", "everify"], capture_output=True, text=True, check=True
    )
    lines = done.stdout.splitlines()
    assert lines[0].split()[:2] == ["figure", "printed"]
    assert sum("does NOT follow" in line for line in lines) == 1
    assert "https://www.e-verify.gov/about-e-verify/e-verify-data/e-verify-performance" in done.stdout
