"""Two `misflag biometrics audit` processes (not threads) recording releases of the same scores at once, in
one register file (docs/biometrics.md, "Linked releases"; the ledger's check-and-append is the decision
audit's, raced in `tests/ledger/test_ledger_releases_processes.py`): the pair of
`test_biometrics_lp_attack_two_releases.py` (the `--group` release, which the cross table can follow, and
the cross table, which the `--group` release cannot). Whichever records first, the other is audited
against it: both pass and the milp reader over the two pins nothing, or the second is refused in one line
with nothing written; the register holds exactly the releases that passed, numbered 1, 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
from tests.biometrics.test_biometrics_release_register import score_file  # noqa: F401 (a fixture)

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
