"""The internal errors of issue 11, each now one line and exit 2 from the CLI, nothing half-written."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from misflag.cli import main
from misflag.errors import InputError
from misflag.io import write_atomic


@pytest.fixture()
def log(tmp_path: Path) -> Path:
    rows = "\n".join(f"{i},{'ab'[i % 2]},{int(i % 3 == 0)},{int(i % 4 == 0)},{i % 10}" for i in range(60))
    path = tmp_path / "log.csv"
    path.write_text("id,grp,flag,truth,score\n" + rows + "\n", encoding="utf-8")
    return path


CASES = {
    "division by zero in a group": (["--group", "flag // 0"], "integer division"),
    "500 nested parentheses": (["--group", "(" * 500 + "grp" + ")" * 500], "nesting deeper than"),
    "negative seed": (["--seed", "-1"], "--seed"),
    "save into a missing folder": (["--save", "{tmp}/missing/out.json"], "does not exist"),
    "save onto a folder": (["--save", "{tmp}"], "is a folder"),
    "report onto a folder": (["--report", "{tmp}"], "is a folder"),
    "infinite weight": (["--weight", "1/0"], "--weight must be a positive number"),
    "huge repeat": (["--group", "repeat('a', 100000000)"], "the function repeat()"),
    "long stage echo": (["--stage", "=" + "NOT " * 600 + "flag"], "--stage must be NAME=EXPR"),
    "deeply nested settings": (["--settings", "{tmp}/deep.json"], "nested too deeply"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_line_exit_2_and_nothing_left(
    case: str, log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    options, expected = CASES[case]
    options = [option.replace("{tmp}", str(tmp_path)) for option in options]
    before = set(tmp_path.parent.iterdir())
    args = ["decisions", "audit", str(log), "--flag", "flag", "--truth", "truth", "--replicates", "100"]
    if options[0] == "--stage":
        args.remove("--flag")
        args.remove("flag")
    code = main([*args, *options])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured.err[-500:]
    assert len(lines) == 1 and expected in lines[0] and len(lines[0]) <= 1000, lines
    assert "Warning" not in captured.err
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]
    assert set(tmp_path.parent.iterdir()) == before  # nothing written next to the folder either


def test_write_atomic_leaves_no_partial_file_on_failure(tmp_path: Path) -> None:
    def fail(path: Path) -> None:
        path.write_text("half", encoding="utf-8")
        raise PermissionError(13, "Permission denied")

    with pytest.raises(InputError, match="Permission denied"):
        write_atomic(tmp_path / "out.txt", fail, "result")
    assert list(tmp_path.iterdir()) == []
    write_atomic(tmp_path / "out.txt", lambda path: path.write_text("whole", encoding="utf-8"))
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == "whole"


RULE_CASES = {
    "method is a list": ({"field": "first_name", "method": [1, 2]}, "unknown method [1, 2] for first_name"),
    "method is an object": ({"field": "last_name", "method": {"a": 1}}, "unknown method {'a': 1}"),
    "field is a list": ({"field": ["first_name"], "method": "exact"}, "unknown field ['first_name']"),
    "field names a flag": ({"field": "{population}", "method": "exact"}, "unknown field '{population}'"),
}


@pytest.mark.parametrize("case", sorted(RULE_CASES))
def test_a_risk_rule_of_the_wrong_type_is_one_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    comparison, expected = RULE_CASES[case]
    rule = tmp_path / "rule.json"
    rule.write_text(json.dumps({"compare": [comparison]}), encoding="utf-8")
    code = main(["linkage", "risk", "--rule", str(rule), "--population", "1000000", "--list", "1000"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], lines  # the value as written, not `--population`
    assert "unhashable" not in captured.err and "internal error" not in captured.err


@pytest.mark.parametrize("statement", ["RESET x", "l.first = r.first; RESET x", "SET threads = 1"])
def test_splink_settings_with_a_statement_print_no_parser_warnings(
    statement: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = {
        "link_type": "dedupe_only",
        "unique_id_column_name": "id",
        "blocking_rules_to_generate_predictions": [statement],
        "comparisons": [
            {
                "output_column_name": "first",
                "comparison_levels": [
                    {"sql_condition": "first_l IS NULL OR first_r IS NULL", "is_null_level": True},
                    {"sql_condition": "first_l = first_r"},
                    {"sql_condition": "ELSE"},
                ],
            }
        ],
    }
    (tmp_path / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    (tmp_path / "people.csv").write_text("id,first\n1,a\n2,a\n3,b\n", encoding="utf-8")
    out = tmp_path / "pairs.parquet"
    code = main(
        ["linkage", "run", str(tmp_path / "settings.json"), str(tmp_path / "people.csv"), "--out", str(out)]
    )
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "unsupported syntax" not in captured.err and not out.exists()


def test_a_csv_that_cannot_be_sniffed_is_not_called_bad_utf8(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # valid UTF-8 (every byte ASCII) whose dialect DuckDB's sniffer cannot work out
    rng = random.Random(3)
    text = "".join(rng.choice("a,;|\t\"'\n\\x") for _ in range(3000))
    assert text.isascii()
    path = tmp_path / "noise.csv"
    path.write_text(text, encoding="utf-8")
    code = main(["decisions", "audit", str(path), "--flag", "a", "--truth", "b"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "UTF-8" not in err and "cannot be worked out" in err
    latin1 = tmp_path / "latin1.csv"  # the encoding message stays where it is true
    latin1.write_bytes(b"flag,truth,grp\n1,0,S\x81o\n")
    code = main(["decisions", "audit", str(latin1), "--flag", "flag", "--truth", "truth"])
    assert code == 2 and "is neither UTF-8 nor Windows-1252 text" in capsys.readouterr().err
    binary = tmp_path / "binary.csv"  # bytes that are no text at all: said so
    binary.write_bytes(bytes(range(256)) * 4)
    code = main(["decisions", "audit", str(binary), "--flag", "flag", "--truth", "truth"])
    assert code == 2 and "is neither UTF-8 nor Windows-1252 text (byte 0x81" in capsys.readouterr().err
