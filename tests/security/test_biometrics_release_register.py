"""`misflag biometrics audit --release-register` against hostile registers and releases it cannot link.

Every case ends in one `error: ...` line, exit 2, nothing saved and the register file byte for byte as
it was: a register that is not one, a release edited so that its counts are not these scores', a release
whose operating points are malformed, releases audited with another `--where`, another group expression
or another threshold (one model cannot hold both: refused, never left out of the reader's model), both
register flags at once, a table instead of a file, a register path that is a folder, and release names
and group labels that would drive a terminal or name a parameter.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from misflag.cli import main
from tests.biometrics.test_biometrics_lp_attack import SMALL_PAIR, scores

AUDIT = ["--score", "score", "--genuine", "genuine", "--group-a", "ga", "--group-b", "gb"]


@pytest.fixture
def score_file(tmp_path: Path) -> Path:
    path = tmp_path / "scores.parquet"
    scores(SMALL_PAIR).to_parquet(path)
    return path


def audit(source: Path, register: Path, save: Path, *options: str) -> int:
    files = ["--release-register", str(register), "--save", str(save)]
    return main(["biometrics", "audit", str(source), *AUDIT, *options, *files])


def refused(
    capsys: pytest.CaptureFixture[str], source: Path, register: Path, save: Path, *options: str
) -> str:
    """The one error line of an audit that must be refused, the register unchanged and nothing saved."""
    before = register.read_bytes() if register.is_file() else None
    capsys.readouterr()
    assert audit(source, register, save, *options) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    assert (register.read_bytes() if register.is_file() else None) == before
    assert not save.exists()
    return err


def recorded(source: Path, register: Path, tmp_path: Path, *options: str) -> None:
    assert audit(source, register, tmp_path / "first.json", *options) == 0


def edit(register: Path, change: Any) -> None:
    data = json.loads(register.read_text(encoding="utf-8"))
    change(data["releases"][0])
    register.write_text(json.dumps(data), encoding="utf-8")


def test_a_register_that_is_not_one(
    score_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register = tmp_path / "releases.json"
    register.write_text('{"format": "something else"}', encoding="utf-8")
    err = refused(capsys, score_file, register, tmp_path / "out.json", "--threshold", "0.5")
    assert err == f"error: release register {str(register)!r} is not a misflag release register"


def test_a_release_whose_counts_are_not_these_scores(
    score_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register = tmp_path / "releases.json"
    recorded(score_file, register, tmp_path, "--threshold", "0.5")

    def overall_n_plus_one(release: dict[str, Any]) -> None:
        row = next(r for r in release["rows"] if r["attribute"] == "overall" and r["metric"] == "n")
        row["value"] += 1

    edit(register, overall_n_plus_one)
    err = refused(capsys, score_file, register, tmp_path / "out.json", "--threshold", "0.5")
    assert "publishes 'overall' = 'all', n that these scores do not give" in err


def test_a_release_with_malformed_operating_points(
    score_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register = tmp_path / "releases.json"
    recorded(score_file, register, tmp_path, "--threshold", "0.5")
    edit(register, lambda release: release["metadata"].update(operating_points=[{"stage": 1}]))
    err = refused(capsys, score_file, register, tmp_path / "out.json", "--threshold", "0.5")
    assert err.endswith("in the release register is not a misflag biometric release")


@pytest.mark.parametrize(
    ("first", "second", "words"),
    [
        (["--where", "score > 0"], [], "was audited with another --where; one model cannot hold both"),
        (["--group", "ga || 'x'"], [], "groups these scores by \"ga || 'x'\", which this audit does not"),
        (["--threshold", "0.3"], [], "a threshold this audit does not compute: give --threshold 0.3 too"),
        ([], ["--distance"], "was audited with another --distance"),
    ],
)
def test_a_release_one_model_cannot_hold_is_refused(
    score_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    first: list[str],
    second: list[str],
    words: str,
) -> None:
    register = tmp_path / "releases.json"
    recorded(score_file, register, tmp_path, "--threshold", "0.5", *first)
    err = refused(capsys, score_file, register, tmp_path / "out.json", "--threshold", "0.5", *second)
    assert "earlier release " in err and "1: biometrics" in err and words in err


def test_both_register_flags_a_table_or_a_folder_are_refused(
    score_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save = tmp_path / "out.json"
    err = refused(
        capsys, score_file, tmp_path / "releases.json", save, "--threshold", "0.5", "--protect-releases"
    )
    assert err == (
        "error: give one of --release-register, --protect-releases and --ledger: a release is recorded in one place"
    )
    database = tmp_path / "scores.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute(f"CREATE TABLE comparisons AS SELECT * FROM '{score_file}'")
    err = refused(
        capsys, database, tmp_path / "releases.json", save, "--threshold", "0.5", "--table", "comparisons"
    )
    assert "give a file, not --table" in err
    err = refused(capsys, score_file, tmp_path, save, "--threshold", "0.5")
    assert "give a file in an existing folder" in err


def test_hostile_names_and_labels_are_shown_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A group label holding an escape sequence and a `{threshold}` placeholder, and a release renamed to
    one in the register: the refusal line names them printably and as written, never as a flag."""
    hostile = "\x1b[31m{threshold}"
    frame = scores(SMALL_PAIR).replace({"ga": {"X": hostile}, "gb": {"X": hostile}})
    source = tmp_path / "scores.parquet"
    frame.to_parquet(source)
    register = tmp_path / "releases.json"
    recorded(source, register, tmp_path, "--threshold", "0.5")
    edit(register, lambda release: release.update(name="\x1b[2J{group}"))
    err = refused(capsys, source, register, tmp_path / "out.json", "--threshold", "0.5", "--group", "ga")
    assert "\x1b" not in err and "--threshold" not in err and "--group " not in err
    assert "'\\x1b[2J{group}'" in err and "{threshold}" in err
