"""The command line hashes a decision audit's input only where it publishes the digest: the bundle
(--save) and the reports carry the metadata, printed rows do not. Printing rows, the file is not read a
second time, and what is printed is the same bytes; the API and a saved bundle keep the file's SHA-256,
checked here against hashlib over the file's bytes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from misflag.cli import main
from misflag.decisions import audit_decisions


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "log.csv"
    path.write_text("flag,truth,g\n" + "1,0,a\n0,1,b\n1,1,a\n0,0,b\n" * 10)
    return path


def _argv(log: Path, *more: str) -> list[str]:
    return [
        "decisions", "audit", str(log), "--flag", "flag", "--truth", "truth", "--group", "g",
        "--replicates", "200", "--min-cell", "5", *more,
    ]  # fmt: skip


@pytest.mark.parametrize("output_format", ["json", "csv", "long", "table"])
def test_printing_rows_reads_the_file_once(
    log: Path, hashes: list[Path], output_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_argv(log, "--format", output_format)) == 0
    assert hashes == []
    printed = capsys.readouterr().out
    if output_format == "json":  # the rows the API returns for the same audit, every one of them
        api = audit_decisions(str(log), flag="flag", truth="truth", groups=["g"], replicates=200, min_cell=5)
        assert printed == api.to_json() + "\n"
        assert len(json.loads(printed)) == len(api.rows()) > 0


def test_the_saved_bundle_and_the_api_carry_the_files_sha256(
    log: Path, tmp_path: Path, hashes: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    expected = hashlib.sha256(log.read_bytes()).hexdigest()
    bundle = tmp_path / "out.json"
    assert main(_argv(log, "--format", "json", "--save", str(bundle))) == 0
    capsys.readouterr()
    assert hashes == [log]
    assert json.loads(bundle.read_text())["metadata"]["input"]["sha256"] == expected
    report = tmp_path / "out.html"
    assert main(_argv(log, "--format", "csv", "--report", str(report))) == 0
    assert expected in report.read_text()
    result = audit_decisions(str(log), flag="flag", truth="truth", groups=["g"], replicates=200, min_cell=5)
    assert result.metadata["input"]["sha256"] == expected
    assert hashes == [log, log, log]
