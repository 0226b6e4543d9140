"""The biometric release register against an attacker who can run processes or write the register or
ledger (docs/biometrics.md, "Linked releases").

- Two `misflag biometrics audit` processes (not threads) recording releases of the same scores at once in
  one register file (the ledger's check-and-append is the decision audit's, raced in
  `tests/ledger/test_ledger_releases_processes.py`): the pair of `test_biometrics_lp_attack_two_releases.py`
  (the `--group` release, which the cross table can follow, and the cross table, which the `--group`
  release cannot). Whichever records first, the other is audited against it: both pass and the milp
  reader over the two pins nothing, or the second is refused in one line with nothing written; the
  register holds exactly the releases that passed, numbered 1, 2.
- A biometric release planted in a SQLite ledger with SQL is refused (found nothing: the writer proof).
- A register file edited by hand to hide a release: not seen (measured; the docs say a register file is
  trusted as the auditor's own, a ledger is the tamper-evident place).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tests.biometrics.test_biometrics_lp_attack import SMALL_PAIR
from tests.biometrics.test_biometrics_lp_attack_two_releases import (
    AUDIT,
    WITH_GROUP,
    exposed,
    saved_rows,
    together,
)
from tests.biometrics.test_biometrics_release_register import (  # noqa: F401 (fixtures)
    biometrics,
    ledger_path,
    payloads,
    score_file,
)
from tests.security.test_release_ledger import _planted

CONSOLE = "import sys; from misflag.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.slow  # two processes' start-up: 6.6 s of wall time at load 8
def test_two_processes_at_once_are_each_audited_against_the_other(
    score_file: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    register = tmp_path / "releases.json"
    where = ["--release-register", str(register)]
    saves = [tmp_path / "group.json", tmp_path / "cross.json"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    command = ["biometrics", "audit", str(score_file), *AUDIT]
    started = [
        subprocess.Popen(
            [sys.executable, "-c", CONSOLE, *command, *options, *where, "--save", str(save)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for options, save in ((WITH_GROUP, saves[0]), ([], saves[1]))
    ]
    errors = [process.communicate(timeout=300)[1] for process in started]
    codes = [process.returncode for process in started]
    passed = [save for save, code in zip(saves, codes, strict=True) if code == 0]
    assert sorted(codes) in ([0, 0], [0, 2]), errors
    for save, code, error in zip(saves, codes, errors, strict=True):
        assert save.exists() == (code == 0)
        if code == 2:  # the --group release after the cross table: refused in one line
            assert save == saves[0]
            assert error.strip().startswith("error: this audit cannot be published without exposing")
            assert error.strip().count("\n") == 0
    names = [release["name"] for release in json.loads(register.read_text(encoding="utf-8"))["releases"]]
    assert [name.split(":")[0] for name in names] == [str(n + 1) for n in range(len(passed))]
    recorded = {json.loads(save.read_text(encoding="utf-8"))["metadata"]["release"] for save in passed}
    assert recorded == set(names)
    if len(passed) == 2:
        assert not exposed(SMALL_PAIR, together(*(saved_rows(save) for save in passed)))


def test_a_biometric_release_planted_in_the_ledger_by_sql_is_refused(
    score_file: Path,  # noqa: F811
    ledger_path: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A forged biometric release chained onto the head with SQL (no writer proof), to steer the next
    audit (here: every published figure of release 1 under a new name): the next biometric audit refuses
    to read the releases in one line and appends nothing."""
    assert biometrics(score_file, tmp_path / "first.json", *WITH_GROUP, "--ledger", str(ledger_path)) == 0
    payload = payloads(ledger_path)[0]
    seq = _planted(ledger_path, dict(payload, name="2: biometrics ga × gb", earlier=[1]))
    capsys.readouterr()
    assert biometrics(score_file, tmp_path / "second.json", "--ledger", str(ledger_path)) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(
        f"error: refusing to read the releases: entry {seq} ('released') carries no valid"
    )
    assert error.count("\n") == 0 and not (tmp_path / "second.json").exists()
    with sqlite3.connect(ledger_path) as connection:
        assert connection.execute("SELECT max(seq) FROM ledger_entries").fetchone()[0] == seq


def test_a_register_file_edited_to_hide_a_release_is_not_seen(
    score_file: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Measured, stated in docs/biometrics.md: a register file is the auditor's own; a release edited to
    name another digest is not seen, and the next output is published as if alone (the milp reader then
    pins X x X at 8, as for the pair published apart). Edited to name another audit, it is not linked
    either, but the warning of the other kind's releases names it."""
    register = tmp_path / "releases.json"
    first, second, third = (tmp_path / f"{name}.json" for name in ("first", "second", "third"))
    where = ["--release-register", str(register)]
    assert biometrics(score_file, first, *WITH_GROUP, *where) == 0
    data = json.loads(register.read_text(encoding="utf-8"))
    data["releases"][0]["metadata"]["audit"] = "decisions"
    register.write_text(json.dumps(data), encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert biometrics(score_file, second, *where) == 0
    assert any("holds 1 decision audit release(s) of this input" in str(w.message) for w in caught)
    assert exposed(SMALL_PAIR, together(saved_rows(first), saved_rows(second)))
    data = json.loads(register.read_text(encoding="utf-8"))
    data["releases"] = [dict(r, sha256="0" * 64) for r in data["releases"]]
    register.write_text(json.dumps(data), encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert biometrics(score_file, third, *where) == 0
    assert not [w for w in caught if "release register" in str(w.message)]  # nothing tells
    assert saved_rows(third) == saved_rows(second)
