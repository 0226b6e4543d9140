"""The internal errors of issue 11, each now one line and exit 2 from the CLI, nothing half-written."""

from __future__ import annotations

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
