"""An earlier release's spec, run again by `decisions audit --ledger` to count its withheld values, only
reads the input: it never writes a register file nor opens a ledger that the entry's spec names.

A release entry is written with the writer's proof, so only a key holder (or a bug) could make one whose
spec names `release_register` or `ledger`; misflag's own entries have both null. The attacker here writes
such an entry with the ledger's own writer (record_release, proof and seal valid) and points it at a path
of their choosing and at a second ledger. Before the fix, the next audit's re-run created the register
file at that path (a write wherever the entry said) and recorded a release in the second ledger.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from misflag.cli import main
from misflag.ledger import Ledger
from misflag.ledger._releases import record_release, releases_of

ARGS = ["--flag", "score_text IN ('Medium', 'High')", "--truth", "two_year_recid", "--group", "race"]


def _ledger(path: Path) -> Path:
    store = Ledger.open(str(path))
    store.checkpoint()
    store.close()
    return path


def _release_count(path: Path) -> int:
    store = Ledger.open(str(path), create=False)
    try:
        with store._read() as connection:
            rows = store._vouched_rows(connection, "kind = ?", ("released",))
        return len(rows)
    finally:
        store.close()


def _forge_second_release(ledger: Path, digest: str, spec: dict[str, Any], name: str | None = None) -> int:
    """A release of the input `digest` written with the ledger's own writer (proof and seal valid): its
    first release copied, naming the earlier ones as misflag's second release does, with `spec` set in
    its recorded spec (and `name`, if given); its seq."""
    store = Ledger.open(str(ledger), create=False)
    try:
        earlier = releases_of(store, digest)
        forged: dict[str, Any] = copy.deepcopy(earlier[0][1])
        forged["earlier"] = [seq for seq, _ in earlier]
        if name is not None:
            forged["name"] = name
        forged["metadata"]["spec"].update(spec)
        assert record_release(store, forged, [seq for seq, _ in earlier]) is not None
        return releases_of(store, digest)[-1][0]
    finally:
        store.close()


@pytest.mark.parametrize("field", ["release_register", "ledger"])
def test_a_release_naming_a_register_or_a_ledger_makes_the_rerun_write_nothing_there(
    field: str,
    compas_csv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path / "data"))
    main_ledger, other_ledger = _ledger(tmp_path / "a.sqlite"), _ledger(tmp_path / "b.sqlite")
    planted_register = tmp_path / "chosen-by-the-entry" / "register.json"
    planted_register.parent.mkdir()
    first = tmp_path / "first.json"
    assert (
        main(
            [
                "decisions",
                "audit",
                str(compas_csv),
                *ARGS,
                "--ledger",
                str(main_ledger),
                "--save",
                str(first),
            ]
        )
        == 0
    )
    capsys.readouterr()
    digest = json.loads(first.read_text())["metadata"]["input"]["sha256"]

    named = {"release_register": str(planted_register), "ledger": str(other_ledger)}
    _forge_second_release(main_ledger, digest, {field: named[field]}, name="2: race (forged)")

    out = tmp_path / "out.json"
    argv = ["decisions", "audit", str(compas_csv), *ARGS, "--where", "sex = 'Male'"]
    assert main([*argv, "--ledger", str(main_ledger), "--save", str(out)]) == 0
    assert not planted_register.exists()  # the re-run wrote no register where the entry said
    assert not Path(f"{planted_register}.lock").exists()
    assert _release_count(other_ledger) == 0  # and recorded no release in the ledger it named
    assert _release_count(main_ledger) == 3  # the audit itself is recorded where it was asked to be


def test_a_release_whose_spec_cannot_run_again_is_named_in_the_one_line(
    compas_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An entry whose spec no audit accepts (`table_sets` naming an expression twice) made the next audit
    fail with that setting's message alone (`--table-set 'race,race' names an expression twice`), an
    option the user never gave; the line now says which entry could not be run again."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path / "data"))
    ledger = _ledger(tmp_path / "a.sqlite")
    first = tmp_path / "first.json"
    assert (
        main(["decisions", "audit", str(compas_csv), *ARGS, "--ledger", str(ledger), "--save", str(first)])
        == 0
    )
    digest = json.loads(first.read_text())["metadata"]["input"]["sha256"]
    seq = _forge_second_release(ledger, digest, {"table_sets": ["race,race"]})
    capsys.readouterr()
    assert (
        main(
            ["decisions", "audit", str(compas_csv), *ARGS, "--where", "sex = 'Male'", "--ledger", str(ledger)]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(
        f"error: ledger entry {seq} (release '1: race') cannot be run again on this input: "
    )
    assert err[0].endswith("'race,race' names an expression twice")
    assert _release_count(ledger) == 2  # nothing recorded
