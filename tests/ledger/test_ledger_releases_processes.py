"""Three `misflag decisions audit --ledger` processes (not threads) of the same input started at once, on
SQLite and on PostgreSQL as the writer role: each is recorded once, the releases are numbered 1, 2, 3 in
ledger order, and each is protected against every release before it (its `earlier_releases`), so none
missed another (the check-and-append is one write transaction; writers are serialised by SQLite's
`BEGIN IMMEDIATE` or a PostgreSQL advisory lock). The ledger verifies afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.ledger._releases import released as read_released
from tests.ledger._releases import write_small_log

CONSOLE = "import sys; from misflag.cli import main; sys.exit(main(sys.argv[1:]))"
#: the third keeps c alone as a filter the register evaluates on the data: written as the value list
#: g = 'c' it is refused beside the other two since 493911e (tests/security/test_register_value_list_gap.py)
WHERE = ["g <> 'a'", "g <> 'b'", "g <> 'a' AND g <> 'b'"]


@pytest.mark.filterwarnings("ignore::misflag.ledger.LedgerOwnerWarning")
def test_three_processes_at_once_each_see_the_releases_before_them(target: Any, tmp_path: Path) -> None:
    log = write_small_log(tmp_path)
    env = {**os.environ, "MISFLAG_LEDGER_KEY": str(target.key), "PYTHONWARNINGS": "ignore"}
    argv = ["decisions", "audit", str(log), "--flag", "flag", "--truth", "truth", "--group", "g"]
    started = [
        subprocess.Popen(
            [sys.executable, "-c", CONSOLE, *argv, "--where", where, "--ledger", target.url],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for where in WHERE
    ]
    errors = [process.communicate(timeout=300)[1] for process in started]
    assert [process.returncode for process in started] == [0, 0, 0], errors
    released = [payload for _, payload in read_released(target.url)]
    names = [payload["name"] for payload in released]
    assert [name.split(":")[0] for name in names] == ["1", "2", "3"]
    assert sorted(payload["where"] for payload in released) == sorted(WHERE)
    for number, payload in enumerate(released):
        earlier = payload["metadata"]["disclosure_audit"]["secondary_suppression"]["earlier_releases"]
        assert earlier == names[:number]
    assert target.verify_exit() == 0
