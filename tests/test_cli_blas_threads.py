"""The console script loads numpy with one OpenBLAS thread for the scan commands (decisions, biometrics,
monitor), unless the user set OPENBLAS_NUM_THREADS; an in-process caller of `main` changes nothing.

OpenBLAS's own thread count is read back with threadpoolctl (what scikit-learn uses to inspect it), not
from misflag's code: the pool numpy really started, at the end of a real audit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from misflag.cli import main

#: The console script's `misflag.cli.run` (the installed `misflag` enters through `misflag._console.run`,
#: and both prepare a scan command alike); at exit it prints OpenBLAS's thread counts as threadpoolctl
#: finds them, and the variable as the process holds it.
CONSOLE = (
    "import atexit, json, os, sys; "
    "from threadpoolctl import threadpool_info; "
    "atexit.register(lambda: sys.stderr.write('POOL:' + json.dumps(["
    "[p['num_threads'] for p in threadpool_info() if p['internal_api'] == 'openblas'], "
    "os.environ.get('OPENBLAS_NUM_THREADS')]))); "
    "sys.argv = ['misflag', *{argv!r}]; "
    "from misflag.cli import run; run()"
)


def _log(tmp_path: Path) -> Path:
    log = tmp_path / "log.csv"
    log.write_text("flag,truth,g\n" + "1,0,a\n0,1,b\n1,1,a\n0,0,b\n" * 10)
    return log


def _pool(argv: list[str], blas: str | None) -> tuple[list[int], str | None]:
    """OpenBLAS's thread counts and the variable at the console script's exit, with `blas` as the
    user's own OPENBLAS_NUM_THREADS (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if blas is not None:
        env["OPENBLAS_NUM_THREADS"] = blas
    done = subprocess.run(
        [sys.executable, "-c", CONSOLE.format(argv=argv)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    threads, variable = json.loads(done.stderr.rsplit("POOL:", 1)[1])
    return threads, variable


def _audit(tmp_path: Path) -> list[str]:
    return [
        "decisions", "audit", str(_log(tmp_path)), "--flag", "flag", "--truth", "truth", "--group", "g",
        "--replicates", "200", "--min-cell", "5", "--format", "json",
    ]  # fmt: skip


def test_a_decision_audit_loads_numpy_with_one_openblas_thread(tmp_path: Path) -> None:
    threads, variable = _pool(_audit(tmp_path), None)
    assert threads == [1]  # numpy's OpenBLAS, as loaded: one thread, not one per core
    assert variable == "1"


def test_the_users_own_setting_is_kept(tmp_path: Path) -> None:
    threads, variable = _pool(_audit(tmp_path), "2")
    assert threads == [2]
    assert variable == "2"


def test_other_commands_and_in_process_callers_are_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, variable = _pool(["datasets", "list"], None)  # not a scan command: numpy keeps its default
    assert variable is None
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    assert main(_audit(tmp_path)) == 0  # a test, a fuzzer, the web API: the environment is theirs
    assert "OPENBLAS_NUM_THREADS" not in os.environ
    assert json.loads(capsys.readouterr().out)  # the audit ran
