"""Hostile input to what issue 22 added: the CSV dialect sniffer, "did you mean" lists, parser carets and
group lists. Each answer is one bounded line (or, for a caret, two more), quickly, never a traceback."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from misflag.cli import main
from misflag.errors import ExpressionError, InputError
from misflag.io import check_expression, sniff_csv
from misflag.io._suggest import ParseProblem

HOSTILE_SAMPLES = {
    "quote_delimiter_bomb": ('";"' * 30_000).encode(),  # csv.Sniffer's regex takes a minute on this
    "quotes_only": b'"' * 70_000,
    "random_punctuation": "".join(random.Random(5).choice("a,;|\t\"'\n\\") for _ in range(70_000)).encode(),
    "nul_bytes": b"\x00" * 70_000,
    "one_huge_line": b"a," * 600_000,
    "cut_utf8": ("é" * 40_000).encode(),
    "bom_then_text": b"\xef\xbb\xbfa;b\n1;2\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_SAMPLES))
def test_sniffer_answers_or_refuses_cleanly_without_csv_sniffer(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """csv.Sniffer's regular expression backtracks for a minute on the quote-delimiter bomb (measured
    59.8 s on 64 KiB); the sniffer must never call it, whatever the sample."""

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("csv.Sniffer was used")

    monkeypatch.setattr(csv.Sniffer, "sniff", refuse)
    monkeypatch.setattr(csv.Sniffer, "has_header", refuse)
    path = tmp_path / f"{name}.csv"
    path.write_bytes(HOSTILE_SAMPLES[name])
    try:
        dialect = sniff_csv(path)
    except InputError as error:
        assert "\n" not in str(error)
    else:
        assert dialect.delimiter in ",;\t|"


def test_binary_file_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes(bytes(range(256)) * 500)
    with pytest.raises(InputError, match="is neither UTF-8 nor Windows-1252 text"):
        sniff_csv(path)


def test_suggested_names_are_literal_never_placeholders_or_escapes() -> None:
    columns = ["{flag}", "\x1b[31mred", "ok"]
    with pytest.raises(ExpressionError) as caught:
        check_expression('"{flg}" = 1', columns, "{flag}")
    rendered = caught.value.render(lambda name: f"--{name}")
    assert rendered.startswith("--flag expression") and "did you mean '{flag}'" in rendered


def test_listing_thousands_of_long_column_names_stays_short() -> None:
    columns = [f"column_{i:05d}_" + "x" * 200 for i in range(5_000)]
    with pytest.raises(ExpressionError) as caught:
        check_expression("nothing_like_it = 1", columns, "--flag")
    message = str(caught.value)
    assert len(message) < 1_000 and "more (every one: set MISFLAG_ALL_COLUMNS=1)" in message


def test_escape_sequences_in_column_names_never_reach_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "log.csv"
    path.write_text('"\x1b[2J\x1b[31mflagged",truth,"grp\x07"\n' + "1,0,a\n0,1,b\n" * 20)
    assert main(["decisions", "audit", str(path), "--flag", "flaged = 1", "--truth", "truth"]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err and len(err.strip().splitlines()) == 1


def test_reference_list_of_hostile_group_labels_is_bounded_and_printable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "log.csv"
    labels = [f"\x1b[31mg{i}" + "y" * 100 for i in range(300)]
    path.write_text("flag,truth,grp\n" + "".join(f"1,0,{g}\n0,1,{g}\n" for g in labels))
    args = ["decisions", "audit", str(path), "--flag", "flag", "--truth", "truth", "--group", "grp"]
    code = main([*args, "--reference", "{flag}"])
    err = capsys.readouterr().err
    assert code == 2 and "\x1b" not in err and len(err.strip().splitlines()) == 1
    assert "--reference '{flag}' names no group" in err and len(err) < 1_100


@pytest.mark.parametrize(
    "text",
    ["a = = 1\n; DROP TABLE x", "(" * 60 + "a", "a = 'x\nb = 1", "\t\ta = = 1", "é" * 3000 + " = = 1"],
)
def test_caret_lines_show_one_line_of_the_expression(text: str) -> None:
    try:
        check_expression(text, ["a", "b"], "--flag")
    except ParseProblem as problem:
        line, caret = problem.caret_lines()
        assert "\n" not in line and "\t" not in line and caret.strip() == "^"
        assert len(caret) <= len(line) + 1
    except ExpressionError as error:  # refused before parsing (a `;`, nesting): still one line
        assert "\n" not in str(error)
