"""The compact terminal view: fits 80 columns, never breaks a word, withholds small groups, stays short."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from misflag.cli import main
from misflag.commands._compact import render_compact
from misflag.commands._compact_cells import compact_cell
from misflag.report._model import visible_rows
from misflag.result import AuditResult, make_row, rows_to_table

#: ProPublica, "How We Analyzed the COMPAS Recidivism Algorithm" (2016), error-rate table.
PROPUBLICA = {"44.85%", "23.45%", "27.99%", "47.72%"}
README_COMMAND = [
    "decisions",
    "audit",
    "<compas>",
    "--flag",
    "score_text IN ('Medium','High')",
    "--truth",
    "two_year_recid",
    "--group",
    "race",
    "--group",
    "sex",
    "--intersect",
    "--reference",
    "Caucasian",
]


def _render(result: AuditResult, width: int) -> str:
    buffer = io.StringIO()
    render_compact(result, Console(file=buffer, width=width, highlight=False, color_system=None))
    return buffer.getvalue()


def _words_intact(text: str, phrases: list[str]) -> None:
    """Every word of every phrase appears whole in the text (not split across lines, not truncated)."""
    tokens = set(text.split())
    for phrase in phrases:
        for word in phrase.split():
            assert word in tokens, f"{word!r} of {phrase!r} is broken or missing"
    assert "…" not in text


def _result(labels: list[str], *, small: str | None = None) -> AuditResult:
    rows: list[dict[str, Any]] = [make_row("overall", "all", "all", "n", 5000, denominator=5000)]
    for i, label in enumerate(labels):
        n = 5 if label == small else 400 + i
        suppressed = label == small
        rows.append(make_row("origin", label, "all", "n", n, denominator=n, suppressed=suppressed))
        rows.append(
            make_row(
                "origin", label, "decision", "fpr", 0.123456, 0.1, 0.15, denominator=n, suppressed=suppressed
            )
        )
        rows.append(
            make_row(
                "origin", label, "decision", "fnr", 0.5, 0.45, 0.55, denominator=n, suppressed=suppressed
            )
        )
        rows.append(
            make_row(
                "origin",
                label,
                "decision",
                "fpr_ratio",
                1.0 if i == 0 else 1.5,
                1.0 if i == 0 else 1.2,
                1.0 if i == 0 else 1.9,
                denominator=n,
                suppressed=suppressed,
                warning=f"vs {labels[0]}" + ("; denominator under 30: interval is wide" if i == 2 else ""),
            )
        )
    return AuditResult(kind="decisions", table=rows_to_table(rows), metadata={"min_cell": 10})


def test_cells_carry_the_value_and_its_interval() -> None:
    row = make_row("race", "A", "decision", "fpr", 0.4485, 0.4251, 0.4712, denominator=1795)
    assert compact_cell(row) == "44.85% (42.5–47.1)"
    assert compact_cell(row, two_lines=True) == "44.85%\n42.5–47.1"
    ratio = make_row("race", "A", "decision", "fpr_ratio", 1.912, 1.7157, 2.1054, denominator=1795)
    assert compact_cell(ratio) == "1.91 (1.72–2.11)"
    assert compact_cell(make_row("race", "A", "decision", "fpr", None, suppressed=True)) == "suppressed"


@pytest.mark.parametrize("width", [60, 80, 120])
def test_long_labels_wrap_at_spaces_and_fit(width: int) -> None:
    labels = [
        "Native Hawaiian or Other Pacific Islander & Female & 65 and over",
        "White & Male & 25 to 44",
        "Black or African American & Female & 45 to 64",
        "Hispanic or Latino",
    ]
    text = _render(_result(labels), width)
    assert max(len(line) for line in text.splitlines()) <= width
    _words_intact(text, labels)
    assert "12.35%" in text and "10.0–15.0" in text, "the figure and its interval are both shown"
    assert (
        "reference" in text
        and "divided by Native Hawaiian or Other Pacific Islander & Female & 65" in " ".join(text.split())
    )
    assert "* denominator under 30: interval is wide" in text


def test_small_groups_are_withheld_with_their_label() -> None:
    text = _render(_result(["Alpha", "Beta", "Gamma", "Zeta"], small="Zeta"), 80)
    assert "Zeta" not in text
    assert "1 group(s) of origin are withheld for disclosure control (--min-cell 10)" in " ".join(
        text.split()
    )


def test_readme_decisions_command_is_short_and_fits_80_columns(
    compas_csv: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    argv = [str(compas_csv) if a == "<compas>" else a for a in README_COMMAND]
    assert main(argv) == 0  # exactly the README's command (1,000 replicates)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) <= 150
    assert max(len(line) for line in lines) <= 80
    assert set(re.findall(r"\d+\.\d\d%", out)) >= PROPUBLICA
    # the same audit as rows: every shown group's label is whole, every withheld one is absent
    assert main([*argv, "--format", "json"]) == 0
    result = AuditResult.from_bundle(json.loads(capsys.readouterr().out))
    visible = visible_rows(result)
    shown = sorted({r["group"] for r in visible.rows if r["attribute"] != "overall"})
    withheld = {r["group"] for r in result.rows()} - {r["group"] for r in visible.rows}
    assert "African-American" in shown
    _words_intact(out, [*shown, "wrongly flagged (FPR)"])
    flat = " ".join(out.split())
    for group in withheld:
        assert group not in flat, f"withheld group {group} is named"


def test_long_format_keeps_every_row(
    compas_csv: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # wider than the terminal rather than a word broken ("decisio n")
    argv = [str(compas_csv), "--flag", "score_text IN ('Medium','High')", "--truth", "two_year_recid"]
    assert (
        main(["decisions", "audit", *argv, "--group", "sex", "--replicates", "200", "--format", "long"]) == 0
    )
    out = capsys.readouterr().out
    tokens = set(out.split())
    assert {"selection_rate", "base_rate", "precision", "decision", "Female", "Male"} <= tokens
    assert len([line for line in out.splitlines() if " fpr " in line]) == 3  # everyone, Female, Male


def test_pdf_without_chromium_fails_before_the_audit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no browser on PATH
    monkeypatch.delenv("MISFLAG_CHROMIUM", raising=False)
    missing = tmp_path / "no-such-input.csv"  # the audit would fail on this; the PDF check must come first
    code = main(
        ["decisions", "audit", str(missing), "--flag", "f", "--truth", "t", "--pdf", str(tmp_path / "r.pdf")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Chromium" in err


def test_report_says_what_it_wrote(
    compas_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report, saved = tmp_path / "r.html", tmp_path / "r.json"
    argv = [str(compas_csv), "--flag", "score_text IN ('Medium','High')", "--truth", "two_year_recid"]
    code = main(
        [
            "decisions",
            "audit",
            *argv,
            "--group",
            "sex",
            "--replicates",
            "200",
            "--report",
            str(report),
            "--save",
            str(saved),
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert f"wrote {report} (HTML report)" in err and f"wrote {saved}" in err
    assert report.is_file() and saved.is_file()


def test_report_to_a_missing_folder_fails_before_the_audit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "decisions",
            "audit",
            str(tmp_path / "none.csv"),
            "--flag",
            "f",
            "--truth",
            "t",
            "--report",
            str(tmp_path / "no" / "r.html"),
        ]
    )
    assert code == 2
    assert "folder" in capsys.readouterr().err


def test_any_other_kind_gets_its_metrics_with_intervals() -> None:
    """A kind the view does not know (a new audit) still prints groups as rows with intervals, in 80 columns."""
    rows = [
        make_row("site", name, "week 1", metric, value, value - 0.01, value + 0.02, denominator=500)
        for name in ("north", "south")
        for metric, value in (("drift_rate", 0.25), ("alarm_rate", 0.05))
    ]
    result = AuditResult(kind="new-audit", table=rows_to_table(rows))
    text = _render(result, 80)
    assert "drift rate" in text and "alarm rate" in text
    assert "25.00% (24.0–27.0)" in text and "north" in text and "south" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_review_queue_shows_the_matching_text() -> None:
    """The inventory check promises the text that matched: the terminal shows it, not only counts."""
    import pyarrow as pa

    rows = [make_row("all", "all", "2025", "review_queue_count", 2, denominator=100)]
    queue = pa.table(
        {
            "uid": ["a", "a", "b"],
            "agency": ["DHS", "DHS", "DOJ"],
            "name": ["Entity Resolution", "Entity Resolution", "Lead Tool"],
            "matched": ["entity resolution", "Entity  Resolution", "generate leads"],
        }
    )
    result = AuditResult(kind="inventory", table=rows_to_table(rows), extras={"review_queue": queue})
    text = " ".join(_render(result, 80).split())
    assert "- DHS: Entity Resolution — “entity resolution”; “Entity Resolution”" in text
    assert "- DOJ: Lead Tool — “generate leads”" in text
