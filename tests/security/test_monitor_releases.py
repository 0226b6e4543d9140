"""`misflag monitor --release-register` / `--protect-releases` (and `monitor(release_register=...)`) against
hostile paths, registers and release names.

Through the CLI each case is one `error: ...` line, exit 2, no traceback, nothing saved and the register
byte for byte as it was; through the API one typed `MisflagError` line: a folder as the register, a
register in a missing folder, a register name past the system's limits, a register that is not JSON or not a register, bytes that are not text, a
register path that is blank or not text, a "yes" for `protect_releases` (read as true by Python, it
would record a release no one asked for), both flags at once, a source that is no file (a data frame, a
`--ledger`, a `--table`), and a release renamed in the register to drive a terminal or name a parameter.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from misflag.cli import main
from misflag.errors import MisflagError
from misflag.monitor import monitor
from tests.monitor._logs import ROLES
from tests.monitor.test_monitor_lp_attack_periods import _log

WATCH = ["--time", "ts", "--group", "grp", "--reference", "A", "--truth", "truth"]
WATCH += ["--stage", "algorithm=flag", "--stage", "review=review", "--baseline-periods", "2"]


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "log.csv"
    _log().to_csv(path, index=False)
    return path


def run(source: Path, save: Path, *options: str) -> int:
    return main(["monitor", str(source), *WATCH, "--format", "json", "--save", str(save), *options])


def refused(capsys: pytest.CaptureFixture[str], source: Path, register: Path | None, *options: str) -> str:
    """The one error line of a run that must be refused, the register unchanged and nothing saved."""
    before = register.read_bytes() if register is not None and register.is_file() else None
    save = source.with_name("out.json")
    capsys.readouterr()
    assert run(source, save, *options) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err and not captured.out
    if register is not None:
        assert (register.read_bytes() if register.is_file() else None) == before
    assert not save.exists()
    return err


def test_registers_that_are_not_one(
    log_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = {
        "not-json.json": (b"{not json", "is not a misflag release register"),
        "other.json": (b'{"format": "something else"}', "is not a misflag release register"),
        "binary.json": (b"\xff\xfe\x00garbage", "is not a misflag release register"),
        "no-releases.json": (b'{"format": "misflag-release-register/1", "releases": [1]}', "a release lacks"),
    }
    for name, (content, words) in cases.items():
        register = tmp_path / name
        register.write_bytes(content)
        err = refused(capsys, log_file, register, "--release-register", str(register))
        assert words in err and name in err


def test_paths_that_name_no_register_file(
    log_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    err = refused(capsys, log_file, None, "--release-register", str(tmp_path))
    assert "give a file in an existing folder" in err
    missing = tmp_path / "no" / "such" / "releases.json"
    err = refused(capsys, log_file, None, "--release-register", str(missing))
    assert "give a file in an existing folder" in err and not missing.parent.exists()
    for long in ("a" * 5000 + ".json", "a/" * 3000 + "r.json"):  # past the system's limits on a name
        err = refused(capsys, log_file, None, "--release-register", long)
        assert err.endswith("characters): File name too long") and len(err) < 200
    register = tmp_path / "releases.json"
    err = refused(capsys, log_file, register, "--release-register", str(register), "--protect-releases")
    assert (
        err
        == "error: give --release-register or --protect-releases, not both: a release is recorded in one place"
    )
    assert not register.exists()


def test_sources_that_are_no_file_are_refused(
    log_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register = tmp_path / "releases.json"
    database = tmp_path / "log.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute(f"CREATE TABLE decisions AS SELECT * FROM read_csv_auto('{log_file}')")
    err = refused(capsys, database, register, "--table", "decisions", "--release-register", str(register))
    assert "give a file, not --ledger or --table" in err and not register.exists()
    with pytest.raises(MisflagError, match="give a file \\(CSV or Parquet\\)") as caught:
        monitor(_log(), **ROLES, release_register=register)
    assert "\n" not in str(caught.value) and not register.exists()


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"release_register": 5}, "must be a file path, got 5"),
        ({"release_register": " "}, "must be a file path, got an empty one"),
        ({"release_register": ["a", "b"]}, "must be a file path"),
        ({"protect_releases": "yes"}, "must be true or false, got 'yes'"),
        ({"protect_releases": 1}, "must be true or false, got 1"),
    ],
)
def test_hostile_values_through_the_api_are_one_typed_line(
    log_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any], words: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MisflagError) as caught:
        monitor(str(log_file), **ROLES, **fields)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.csv"]  # nothing recorded anywhere


def test_protect_releases_keeps_private_registers_of_the_digest_and_the_path(
    log_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two registers, named by the log's sha256 and by `path-` and the sha256 of its resolved path (both
    computed here with hashlib), in a 0700 folder; neither path is published, and the refusal leaves both
    as they were."""
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path / "data"))
    assert run(log_file, tmp_path / "first.json", "--protect-releases") == 0
    folder = tmp_path / "data" / "releases"
    where = hashlib.sha256(str(log_file.resolve()).encode()).hexdigest()
    names = {hashlib.sha256(log_file.read_bytes()).hexdigest() + ".json", f"path-{where}.json"}
    assert {p.name for p in folder.glob("*.json")} == names and (folder.stat().st_mode & 0o777) == 0o700
    saved = (tmp_path / "first.json").read_text(encoding="utf-8")
    spec = json.loads(saved)["metadata"]["spec"]
    assert spec["release_register"] is None and spec["protect_releases"]
    assert not any(name in saved for name in names) and str(folder) not in saved
    before = {name: (folder / name).read_bytes() for name in names}
    err = refused(capsys, log_file, None, "--protect-releases", "--period", "week")
    assert "--period 'day' (now 'week')" in err
    assert {name: (folder / name).read_bytes() for name in names} == before


def test_a_hostile_release_name_is_shown_as_written(
    log_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A release renamed in the register to an escape sequence and a `{where}` placeholder, and a `--where`
    holding one: the refusal line shows them printably and as written, never as a flag."""
    register = tmp_path / "releases.json"
    assert run(log_file, tmp_path / "first.json", "--release-register", str(register)) == 0
    data = json.loads(register.read_text(encoding="utf-8"))
    data["releases"][0]["name"] = "\x1b[2J{where}"
    register.write_text(json.dumps(data), encoding="utf-8")
    where = "grp <> '{period}'"  # a control character in it is refused first, by the expression check
    err = refused(capsys, log_file, register, "--release-register", str(register), "--where", where)
    assert "\x1b" not in err and "--period" not in err and "--where" in err
    assert "'\\x1b[2J{where}'" in err and "{period}" in err
