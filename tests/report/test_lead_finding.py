"""The lead finding: plain language (Flesch reading ease >= 50, sentences <= 25 words), true to the data
(its numbers recomputed here with pandas/numpy), and the same first line in the terminal, report and page."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import textstat

from misflag.biometrics import audit_biometrics
from misflag.decisions import audit_decisions
from misflag.inventory import check, load_inventories, scorecard
from misflag.linkage import LinkageAuditSpec, audit_linkage
from misflag.monitor import monitor
from misflag.report import build_report, render_report
from misflag.report._lead import lead_finding, percent_pair, times_text
from misflag.result import AuditResult

FLAG = "score_text in ('Medium','High')"


def assert_plain(text: str) -> None:
    """B1 as the issue sets it: Flesch reading ease at least 50, no sentence over 25 words."""
    assert text, "no lead finding"
    assert textstat.flesch_reading_ease(text) >= 50, text
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        assert len(sentence.split()) <= 25, sentence


def test_wording_helpers_by_hand() -> None:
    assert times_text(1.91) == "almost twice"
    assert times_text(2.02) == "twice"
    assert times_text(2.5) == "2.5 times"
    assert percent_pair(0.4485, 0.2345) == ("45%", "23%")
    assert percent_pair(0.00195, 0.00045) == ("0.195%", "0.045%")  # two significant figures on the smaller


def test_compas_lead_is_the_readme_comparison_by_the_documented_rule(compas_csv: Path) -> None:
    """No --reference: the largest group is the reference; the lead is the clear gap resting on most people."""
    frame = pd.read_csv(compas_csv)
    largest = frame["race"].value_counts().idxmax()
    assert largest == "African-American"
    negatives = frame[frame["two_year_recid"] == 0]
    flagged = negatives["score_text"].isin(["Medium", "High"])
    fpr = flagged.groupby(negatives["race"]).mean()
    support = negatives["race"].value_counts()
    # the gap resting on the most people: Caucasian (the second-largest group of negatives)
    assert support.drop(largest).idxmax() == "Caucasian"
    ratio = fpr[largest] / fpr["Caucasian"]
    assert 1.85 <= ratio < 1.95
    result = audit_decisions(
        compas_csv, truth="two_year_recid", flag=FLAG, groups=["race", "sex"], replicates=100
    )
    assert result.metadata["references"]["race"] == largest
    lead = lead_finding(result)
    assert lead == (
        "African-American people who should not have been flagged were flagged almost twice as often as "
        f"Caucasian people ({100 * fpr[largest]:.0f}% vs {100 * fpr['Caucasian']:.0f}%)."
    )
    assert "45% vs 23%" in lead
    assert_plain(lead)


def test_lead_is_the_first_line_of_terminal_summary_report_and_page(compas_csv: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "misflag.cli", "decisions", "audit", str(compas_csv), "--flag", FLAG]
    command += ["--truth", "two_year_recid", "--group", "race", "--replicates", "100"]
    output = subprocess.run(
        command, capture_output=True, text=True, check=True, env={"COLUMNS": "200"}
    ).stdout
    result = audit_decisions(compas_csv, truth="two_year_recid", flag=FLAG, groups=["race"], replicates=100)
    lead = lead_finding(result)
    after_table = output.split("Every metric, stage and denominator: --format long, csv or json.\n", 1)[1]
    assert after_table.splitlines()[0] == lead
    content = build_report(result)
    assert content.lead == lead
    html = render_report(result)
    assert html.index(lead) < html.index("<ul>")  # before every other finding
    # the report does not say a comparison twice: the summary's comparison sentences are left to the section
    assert not any(s.startswith("Among people who") for s in content.summary)
    assert "<details>\n    <summary>Input, expressions" in html  # the reproducibility block is folded


def _rfw_style(path: Path) -> tuple[Path, float]:
    """RFW's four groups, impostor scores N(mean, 1), genuine N(4, 1); a fixed threshold of 3."""
    rng = np.random.default_rng(7)
    frames = []
    for group, mean in (("African", 0.9), ("Asian", 0.6), ("Caucasian", 0.0), ("Indian", 0.4)):
        frames.append(
            pd.DataFrame(
                {
                    "score": np.r_[rng.normal(mean, 1, 30_000), rng.normal(4, 1, 3_000)],
                    "genuine": np.r_[np.zeros(30_000, int), np.ones(3_000, int)],
                    "race": group,
                }
            )
        )
    pd.concat(frames).to_parquet(path)
    return path, 3.0


def test_biometrics_lead_recomputed_with_numpy(tmp_path: Path) -> None:
    path, threshold = _rfw_style(tmp_path / "scores.parquet")
    frame = pd.read_parquet(path)
    impostors = frame[frame["genuine"] == 0]
    fmr = (impostors["score"] >= threshold).groupby(impostors["race"]).mean()
    result = audit_biometrics(
        path, score="score", genuine="genuine", group="race", threshold=threshold, reference="Caucasian"
    )
    lead = lead_finding(result)
    # equal support everywhere, so the largest clear gap leads: African against Caucasian
    ratio = fmr["African"] / fmr["Caucasian"]
    first, second = percent_pair(fmr["African"], fmr["Caucasian"])
    assert lead == (
        f"In group African, two different people were wrongly matched {times_text(ratio)} as often as in "
        f"group Caucasian ({first} vs {second})."
    )
    assert_plain(lead)


def test_biometrics_all_zero_says_so_plainly(tmp_path: Path) -> None:
    path, _ = _rfw_style(tmp_path / "scores.parquet")
    result = audit_biometrics(path, score="score", genuine="genuine", group="race", threshold=50.0)
    lead = lead_finding(result)
    assert lead == "At this threshold, no two different people were wrongly matched, in any group."
    assert_plain(lead)


def test_febrl_linkage_lead_recounted_by_hand(febrl4: Path) -> None:
    records = pq.read_table(febrl4).to_pandas()
    rng = np.random.default_rng(0)
    a = records[records.source_dataset == "a"].set_index("cluster_id")
    b = records[records.source_dataset == "b"].set_index("cluster_id")
    common = a.index.intersection(b.index)
    true = pd.DataFrame(
        {"id_l": a.loc[common, "rec_id"].to_numpy(), "id_r": b.loc[common, "rec_id"].to_numpy()}
    )
    true["score"] = rng.uniform(0.6, 1, len(true))
    false = pd.DataFrame(
        {
            "id_l": a["rec_id"].sample(800, random_state=1).to_numpy(),
            "id_r": b["rec_id"].sample(800, random_state=2).to_numpy(),
            "score": rng.uniform(0.3, 0.95, 800),
        }
    )
    pairs = pd.concat([true, false], ignore_index=True)
    spec = LinkageAuditSpec(
        id_column="rec_id", cluster_column="cluster_id", source_column="source_dataset", thresholds=(0.9,)
    )
    lead = lead_finding(audit_linkage(pairs, records, spec=spec))
    cluster = records.set_index("rec_id")["cluster_id"]
    kept = pairs[pairs.score >= 0.9]
    wrong = kept[cluster.loc[kept.id_l].to_numpy() != cluster.loc[kept.id_r].to_numpy()]
    people = len(set(wrong.id_l) | set(wrong.id_r))
    share = percent_pair(people / len(records), 1)[0]
    assert lead == (
        f"{people:,} of {len(records):,} people ({share}) were linked to someone else's record when links need "
        "a match probability of at least 0.9."
    )
    assert_plain(lead)


@pytest.fixture(scope="module")
def shipped() -> object:
    inventory = load_inventories()
    yield inventory
    inventory.close()


@pytest.mark.parametrize("year", [2024, 2025])
def test_inventory_leads_match_the_headline_and_read_plainly(shipped: object, year: int) -> None:
    card = scorecard(shipped, year=year)  # type: ignore[arg-type]
    numbers = re.match(
        r"\d+ inventory: ([\d,]+) use cases, ([\d,]+) high-impact;.*?([\d,]+) high-impact use", card.summary
    )
    assert numbers is not None
    lead = lead_finding(card)
    total, high, lacking = numbers.groups()
    assert lead == (
        f"In {year}, agencies listed {total} AI use cases, and {high} of them were high-impact. Of those, "
        f"{lacking} lack a way to appeal, an independent review, or both."
    )
    assert_plain(lead)
    queue = check(shipped, year=year)  # type: ignore[arg-type]
    flagged = len(set(queue.extras["review_queue"]["uid"].to_pylist()))
    assert lead_finding(queue).startswith(f"{flagged:,} use cases describe")
    assert_plain(lead_finding(queue))


def _log(days: int, change_day: int | None) -> pd.DataFrame:
    """Three groups, 300 decisions a day; B's false positive rate goes from 5% to 15% on change_day."""
    rng = np.random.default_rng(1)
    frames = []
    for day in range(days):
        for group in "ABC":
            truth = rng.random(300) < 0.3
            rate = 0.15 if group == "B" and change_day is not None and day >= change_day else 0.05
            flag = np.where(truth, rng.random(300) < 0.7, rng.random(300) < rate)
            stamp = (pd.Timestamp("2024-01-01") + pd.Timedelta(days=day)).isoformat()
            frames.append(
                pd.DataFrame(
                    {"ts": stamp, "grp": group, "flag": flag.astype(int), "truth": truth.astype(int)}
                )
            )
    return pd.concat(frames, ignore_index=True)


def test_monitor_leads_name_the_alarm_and_read_plainly() -> None:
    changed = monitor(
        _log(40, 20), time="ts", group="grp", reference="A", truth="truth", flag="flag", metrics=["fpr"]
    )
    lead = lead_finding(changed)
    alarm = changed.extras["alarms"].to_pylist()[0]
    since = pd.Timestamp(alarm["since"])
    assert pd.Timestamp("2024-01-21") <= since <= pd.Timestamp("2024-01-31")  # the change was on 21 January
    assert lead == (
        f"Alarm: since about {since.day} {since:%B %Y}, group B has been wrongly flagged more than 1.25 times "
        "as often as group A."
    )
    assert_plain(lead)
    content = build_report(changed)  # the alarm is said by the lead and the section, not a third time
    assert "since about" in changed.summary and not any("since about" in s for s in content.summary)
    assert any("went above 1.25" in f for section in content.sections for f in section.findings)
    steady = monitor(
        _log(30, None), time="ts", group="grp", reference="A", truth="truth", flag="flag", metrics=["fpr"]
    )
    assert lead_finding(steady).startswith("No alarm is open")
    assert_plain(lead_finding(steady))


def test_a_kind_without_its_own_lead_uses_the_summarys_first_sentence() -> None:
    from misflag.result import make_row, rows_to_table

    result = AuditResult(
        "other", rows_to_table([make_row("overall", "all", "all", "n", 3)]), summary="One. Two."
    )
    assert lead_finding(result) == "One."


def test_no_gap_is_claimed_only_when_every_comparison_has_an_interval() -> None:
    from misflag.result import make_row, rows_to_table

    def result(reference_low: float | None) -> AuditResult:
        rows = [make_row("overall", "all", "all", "n", 200, denominator=200)]
        for group, rate in (("a", 0.0), ("b", 0.2)):
            rows.append(make_row("grp", group, "all", "n", 100, denominator=100))
            rows.append(make_row("grp", group, "decision", "fpr", rate, 0.0, 0.3, denominator=60))
        rows.append(
            make_row("grp", "a", "decision", "fpr_ratio", 1.0, denominator=60, warning="reference group")
        )
        high = None if reference_low is None else 1.5
        rows.append(
            make_row("grp", "b", "decision", "fpr_ratio", None, reference_low, high, 60, warning="vs a")
        )
        return AuditResult("decisions", rows_to_table(rows), summary="First sentence. Second.")

    assert lead_finding(result(None)) == "First sentence."  # undefined against a rate of 0: no claim
    assert lead_finding(result(0.5)) == (
        "No group was wrongly flagged more often than a by more than chance would explain."
    )
