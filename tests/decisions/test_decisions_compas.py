"""ProPublica's error-rate table ("Machine Bias", Angwin et al. 2016), reproduced through the CLI.

Source: the `Compas Analysis` notebook (github.com/propublica/compas-analysis), all 7,214 rows of
compas-scores-two-years.csv; positive = score_text Medium or High; label = two_year_recid.
African-American: TN 990, FP 805, FN 532, TP 1369. Caucasian: TN 1139, FP 349, FN 461, TP 505.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from misflag.cli import main
from misflag.decisions import audit_decisions

FLAG = "score_text in ('Medium', 'High')"


def _cli_rows(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict]:
    assert main(["decisions", "audit", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def _pick(rows: list[dict], group: str, metric: str, stage: str = "decision") -> dict:
    found = [r for r in rows if r["group"] == group and r["metric"] == metric and r["stage"] == stage]
    assert len(found) == 1, (group, metric, found)
    return found[0]


def test_propublica_error_rate_table(compas_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = _cli_rows(capsys, str(compas_csv), "--flag", FLAG, "--truth", "two_year_recid", "--group", "race")
    assert set(rows[0]) == {
        "attribute",
        "group",
        "stage",
        "metric",
        "value",
        "ci_low",
        "ci_high",
        "denominator",
        "suppressed",
        "warning",
    }
    black_fpr, white_fpr = _pick(rows, "African-American", "fpr"), _pick(rows, "Caucasian", "fpr")
    black_fnr, white_fnr = _pick(rows, "African-American", "fnr"), _pick(rows, "Caucasian", "fnr")
    assert black_fpr["value"] == pytest.approx(805 / (805 + 990), abs=1e-12)
    assert white_fpr["value"] == pytest.approx(349 / (349 + 1139), abs=1e-12)
    assert black_fnr["value"] == pytest.approx(532 / (532 + 1369), abs=1e-12)
    assert white_fnr["value"] == pytest.approx(461 / (461 + 505), abs=1e-12)
    assert round(100 * black_fpr["value"], 2) == 44.85 and round(100 * white_fpr["value"], 2) == 23.45
    assert round(100 * black_fnr["value"], 2) == 27.99 and round(100 * white_fnr["value"], 2) == 47.72
    assert (black_fpr["denominator"], white_fpr["denominator"]) == (1795, 1488)
    assert _pick(rows, "African-American", "n", "all")["value"] == 3696
    assert _pick(rows, "all", "n", "all")["value"] == 7214
    overall_fpr = _pick(rows, "all", "fpr")
    assert overall_fpr["value"] == pytest.approx(1282 / (1282 + 2681), abs=1e-12)
    for row in (black_fpr, white_fpr, black_fnr, white_fnr):
        assert row["ci_low"] < row["value"] < row["ci_high"]


def test_fpr_ratio_against_caucasian_is_91_percent_more(
    compas_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _cli_rows(
        capsys,
        str(compas_csv),
        "--flag",
        FLAG,
        "--truth",
        "two_year_recid",
        "--group",
        "race",
        "--reference",
        "Caucasian",
    )
    ratio = _pick(rows, "African-American", "fpr_ratio")
    assert ratio["value"] == pytest.approx((805 / 1795) / (349 / 1488), abs=1e-12)
    assert round(ratio["value"], 2) == 1.91
    assert ratio["ci_low"] > 1.0  # larger than sampling noise
    diff = _pick(rows, "African-American", "fpr_diff")
    assert diff["value"] == pytest.approx(805 / 1795 - 349 / 1488, abs=1e-12)


def test_regression_filter_is_a_different_population(compas_csv: Path) -> None:
    where = (
        "days_b_screening_arrest BETWEEN -30 AND 30 AND is_recid <> -1 AND c_charge_degree <> 'O' "
        "AND score_text <> 'N/A'"
    )
    result = audit_decisions(compas_csv, flag=FLAG, truth="two_year_recid", groups=["race"], where=where)
    assert result.value("n", "all") == 6172
    assert result.value("fpr", "African-American", stage="decision") != pytest.approx(805 / 1795, abs=1e-3)


def test_summary_states_the_finding_in_words(compas_csv: Path) -> None:
    result = audit_decisions(
        compas_csv, flag=FLAG, truth="two_year_recid", groups=["race"], reference="Caucasian"
    )
    assert "African-American (race) were wrongly flagged 1.91 times as often as Caucasian" in result.summary
    assert "44.8% vs 23.5%" in result.summary


def test_demo_prints_both_populations_and_no_identifiers(
    compas_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import duckdb

    assert main(["demo", "--replicates", "200"]) == 0
    out = capsys.readouterr().out
    assert "44.85%" in out and "23.45%" in out and "6,172" in out and "7,214" in out
    assert "Rule crosscheck" in out and "Hispanic" in out and "independent within a group" in out
    words = " ".join(out.split())  # the console wraps lines
    # the lead finding, as `decisions audit` prints it: ProPublica's 44.85% and 23.45%, rounded
    assert "flagged almost twice as often as Caucasian people (45% vs 23%)." in words
    names = duckdb.sql(
        f"SELECT DISTINCT name FROM read_csv('{compas_csv}') WHERE length(name) > 6 LIMIT 500"
    ).fetchall()
    assert not [name for (name,) in names if name in out]
