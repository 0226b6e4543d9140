"""Terminal footnotes carry their real numbers; the interval line says where the intervals are (issue 22)."""

from __future__ import annotations

import io

from rich.console import Console

from misflag.commands._compact import render_compact
from misflag.result import AuditResult, make_row, rows_to_table


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
