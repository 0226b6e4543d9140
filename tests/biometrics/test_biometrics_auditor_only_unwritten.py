"""The biometric LP audit's diagnostics (`metadata["disclosure_audit"].auditor_only`: the counts checked
and protected, the narrowest range, the rounds of further suppression, which follow the withheld values)
are in no copy a reader gets: the saved bundle (`--save`), the JSON on stdout (`--format json`), the HTML
report of the saved bundle, and a web job's result.json, result.csv and report.html (written in the job's
process by `api._worker.write_outputs`). The table is MARGINS_WIDE of test_biometrics_lp_attack.py,
where the LP audit ran further rounds."""

from __future__ import annotations

import json
from multiprocessing import Pipe
from pathlib import Path

import pytest

from misflag.api._worker import write_outputs
from misflag.cli import main
from tests.biometrics.test_biometrics_lp_attack import MARGINS_WIDE, MIN_CELL, audit_result, scores

DIAGNOSTIC_KEYS = (
    "withheld_counts_checked",
    "withheld_counts_protected",
    "narrowest_interval",
    "rounds_of_further_suppression",
)


def test_no_copy_a_reader_gets_holds_the_diagnostics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = audit_result(MARGINS_WIDE, MIN_CELL, with_group=True)
    diagnostics = result.metadata["disclosure_audit"].auditor_only
    assert set(diagnostics) == set(DIAGNOSTIC_KEYS) and diagnostics["rounds_of_further_suppression"] > 0
    source = tmp_path / "scores.csv"
    scores(MARGINS_WIDE).to_csv(source, index=False)
    options = ["--score", "score", "--genuine", "genuine", "--group", "ga", "--group-a", "ga"]
    options += ["--group-b", "gb", "--threshold", "0.5", "--min-cell", str(MIN_CELL)]
    saved = tmp_path / "saved.json"
    assert main(["biometrics", "audit", str(source), *options, "--save", str(saved)]) == 0
    capsys.readouterr()
    assert main(["biometrics", "audit", str(source), *options, "--format", "json"]) == 0
    stdout = capsys.readouterr().out
    assert main(["report", str(saved), "--out", str(tmp_path / "report.html")]) == 0
    job = tmp_path / "job"
    job.mkdir()
    _, sender = Pipe(duplex=False)
    write_outputs(sender, result, job)
    copies = {
        "saved": saved.read_text(encoding="utf-8"),
        "stdout": stdout,
        "report": (tmp_path / "report.html").read_text(encoding="utf-8"),
        **{f"job {p.name}": p.read_text(encoding="utf-8") for p in sorted(job.iterdir())},
    }
    assert set(copies) == {
        "saved",
        "stdout",
        "report",
        "job result.json",
        "job result.csv",
        "job report.html",
    }
    assert (
        json.loads(copies["saved"])["metadata"]["disclosure_audit"]["withheld_counts"] > 0
    )  # the summary is there
    assert json.loads(copies["job result.json"])["metadata"]["disclosure_audit"] == dict(
        result.metadata["disclosure_audit"]
    )
    for name, text in copies.items():
        assert not [key for key in DIAGNOSTIC_KEYS if key in text], name
