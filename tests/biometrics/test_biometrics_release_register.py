"""Biometric releases in a ledger (`--ledger URL`), and beside decision releases of the same file.

Through a SQLite ledger (as `misflag ledger init` makes it) the pair of `test_biometrics_lp_attack_two_releases.py`
publishes what it publishes through a register file, row for row, and the same scipy `milp` reader pins
nothing across the two; each release is a sealed `released` entry holding only published rows (no row
a saved output withholds has a value), and the ledger verifies. A file audited both as scores and as a
decision log: the decision audit's reader leaves the biometric release out (its own model links it) and
the biometric audit the decision release, in a register file and in a ledger, each audit succeeding as
it would alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from misflag.cli import main
from misflag.ledger import Ledger
from misflag.ledger._keys import key_id, load_or_create, public_bytes
from tests.biometrics.test_biometrics_lp_attack import SMALL_PAIR, scores
from tests.biometrics.test_biometrics_lp_attack_two_releases import (
    AUDIT,
    WITH_GROUP,
    exposed,
    saved_rows,
    together,
)
from tests.ledger._releases import released_payloads, sqlite_ledger

DECISIONS = ["--flag", "score > 0.5", "--truth", "genuine", "--group", "ga", "--min-cell", "10"]


@pytest.fixture
def score_file(tmp_path: Path) -> Path:
    path = tmp_path / "scores.parquet"
    scores(SMALL_PAIR).to_parquet(path)
    return path


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return sqlite_ledger(tmp_path)


def payloads(path: Path) -> list[dict[str, Any]]:
    """The released entries' payloads, once the ledger is seen to verify under its own key."""
    store = Ledger.open(str(path), create=False)
    try:
        fingerprint = key_id(public_bytes(load_or_create(Path(f"{path}.signing-key.pem"))))
        assert store.verify(key_fingerprint=fingerprint).ok
    finally:
        store.close()
    return released_payloads(path)


def biometrics(score_file: Path, save: Path, *options: str) -> int:
    return main(["biometrics", "audit", str(score_file), *AUDIT, *options, "--save", str(save)])


def decisions(score_file: Path, save: Path, *options: str) -> int:
    return main(["decisions", "audit", str(score_file), *DECISIONS, *options, "--save", str(save)])


def test_the_pair_through_a_ledger_publishes_what_it_does_through_a_file(
    score_file: Path, tmp_path: Path, ledger_path: Path
) -> None:
    ledger = ["--ledger", str(ledger_path)]
    register = ["--release-register", str(tmp_path / "releases.json")]
    outputs = {name: tmp_path / f"{name}.json" for name in ("l1", "l2", "f1", "f2")}
    assert biometrics(score_file, outputs["l1"], *WITH_GROUP, *ledger) == 0
    assert biometrics(score_file, outputs["l2"], *ledger) == 0
    assert biometrics(score_file, outputs["f1"], *WITH_GROUP, *register) == 0
    assert biometrics(score_file, outputs["f2"], *register) == 0
    assert saved_rows(outputs["l1"]) == saved_rows(outputs["f1"])
    assert saved_rows(outputs["l2"]) == saved_rows(outputs["f2"])
    assert not exposed(SMALL_PAIR, together(saved_rows(outputs["l1"]), saved_rows(outputs["l2"])))
    entries = payloads(ledger_path)
    assert [e["name"] for e in entries] == ["1: biometrics by ga, ga × gb", "2: biometrics ga × gb"]
    assert entries[0]["earlier"] == [] and len(entries[1]["earlier"]) == 1  # the first's entry number
    for entry, saved in zip(entries, (outputs["l1"], outputs["l2"]), strict=True):
        assert all(row["value"] is None for row in entry["rows"] if row["suppressed"])
        assert entry["rows"] == json.loads(saved.read_text(encoding="utf-8"))["rows"]
        assert "withheld_counts" not in entry


def test_a_ledger_release_no_suppression_can_protect_is_refused(
    score_file: Path, tmp_path: Path, ledger_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert biometrics(score_file, tmp_path / "first.json", "--ledger", str(ledger_path)) == 0
    capsys.readouterr()
    second = tmp_path / "second.json"
    assert biometrics(score_file, second, *WITH_GROUP, "--ledger", str(ledger_path)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: this audit cannot be published without exposing") and "\n" not in err
    assert len(payloads(ledger_path)) == 1 and not second.exists()


@pytest.mark.parametrize("kind", ["register", "ledger"])
def test_decision_and_biometric_releases_of_one_file_leave_each_other_out(
    score_file: Path, tmp_path: Path, ledger_path: Path, kind: str
) -> None:
    where = (
        ["--ledger", str(ledger_path)]
        if kind == "ledger"
        else ["--release-register", str(tmp_path / "r.json")]
    )
    alone = {name: tmp_path / f"{name}-alone.json" for name in ("scores", "log")}
    assert biometrics(score_file, alone["scores"], *WITH_GROUP) == 0
    assert decisions(score_file, alone["log"]) == 0
    linked = {name: tmp_path / f"{name}.json" for name in ("scores", "log", "scores2")}
    assert biometrics(score_file, linked["scores"], *WITH_GROUP, *where) == 0
    assert decisions(score_file, linked["log"], *where) == 0
    for name in ("scores", "log"):
        assert saved_rows(linked[name]) == saved_rows(alone[name])
    assert json.loads(linked["log"].read_text(encoding="utf-8"))["metadata"]["release"].startswith("2: ")
    # the next biometric release is still protected against the first (and numbered after both)
    assert biometrics(score_file, linked["scores2"], *where) == 0
    assert json.loads(linked["scores2"].read_text(encoding="utf-8"))["metadata"]["release"] == (
        "3: biometrics ga × gb"
    )
    assert not exposed(SMALL_PAIR, together(saved_rows(linked["scores"]), saved_rows(linked["scores2"])))
