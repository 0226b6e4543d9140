"""The linkage LP audit's diagnostics (`metadata["disclosure_audit"].auditor_only`) are never written.

docs/linkage-audit.md promises that the sensitive counts checked and protected, the narrowest interval
and the rounds of further suppression, which follow the withheld values, stay on the in-memory result.
A reader's copies are the saved bundle (`--save`), the JSON on stdout (`--format json`), the HTML report
(`--report`, and `misflag report` of the saved bundle) and the web service's job files (result.json,
result.csv, report.html, written by its job runner): each is searched for every diagnostic key. The
inputs are those of test_linkage_summary_twins.py, where the diagnostics tell the variants apart.
"""

from __future__ import annotations

import json
from multiprocessing import Pipe
from pathlib import Path

import pytest

from misflag.api._tasks import RUNNERS, Task
from misflag.api._worker import write_outputs
from misflag.cli import main
from misflag.linkage import LinkageAuditSpec, audit_linkage
from tests.linkage.test_linkage_summary_twins import OPTIONS, VARIANTS, write_inputs

#: every key only the auditor's diagnostics hold
DIAGNOSTIC_KEYS = (
    "withheld_counts_checked",
    "withheld_counts_protected",
    "narrowest_interval",
    "rounds_of_further_suppression",
)
SPEC = {"cluster_column": "cluster", "groups": ["g"], "min_cell": 5, "thresholds": [0.5]}


def _web_job(pairs: Path, records: Path, folder: Path) -> dict[str, str]:
    """The web service's job files, as its job runner writes them for a workbench linkage audit."""
    task = Task("linkage-audit", SPEC, source=str(pairs), extra={"records": str(records)})
    result = RUNNERS["linkage-audit"](task, folder, lambda step, fraction: None)
    assert result.metadata["disclosure_audit"].auditor_only["withheld_counts_checked"] > 0
    receiving, sending = Pipe(duplex=False)
    write_outputs(sending, result, folder)
    assert receiving.recv()[0] == "progress" and receiving.recv() == ("done",)
    return {
        f"web {name}": (folder / name).read_text() for name in ("result.json", "result.csv", "report.html")
    }


def test_no_copy_a_reader_gets_holds_the_diagnostics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs, records = write_inputs(tmp_path, VARIANTS["a-b"])
    spec = LinkageAuditSpec(**{**SPEC, "groups": ("g",), "thresholds": (0.5,)})
    diagnostics = audit_linkage(pairs, records, spec=spec).metadata["disclosure_audit"].auditor_only
    assert set(diagnostics) == set(DIAGNOSTIC_KEYS) and diagnostics["withheld_counts_checked"] > 0
    saved, html, again = tmp_path / "out.json", tmp_path / "out.html", tmp_path / "again.html"
    argv = ["linkage", "audit", str(pairs), "--records", str(records), *OPTIONS]
    assert main([*argv, "--format", "json", "--save", str(saved), "--report", str(html)]) == 0
    stdout = capsys.readouterr().out
    assert main(["report", str(saved), "--out", str(again)]) == 0
    web = tmp_path / "job"
    web.mkdir()
    copies = {
        "saved bundle": saved.read_text(),
        "stdout": stdout,
        "report": html.read_text(),
        "misflag report": again.read_text(),
        **_web_job(pairs, records, web),
    }
    published = json.loads(copies["saved bundle"])["metadata"]["disclosure_audit"]
    assert published["withheld_counts"] > 0 and "guarantee" in published  # the summary itself is written
    assert "withheld_counts" in copies["web result.json"]
    for name, text in copies.items():
        for key in DIAGNOSTIC_KEYS:
            assert key not in text, (name, key)
