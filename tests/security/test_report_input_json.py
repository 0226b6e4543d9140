"""`misflag report RESULT` reads a JSON file a user gives: JSON nested past Python's recursion, a whole
number past Python's int digit limit (4,300) and non-UTF-8 text are each one `error:` line naming the file,
exit 2, nothing written (the number was an internal error: a ValueError outside JSONDecodeError); a path
with an escape code is named by repr, cut at 120 characters."""

from __future__ import annotations

from pathlib import Path

import pytest

from misflag.cli import main


@pytest.mark.parametrize(
    "content",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"rows": [], "metadata": {"rows_audited": 1' + b"0" * 5_000 + b"}}",
        b'{"rows": "\xff\xfe"}',
        b"{not json",
    ],
    ids=["deep", "long-number", "not-utf8", "not-json"],
)
def test_a_hostile_result_file_is_one_line(
    content: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "result.json"
    source.write_bytes(content)
    out = tmp_path / "r.html"
    assert main(["report", str(source), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: result file {str(source)!r} is not valid JSON") and "\n" not in err, err
    assert "Traceback" not in err and not out.exists()


def test_a_missing_result_path_is_named_without_its_escapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / ("\x1b[2J" + "p" * 200) / "result.json"
    assert main(["report", str(source), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\x1b" not in err and "\n" not in err and len(err) < 300, err
    assert err.startswith(
        f"error: result file {str(source)[:120] + '...'!r} ({len(str(source)):,} characters)"
    )
