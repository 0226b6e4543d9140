"""Errors that teach (issue 22): did you mean, whole names, parser errors in the expression's own terms with
a caret, quoting hints, one CSV dialect sniffer for every reader, and a missing extra in one line."""

from __future__ import annotations

import gzip
import os
import pty
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from misflag._extras import MissingExtraError
from misflag.cli import main
from misflag.decisions import audit_decisions
from misflag.errors import ExpressionError, InputError
from misflag.io import check_expression, sniff_csv
from misflag.io._suggest import ParseProblem, close_names, name_list
from misflag.result import AuditResult, make_row, rows_to_table

FLAG = "score_text in ('Medium','High')"


@pytest.fixture(scope="module")
def compas_columns(compas_csv: Path) -> list[str]:
    return list(pd.read_csv(compas_csv, nrows=1).columns)


def test_misspelt_column_says_did_you_mean_and_lists_whole_names(compas_columns: list[str]) -> None:
    with pytest.raises(ExpressionError) as caught:
        check_expression("score_txt = 'High'", compas_columns, "--flag")
    message = str(caught.value)
    assert "did you mean 'score_text'" in message
    listing = message.split("(columns: ", 1)[1].rsplit(")", 1)[0]
    shown = listing.split(", and ")[0].split(", ")
    assert shown[0] == "score_text"  # the intended column leads the list
    assert all(name in compas_columns for name in shown)  # never a name cut in the middle
    hidden = int(listing.split(", and ")[1].split()[0])
    assert len(shown) + hidden == len(set(compas_columns))
    assert sorted(caught.value.columns) == sorted(set(compas_columns))  # type: ignore[attr-defined]


def test_every_column_on_request(compas_columns: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISFLAG_ALL_COLUMNS", "1")
    with pytest.raises(ExpressionError) as caught:
        check_expression("nosuch = 1", compas_columns, "--flag")
    listing = str(caught.value).split("(columns: ", 1)[1].rsplit(")", 1)[0]
    assert sorted(listing.split(", ")) == sorted(set(compas_columns))


def test_close_names_by_hand() -> None:
    assert close_names("RACE", ["race", "age"]) == ["race"]
    assert close_names("zzz", ["race", "age"]) == []
    assert (
        name_list(["bb", "a", "ccc"], budget=7) == "a, bb, and 1 more (every one: set MISFLAG_ALL_COLUMNS=1)"
    )


@pytest.mark.parametrize(
    ("text", "what", "position"),
    [
        ("flagged = = 1", "'=' needs a value on each side", 10),
        ("score_text = 'High' AND (decile_score > 3", "a '(' is not closed; add ')'", 41),
        ("score_text = 'High", "a text value opened with ' is not closed", 13),
    ],
)
def test_parse_errors_in_the_expressions_terms_with_a_caret(text: str, what: str, position: int) -> None:
    with pytest.raises(ParseProblem) as caught:
        check_expression(text, ["flagged", "score_text", "decile_score"], "--flag")
    message = str(caught.value)
    assert message == f"--flag expression does not parse at character {position + 1}: {what}"
    assert "sqlglot" not in message and "<class" not in message and "Required keyword" not in message
    line, caret = caught.value.caret_lines()
    assert line == f"    {text}" and caret == " " * (4 + position) + "^"


def test_quoting_hints() -> None:
    with pytest.raises(ExpressionError, match=r"quote text values: IN \('Medium', 'High'\)"):
        check_expression("score_text IN (Medium,High)", ["score_text"], "--flag")
    with pytest.raises(ExpressionError, match="if 'High' is a value, not a column, quote it"):
        check_expression("score_text = High", ["score_text"], "--flag")


def test_cli_on_a_terminal_shows_the_caret_and_a_pipe_gets_one_line(tmp_path: Path) -> None:
    data = tmp_path / "log.csv"
    data.write_text("flagged,truth\n" + "1,0\n0,1\n" * 20)
    command = [
        sys.executable,
        "-m",
        "misflag.cli",
        "decisions",
        "audit",
        str(data),
        "--flag",
        "flagged = = 1",
    ]
    command += ["--truth", "truth"]
    piped = subprocess.run(command, capture_output=True, text=True)
    assert piped.returncode == 2 and len(piped.stderr.strip().splitlines()) == 1
    leader, follower = pty.openpty()
    process = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    text = output.decode().replace("\r", "")
    lines = text[text.index("error: ") :].splitlines()  # after the progress bar the terminal shows
    assert process.returncode == 2
    assert lines == [
        "error: --flag expression does not parse at character 11: '=' needs a value on each side",
        "    flagged = = 1",
        "              ^",
    ]


def test_reference_lists_the_groups_and_suggests(
    compas_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "decisions",
        "audit",
        str(compas_csv),
        "--flag",
        FLAG,
        "--truth",
        "two_year_recid",
        "--group",
        "race",
    ]
    assert main([*args, "--reference", "caucasian"]) == 2
    err = capsys.readouterr().err
    assert "--reference 'caucasian' names no group of any --group attribute; did you mean 'Caucasian'" in err
    assert main([*args, "--reference", "white"]) == 2
    err = capsys.readouterr().err
    groups = sorted(pd.read_csv(compas_csv)["race"].unique())
    assert f"(groups: {', '.join(groups)})" in err
    assert main([*args, "--refrence", "Caucasian"]) == 2  # options: click's own suggestion
    assert "--reference" in capsys.readouterr().err


def _semicolon_log(path: Path) -> pd.DataFrame:
    """A decision log as a European spreadsheet saves it: ';' between fields, decimal commas."""
    frame = pd.DataFrame(
        {
            "grp": ["A", "B"] * 100,
            "flag": [i % 3 == 0 for i in range(200)],
            "truth": [i % 5 == 0 for i in range(200)],
            "score": [(i % 17) + 0.25 for i in range(200)],
        }
    ).astype({"flag": int, "truth": int})
    text = frame.to_csv(sep=";", index=False, decimal=",")
    path.write_text(text)
    return frame


def test_semicolon_decimal_comma_csv_read_alike_and_said(tmp_path: Path) -> None:
    frame = _semicolon_log(tmp_path / "log.csv")
    assert sniff_csv(tmp_path / "log.csv").describe() == "semicolon-separated, decimal comma, utf-8"
    result = audit_decisions(
        tmp_path / "log.csv", flag="flag = 1", truth="truth", groups=["grp"], score="score"
    )
    assert "(CSV: semicolon-separated, decimal comma, utf-8)" in result.metadata["input"]["description"]
    negatives = frame[frame.truth == 0]
    # the score was read as a number (decimal comma): the threshold is one of the real scores
    assert result.metadata["global_threshold"] in set(frame.score)
    assert result.value("fpr", "A", attribute="grp", stage="decision") == pytest.approx(
        negatives[negatives.grp == "A"].flag.mean()
    )


def test_semicolon_inventory_reads_like_the_shipped_one(tmp_path: Path) -> None:
    from misflag.inventory import load_inventories, scorecard, shipped_inventories

    source = next(p for p in shipped_inventories() if p.name.startswith("2025"))
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        frame = pd.read_csv(handle, dtype=str, keep_default_na=False)
    folder = tmp_path / "inventories"
    folder.mkdir()
    frame.to_csv(folder / "2025_inventory.csv", sep=";", index=False)
    own, shipped = load_inventories([folder]), load_inventories()
    try:
        mine, theirs = scorecard(own, year=2025), scorecard(shipped, year=2025)
        assert mine.summary.split(".")[0] == theirs.summary.split(".")[0]
        assert mine.value("high_impact_count", "all", attribute="all", stage="2025") == theirs.value(
            "high_impact_count", "all", attribute="all", stage="2025"
        )
    finally:
        own.close()
        shipped.close()


def test_windows_1252_is_read_and_named(tmp_path: Path) -> None:
    """Read as the inventory reader reads it (one rule, tests/security/test_encoding_rule.py), and said."""
    path = tmp_path / "latin.csv"
    path.write_bytes(("grp;flag;truth\n" + "S\xe3o \u20ac;1;0\nS\xe3o \u20ac;0;0\n" * 3).encode("cp1252"))
    result = audit_decisions(path, flag="flag = 1", truth="truth", groups=["grp"], min_cell=1)
    assert result.metadata["input"]["description"].endswith("(CSV: semicolon-separated, cp1252)")
    assert result.value("fpr", "S\xe3o \u20ac", attribute="grp") == 3 / 6


def test_missing_extra_is_one_line_from_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's Python example on the core install: to_pandas() names the extra, no pandas traceback."""
    result = AuditResult("decisions", rows_to_table([make_row("overall", "all", "all", "n", 3)]))
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if pandas were not installed
    with pytest.raises(MissingExtraError) as caught:
        result.to_pandas()
    assert str(caught.value) == (
        "this needs misflag's [pandas] extra (pandas is not installed): pip install 'misflag[pandas]'"
    )
    monkeypatch.setitem(sys.modules, "polars", None)
    with pytest.raises(MissingExtraError, match=r"misflag\[polars\]"):
        result.to_polars()


def test_report_without_its_extra_is_one_line_from_python() -> None:
    """`from misflag.report import write_report` without Jinja: MissingExtraError naming [report]."""
    code = (
        "import sys; sys.modules['jinja2'] = None\n"
        "from misflag._extras import MissingExtraError\n"
        "try:\n    from misflag.report import write_report\n"
        "except MissingExtraError as error:\n    print(error)\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == (
        "this needs misflag's [report] extra (jinja2 is not installed): pip install 'misflag[report]'"
    )


def test_misspelt_command_suggests_among_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decisons", "audit", "x"]) == 2
    assert capsys.readouterr().err.strip() == "error: No such command 'decisons'. Did you mean 'decisions'?"
    assert main(["zzzzz"]) == 2
    assert "Did you mean" not in capsys.readouterr().err


def test_monitor_reference_suggests_a_group() -> None:
    from misflag.monitor import monitor

    frame = pd.DataFrame(
        {
            "ts": [f"2024-01-{1 + i % 20:02d}" for i in range(600)],
            "grp": ["Alpha", "Beta", "Gamma"] * 200,
            "flag": [i % 2 for i in range(600)],
            "truth": [i % 3 == 0 for i in range(600)],
        }
    ).astype({"truth": int})
    with pytest.raises(InputError) as caught:
        monitor(frame, time="ts", group="grp", reference="alpha", truth="truth", flag="flag", metrics=["fpr"])
    assert "names no group of group; did you mean 'Alpha'? (groups: Alpha, Beta, Gamma)" in str(caught.value)


def test_biometrics_reference_suggests_a_group(tmp_path: Path) -> None:
    from misflag.biometrics import audit_biometrics

    path = tmp_path / "scores.csv"
    rows = [f"{0.1 * (i % 10)},{i % 2},{group}" for group in ("Africa", "Asia", "Europe") for i in range(40)]
    path.write_text("score,genuine,region\n" + "\n".join(rows) + "\n")
    with pytest.raises(InputError) as caught:
        audit_biometrics(
            path, score="score", genuine="genuine", group="region", threshold=0.5, reference="africa"
        )
    assert "is not a group of region; did you mean 'Africa'? (groups: Africa, Asia, Europe)" in str(
        caught.value
    )


def test_monitor_runs_without_pandas(tmp_path: Path) -> None:
    """The monitor's count table is numpy and Arrow: with pandas unimportable it still runs."""
    path = tmp_path / "log.csv"
    rows = [f"2024-01-{1 + i % 20:02d},{'AB'[i % 2]},{i % 3 == 0:d},{i % 5 == 0:d}" for i in range(400)]
    path.write_text("ts,grp,flag,truth\n" + "\n".join(rows) + "\n")
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "from misflag.monitor import monitor\n"
        f"result = monitor({str(path)!r}, time='ts', group='grp', reference='A', truth='truth', flag='flag')\n"
        "print(result.metadata['periods']['count'])\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "20"
