"""`disclosure check --input` judges a bundle's counts by the larger of the auditor's --min-cell and the
min_cell the bundle was made at (review finding: the bundle's min_cell widened the counts counted again,
but the exposure test still used the auditor's, so they were never listed). Group b (40 people) is withheld
by an output made at min_cell 60; a second output (min_cell 1) publishes b's n: a check at --min-cell 10
must list b's n as exposed, 40 to 40 people. The control reads every bundle as made at 1."""

from __future__ import annotations

from pathlib import Path

import pytest

import misflag.disclosure._check as check_module
from misflag.decisions import audit_decisions
from misflag.disclosure import check_outputs


def _outputs(tmp_path: Path) -> tuple[Path, list[Path]]:
    log = tmp_path / "log.csv"
    sizes = {"a": 40, "b": 40, "c": 100}
    log.write_text(
        "g,flag,truth\n"
        + "".join(f"{g},{i % 2},{i % 3 == 0:d}\n" for g, n in sizes.items() for i in range(n)),
        encoding="utf-8",
    )
    options = {"flag": "flag", "truth": "truth", "groups": ["g"], "replicates": 100}
    wide = audit_decisions(log, **options, min_cell=60).save(tmp_path / "wide.json")
    narrow = audit_decisions(log, **options, where="g = 'b'", min_cell=1).save(tmp_path / "b.json")
    return log, [wide, narrow]


def _pinned(tmp_path: Path) -> list[tuple[float, float]]:
    log, outputs = _outputs(tmp_path)
    check = check_outputs(outputs, min_cell=10, data=log)
    return [(i.low, i.high) for i in check.audit.exposed]


def test_a_bundle_made_at_a_higher_min_cell_keeps_its_counts_sensitive(tmp_path: Path) -> None:
    assert (40.0, 40.0) in [(round(low, 6), round(high, 6)) for low, high in _pinned(tmp_path)]


def test_the_control_judged_by_the_auditors_min_cell_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check_module, "release_min_cell", lambda metadata: 1)
    assert (40.0, 40.0) not in [(round(low, 6), round(high, 6)) for low, high in _pinned(tmp_path)]
