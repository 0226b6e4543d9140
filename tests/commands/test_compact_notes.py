"""Terminal footnotes carry their real numbers; the interval line says where the intervals are (issue 22)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
from rich.console import Console

from misflag.commands._compact import render_compact
from misflag.decisions import audit_decisions
from misflag.result import AuditResult, make_row, rows_to_table

FLAG = "score_text in ('Medium','High')"


def _render(result: AuditResult, width: int = 100) -> str:
    buffer = io.StringIO()
    render_compact(result, Console(file=buffer, width=width, color_system=None), footer=False)
    return buffer.getvalue()


def _many_notes() -> AuditResult:
    """Seven groups, each with a note differing only in a count, plus a note with a fixed number."""
    rows = [make_row("overall", "all", "all", "n", 1000, denominator=1000)]
    for index, count in enumerate((3, 5, 7, 9, 12, 4, 8)):
        group = f"g{index}"
        rows.append(make_row("region", group, "all", "n", 100, denominator=100))
        rows.append(
            make_row(
                "region",
                group,
                "all",
                "wrongful_match_per_100k",
                10.0 + index,
                8.0,
                14.0 + index,
                denominator=100,
                warning=f"only {count} simulated matches; denominator under 30",
            )
        )
    return AuditResult("linkage-risk", rows_to_table(rows))


def test_generalised_notes_print_the_range_of_their_numbers_not_a_placeholder() -> None:
    text = _render(_many_notes())
    # seven different counts make more notes than marks, so like notes share one, with the counts' range
    assert "only 3–12 simulated matches" in text
    assert "denominator under 30" in text
    assert " n simulated" not in text and "under n" not in text


def test_reference_rate_note_keeps_its_zero() -> None:
    rows = [make_row("overall", "all", "all", "n", 1000, denominator=1000)]
    for index in range(7):
        rows.append(make_row("race", f"g{index}", "all", "n", 100, denominator=100))
        rows.append(
            make_row(
                "race",
                f"g{index}",
                "all",
                "fpr",
                0.1,
                0.05,
                0.2,
                denominator=50,
                warning=f"note number {index}; the reference rate is 0, so the ratio has no upper limit",
            )
        )
    text = _render(AuditResult("decisions", rows_to_table(rows)))
    assert "the reference rate is 0" in text
    assert "rate is n" not in text
    assert "note number 0–6" in text


def test_interval_line_only_where_intervals_are_shown() -> None:
    without = [
        make_row("overall", "all", "all", "n", 10, denominator=10),
        make_row("overall", "all", "all", "share_flagged", 0.5, denominator=10),
    ]
    assert "95% intervals" not in _render(AuditResult("other", rows_to_table(without)))
    with_interval = [*without[:1], make_row("overall", "all", "all", "share_flagged", 0.5, 0.2, 0.8, 10)]
    text = _render(AuditResult("other", rows_to_table(with_interval)), width=100)
    assert "95% intervals in brackets." in text
    assert "(20.0–80.0)" in text
    narrow = " ".join(_render(AuditResult("other", rows_to_table(with_interval)), width=30).split())
    assert "95% intervals on the line below each figure." in narrow
    assert "(20.0–80.0)" not in narrow and "20.0–80.0" in narrow


def test_score_stage_says_which_rule_chose_it_and_spread_row_is_filled(compas_csv: Path) -> None:
    """--score with the default --target-fpr 0.05: the stage is named with its rule, never silently."""
    frame = pd.read_csv(compas_csv)
    negatives = frame[frame["two_year_recid"] == 0]
    # the lowest threshold whose overall FPR is at most 5%, found by hand
    threshold = min(
        t for t in sorted(frame["decile_score"].unique()) if (negatives["decile_score"] >= t).mean() <= 0.05
    )
    result = audit_decisions(
        compas_csv, truth="two_year_recid", flag=FLAG, groups=["race"], score="decile_score", replicates=100
    )
    text = " ".join(_render(result, width=200).split())
    assert (
        f"stage score>={threshold}: flagged when decile_score >= {threshold}, the lowest threshold that wrongly "
        "flags at most 5% of everyone (--target-fpr; --threshold sets it)"
    ) in text
    shown = negatives[negatives["race"].map(negatives["race"].value_counts()) >= 30]
    rates = (shown["decile_score"] >= threshold).groupby(shown["race"]).mean()
    spread = f"{rates.max() / rates.min():.2f}"
    assert re.search(rf"\(highest/lowest\) {re.escape(spread)}\S* \(", text), text
    assert f"highest: {rates.idxmax()}" in text and f"lowest: {rates.idxmin()}" in text
    chosen = audit_decisions(
        compas_csv,
        truth="two_year_recid",
        flag=FLAG,
        groups=["race"],
        score="decile_score",
        threshold=8,
        replicates=100,
    )
    assert "stage score>=8: flagged when decile_score >= 8 (--threshold)" in " ".join(
        _render(chosen, 200).split()
    )
