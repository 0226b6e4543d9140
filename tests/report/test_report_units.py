"""Numbers a reader can defend: one unit per rate column, intervals that show their width, thresholds
shortened only where they are display, columns that say what they count (issue 22)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from misflag.biometrics import audit_biometrics
from misflag.commands._compact import render_compact
from misflag.report import build_report
from misflag.report._model import cell, display_stage, percent_decimals
from misflag.result import AuditResult, make_row


@pytest.fixture(scope="module")
def scores(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four groups, impostors N(mean, 1), genuine N(4, 1): tiny FMRs at high thresholds."""
    rng = np.random.default_rng(3)
    frames = []
    for group, mean in (("Africa", 0.6), ("Asia", 0.3), ("Europe", 0.0), ("India", 0.2)):
        frames.append(
            pd.DataFrame(
                {
                    "score": np.r_[rng.normal(mean, 1, 20_000), rng.normal(4, 1, 2_000)],
                    "genuine": np.r_[np.zeros(20_000, int), np.ones(2_000, int)],
                    "region": group,
                }
            )
        )
    path = tmp_path_factory.mktemp("bio") / "scores.parquet"
    pd.concat(frames).to_parquet(path)
    return path


def test_percent_decimals_by_hand() -> None:
    tiny = make_row("region", "A", "s", "fmr", 0.0, 0.0, 4.8e-05, 80_000)
    rate = make_row("region", "B", "s", "fmr", 9.6e-05, 2e-05, 3e-04, 20_000)
    # at 2 decimals 4.8e-05 reads 0.00 (an interval of zero width) and 9.6e-05 reads 0.01: 3 decimals suffice
    assert percent_decimals([tiny, rate]) == 3
    assert cell(tiny, 3) == "0.000% [0.000% – 0.005%]"
    assert cell(rate, 3) == "0.010% [0.002% – 0.030%]"
    assert display_stage("score>3.442053103073101") == "score>3.442"
    assert display_stage("score>=10") == "score>=10"


def test_biometric_report_tables_one_unit_and_counted_columns(scores: Path) -> None:
    result = audit_biometrics(scores, score="score", genuine="genuine", group="region", target_fmr=0.0005)
    content = build_report(result)
    counts = [t for t in content.tables if t.title.endswith("stage all")]
    assert all("people" not in t.columns and "comparisons" in t.columns for t in counts)
    for block in [*content.tables, content.full]:
        for row in block.rows:
            for text in row:
                assert not re.search(r"\de-\d", text), text  # never e-notation beside percent
                for low, high in re.findall(r"\[([\d.]+)% – ([\d.]+)%\]", text):
                    assert low != high or float(low) == 100, text  # an interval shows its width
    stage = next(p["stage"] for p in result.metadata["operating_points"])
    assert len(stage) > 15  # the found threshold carries every digit ...
    titles = [chart.title for section in content.sections for chart in section.charts]
    assert all(stage not in title for title in titles)  # ... which chart titles shorten
    assert any(display_stage(stage) in title for title in titles)
    assert any(
        stage in finding for section in content.sections for finding in section.findings
    )  # exact rule kept
    assert not any(s.startswith("Convention") for s in content.summary)  # how to read, not a finding
    assert any(p.startswith("Convention") for section in content.sections for p in section.paragraphs)


def test_all_zero_rates_are_not_a_range(scores: Path) -> None:
    result = audit_biometrics(scores, score="score", genuine="genuine", group="region", threshold=50.0)
    assert "ranged from 0" not in result.summary
    assert "FMR by region was 0% in every group shown." in result.summary
    assert not re.search(r"\de-\d", result.summary)


def test_terminal_counts_comparisons_and_tiny_intervals_keep_their_width(scores: Path) -> None:
    result = audit_biometrics(scores, score="score", genuine="genuine", group="region", threshold=50.0)
    buffer = io.StringIO()
    render_compact(result, Console(file=buffer, width=120, color_system=None))
    text = buffer.getvalue()
    header = next(line for line in text.splitlines() if line.startswith("group"))
    assert header.split()[1] == "comparisons" and " people " not in text
    impostors = 20_000  # per group; an FMR of 0 of 20,000 has a Wilson upper bound of 1.92e-4
    upper = 1.96**2 / (impostors + 1.96**2)
    assert f"0.00–{100 * upper:.2f}" in text
    assert "0.0–0.0" not in text


def test_heat_map_legend_is_in_percent_like_its_cells() -> None:
    from misflag.report._biometrics import heat_map

    rows = [
        make_row("a × b", f"{x} × {y}", "s", "fmr", v, v / 2, v * 2, 1000)
        for x, y, v in (("A", "A", 1e-3), ("A", "B", 2e-4), ("B", "A", 3e-4), ("B", "B", 5e-4))
    ]
    spec = json.dumps(heat_map(rows, "fmr", "t"))
    assert '"format": ".2~%"' in spec
    assert all(f"{100 * r['value']:.3g}%" in spec for r in rows)
    assert isinstance(AuditResult, type)


def test_spread_row_is_filled_in_the_report_table(compas_result: AuditResult) -> None:
    content = build_report(compas_result)
    stage = next(s for s in {r["stage"] for r in compas_result.rows()} if s.startswith("score"))
    table = next(t for t in content.tables if t.title == f"By race — stage {stage}")
    row = next(r for r in table.rows if r[0] == "(highest/lowest)")
    spread = compas_result.value("fpr_max_min_ratio", "(highest/lowest)", attribute="race", stage=stage)
    assert row[table.columns.index("fpr_ratio")].startswith(f"{spread:.2f} [")
    assert "highest: African-American" in row[-1]


def test_inventory_table_shows_the_headlines_shares() -> None:
    from misflag.inventory import load_inventories, scorecard

    inventory = load_inventories()
    try:
        card = scorecard(inventory, year=2025)
    finally:
        inventory.close()
    found = re.search(
        r"([\d,]+) high-impact; among those, (\d+) report an established appeal process and (\d+)",
        card.summary,
    )
    assert found is not None
    high, appeal, review = (int(x.replace(",", "")) for x in found.groups())
    table = build_report(card).tables[0]
    assert table.columns[1:5] == [
        "use cases",
        "high-impact use cases",
        "high-impact with an appeal process (appeal_established_share)",
        "high-impact with independent review (independent_review_established_share)",
    ]
    everyone = table.rows[0]
    assert everyone[3] == f"{100 * appeal / high:.2f}%" and everyone[4] == f"{100 * review / high:.2f}%"


def test_report_says_which_rule_chose_the_score_stage(compas_result: AuditResult) -> None:
    stage = next(s for s in {r["stage"] for r in compas_result.rows()} if s.startswith("score"))
    threshold = compas_result.metadata["global_threshold"]
    paragraphs = [p for section in build_report(compas_result).sections for p in section.paragraphs]
    assert (
        f"Stage {stage}: flagged when decile_score >= {threshold:g}, the lowest threshold that wrongly flags at "
        "most 5% of everyone (--target-fpr; --threshold sets it)."
    ) in paragraphs
