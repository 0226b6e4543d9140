"""Data values reach the terminal as text: never rich markup, never terminal control (issue 20, item 4).

Each hostile group value is audited through `misflag decisions audit` in-process. The canary of each case
is the value itself: it must be on the screen as its visible placeholder text (so it was neither run nor
dropped), and the raw control or markup effect must be absent. Files (`--format csv/json` into a pipe,
`--save`) keep the exact data.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from misflag._text import plain, printable
from misflag.cli import main
from misflag.commands._compact import render_compact
from misflag.decisions import audit_decisions

RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _log(folder: Path, groups: list[str], *, flag: str | None = None) -> Path:
    """A decision log: 40 people per group, all four flag/truth combinations in every group."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["g", "flag", "truth"])
    for index in range(40 * len(groups)):
        writer.writerow([groups[index % len(groups)], index % 2, (index // 2) % 2])
    if flag is not None:
        writer.writerow(["plain", flag, 0])
    path = folder / "log.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def _audit(path: Path, *options: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = ["decisions", "audit", str(path), "--flag", "flag", "--truth", "truth", "--group", "g"]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*args, "--min-cell", "1", "--replicates", "100", *options])
    return code, out.getvalue(), err.getvalue()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_placeholders_are_the_ones_written_by_hand() -> None:
    assert printable("a\x1b[2Jb") == "a\u241b[2Jb"  # ESC as the control picture ␛
    assert printable("\x00\x07\x08\t\r\n\x7f") == "\u2400\u2407\u2408\u2409\u240d\u240a\u2421"
    assert printable("\x9b31m\x9d52") == "\\x9b31m\\x9d52"  # C1 CSI and OSC
    assert printable("\u202eabc\u2066\u200f\u061c") == "\\u202eabc\\u2066\\u200f\\u061c"
    assert printable("x\ud800y") == "x\\ud800y"  # a lone surrogate, which no terminal can encode
    assert printable("a\r\nb\n", keep_newlines=True) == "a\u240d\nb\n"
    assert printable("[/x] :warning: Ωmega") == "[/x] :warning: Ωmega"  # markup is plain text here
    assert plain("[bold]x[/bold]").plain == "[bold]x[/bold]" and not plain("[bold]x").spans


@pytest.mark.parametrize("output", ["table", "long"])
@pytest.mark.parametrize(
    "value", ["[/x]", "[bold]loud[/bold]", "[link=https://evil.example]click[/link]", "[/]", ":warning:"]
)
def test_markup_in_a_group_value_is_printed_as_written(tmp_path: Path, value: str, output: str) -> None:
    code, out, err = _audit(_log(tmp_path, [value, "plain"]), "--format", output)
    assert code == 0, err
    assert "MarkupError" not in err and err.strip() == ""
    assert value in out  # the canary: the tags themselves are on the screen
    assert "\u26a0" not in out  # :warning: is not turned into an emoji


@pytest.mark.parametrize("output", ["table", "long"])
@pytest.mark.parametrize(
    "value",
    [
        "\x1b[2J\x1b[Hwiped",  # CSI: clear the screen, cursor home
        "\x1b[1A\x1b[2Kup",  # CSI: overwrite the line above
        "\x1b]52;c;ZXZpbA==\x07clip",  # OSC 52: write the clipboard
        "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",  # OSC 8 hyperlink
        "\x9b2Jc1",  # C1 CSI
        "\u202eevil",  # right-to-left override
        "bell\x07\x08\x08",
        "cr\roverwrite",
        "nul\x00byte",
    ],
)
def test_control_in_a_group_value_is_shown_not_run(tmp_path: Path, value: str, output: str) -> None:
    code, out, err = _audit(_log(tmp_path, [value, "plain"]), "--format", output)
    assert code == 0, err
    assert RAW_CONTROL.search(out + err) is None
    assert printable(value) in out  # the canary: shown, as its placeholders


def test_a_real_terminal_gets_rich_styles_but_no_data_control(tmp_path: Path) -> None:
    value = "\x1b]52;c;ZXZpbA==\x07\x1b[2J[/x]"
    result = audit_decisions(
        _log(tmp_path, [value, "plain"]), flag="flag", truth="truth", groups=("g",), min_cell=1
    )
    buffer = io.StringIO()
    render_compact(result, Console(file=buffer, width=100, force_terminal=True, color_system="standard"))
    screen = buffer.getvalue()
    assert "\x1b[1m" in screen  # rich's own bold header: this is a terminal
    assert "\x1b]52" not in screen and "\x1b[2J" not in screen and "\x07" not in screen
    assert "\u241b]52;c;ZXZpbA==\u2407\u241b[2J[/x]" in screen


def test_the_summary_shows_values_as_placeholders(tmp_path: Path) -> None:
    value = "\x1b[2Jsummary"
    code, out, _err = _audit(_log(tmp_path, [value, "plain"]), "--reference", value)
    assert code == 0
    last = out.strip().splitlines()[-12:]
    assert any("\u241b[2Jsummary" in line for line in last) and "\x1b" not in out


def test_csv_and_json_into_a_pipe_keep_the_exact_data(tmp_path: Path) -> None:
    value = "\x1b[2J[/x]\u202e"
    path = _log(tmp_path, [value, "plain"])
    code, out, _err = _audit(path, "--format", "csv")
    assert code == 0
    groups = {row["group"] for row in csv.DictReader(io.StringIO(out))}
    assert value in groups  # byte for byte, for the tools that read it
    code, out, _err = _audit(path, "--format", "json")
    assert code == 0 and value in {row["group"] for row in json.loads(out)}


@pytest.mark.parametrize("output", ["csv", "json"])
def test_csv_and_json_on_a_terminal_get_placeholders(tmp_path: Path, output: str) -> None:
    value = "\x1b]52;c;ZXZpbA==\x07\x9b2J\u202e"
    path = _log(tmp_path, [value, "plain"])
    terminal, err = _Terminal(), io.StringIO()
    args = ["decisions", "audit", str(path), "--flag", "flag", "--truth", "truth", "--group", "g"]
    with contextlib.redirect_stdout(terminal), contextlib.redirect_stderr(err):
        code = main([*args, "--min-cell", "1", "--format", output])
    screen = terminal.getvalue()
    assert code == 0 and RAW_CONTROL.search(screen) is None
    shown = "\\u001b]52;c;ZXZpbA==\\u0007" if output == "json" else "\u241b]52;c;ZXZpbA==\u2407"
    assert shown in screen  # the canary: shown, as JSON escapes or as placeholders
    assert len(screen.splitlines()) > 10  # still one record a line


def test_an_error_line_shows_control_as_placeholders(tmp_path: Path) -> None:
    missing = tmp_path / "log\x1b]52;c;ZXZpbA==\x07\u202e.csv"
    code, out, err = _audit(missing)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and RAW_CONTROL.search(err) is None
    assert "log\u241b]52;c;ZXZpbA==\u2407\\u202e.csv" in err  # the path is echoed, as placeholders


def test_a_hostile_flag_value_is_refused_in_one_clean_line(tmp_path: Path) -> None:
    code, out, err = _audit(_log(tmp_path, ["a", "b"], flag="1\x1b]52;c;eA==\x07"), "--format", "long")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and RAW_CONTROL.search(err) is None


def test_a_saved_file_keeps_its_name_and_the_note_shows_placeholders(tmp_path: Path) -> None:
    target = tmp_path / "out\x1b[2J.json"
    code, _out, err = _audit(_log(tmp_path, ["a", "b"]), "--format", "csv", "--save", str(target))
    assert code == 0 and target.is_file()  # the file is written under the exact name asked for
    assert "out\u241b[2J.json" in err and RAW_CONTROL.search(err) is None


def test_a_very_long_value_leaves_the_figures_on_screen(tmp_path: Path) -> None:
    value = "W" * 5000
    code, out, _err = _audit(_log(tmp_path, [value, "plain"]))
    assert code == 0
    assert "wrongly" in out and "…" in out and value not in out  # cut, with the figures kept
    assert re.search(r"\d+\.\d\d%", out)


@pytest.mark.parametrize("output", ["table", "long"])
def test_the_monitor_view_shows_values_as_placeholders(tmp_path: Path, output: str) -> None:
    value = "\x1b[2J\x1b]52;c;eA==\x07[/x]"
    path = tmp_path / "watch.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["t", "g", "flag", "truth"])
        for day in range(1, 29):  # the hostile group is never flagged when it should be: an alarm names it
            writer.writerows(
                [f"2024-02-{day:02d}", (value, "plain")[i % 2], i % 2, (i // 2) % 2] for i in range(60)
            )
    out, err = io.StringIO(), io.StringIO()
    args = ["monitor", str(path), "--time", "t", "--flag", "flag", "--truth", "truth", "--group", "g"]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*args, "--reference", "plain", "--format", output])
    assert code == 3, err.getvalue()  # 3: an alarm is open
    assert RAW_CONTROL.search(out.getvalue() + err.getvalue()) is None
    assert printable(value) in out.getvalue()


def test_disclosure_check_prints_saved_group_values_as_text(tmp_path: Path) -> None:
    """`disclosure check --all` lists withheld counts by group: a saved hostile value stays visible text."""
    hostile = "\x1b]52;c;ZXZpbA==\x07[/x]"
    log = tmp_path / "log.csv"
    rows = ["g,flag,truth"] + [f"big,{i % 2},{(i // 2) % 2}" for i in range(80)]
    rows += [f"{hostile},{i % 2},1" for i in range(3)]  # 3 people: withheld under --min-cell 10
    log.write_text("\n".join(rows) + "\n", encoding="utf-8")
    saved = tmp_path / "audit.json"
    code, _, err = _audit(log, "--min-cell", "10", "--save", str(saved))
    assert code == 0, err
    out, err_text = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err_text):
        code = main(["disclosure", "check", str(saved), "--all"])
    assert code in (0, 3), err_text.getvalue()
    assert printable(hostile) in out.getvalue()  # the canary: the value is listed, as its placeholders
    assert not RAW_CONTROL.search(out.getvalue() + err_text.getvalue())
