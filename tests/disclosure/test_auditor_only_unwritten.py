"""The LP audit's diagnostics (`metadata["disclosure_audit"].auditor_only`) are never written with the output.

docs/disclosure.md promises that the counts checked, the narrowest interval and the optimiser's rounds,
which follow the withheld values, stay on the in-memory result. A reader's copies are the saved bundle,
the JSON on stdout, the HTML report and the ledger's `released` entry: each is searched for every
diagnostic key. The log is the one of
tests/disclosure/test_lp_attack_audit_summary.py where the diagnostics tell its inputs apart.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from misflag.cli import main
from misflag.decisions import audit_decisions
from misflag.ledger import Ledger

#: every key only the auditor's diagnostics hold
DIAGNOSTIC_KEYS = (
    "withheld_counts_checked",
    "withheld_counts_protected",
    "withheld_counts_that_may_be_zero",
    "withheld_counts_solved_by_their_own_lp",
    "narrowest_interval",
    "cheapest_for_its_cuts",
    '"rounds"',
    '"cuts"',
)


def _log(path: Path) -> Path:
    """a, b of 40 people and c of 5; truth alternates; a has 5 false positives, b 3, c 1."""
    lines = []
    for group, size, wrong in (("a", 40, 5), ("b", 40, 3), ("c", 5, 1)):
        lines += [f"{group},{i % 2},{1 if i % 2 else int(i // 2 < wrong)}" for i in range(size)]
    path.write_text("g,truth,flag\n" + "\n".join(lines) + "\n")
    return path


def _released(path: Path) -> str:
    store = Ledger.open(str(path), create=False)
    try:
        with store._read() as connection:
            bodies = connection.exec_driver_sql(
                "SELECT body FROM ledger_entries WHERE kind = 'released'"
            ).fetchall()
    finally:
        store.close()
    assert len(bodies) == 1
    return str(bodies[0][0])


def test_no_copy_a_reader_gets_holds_the_diagnostics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _log(tmp_path / "log.csv")
    diagnostics = (
        audit_decisions(str(log), flag="flag", truth="truth", groups=["g"])
        .metadata["disclosure_audit"]
        .auditor_only
    )
    assert diagnostics["withheld_counts_checked"] > 0 and diagnostics["secondary_suppression"]["rounds"] > 0
    saved, html, ledger = tmp_path / "out.json", tmp_path / "out.html", tmp_path / "ledger.sqlite"
    store = Ledger.open(str(ledger))  # a fresh ledger, as `misflag ledger init` makes it
    store.checkpoint()
    store.close()
    args = ["decisions", "audit", str(log), "--flag", "flag", "--truth", "truth", "--group", "g"]
    assert main([*args, "--format", "json", "--save", str(saved), "--report", str(html)]) == 0
    stdout = capsys.readouterr().out
    assert main([*args, "--ledger", str(ledger)]) == 0
    copies = {
        "saved bundle": saved.read_text(),
        "stdout": stdout,
        "report": html.read_text(),
        "ledger entry": _released(ledger),
    }
    published = json.loads(copies["saved bundle"])["metadata"]["disclosure_audit"]
    assert published["withheld_counts"] > 0  # the summary itself is written
    assert '"guarantee"' in copies["ledger entry"]  # and carried by the release, without the rest
    for name, text in copies.items():
        for key in DIAGNOSTIC_KEYS:
            assert key not in text, (name, key)
