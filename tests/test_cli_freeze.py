"""The console script moves the imported modules' objects out of the cyclic collector (gc.freeze);
an in-process caller of `main` keeps the collector as it was, and both print the same bytes."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest

from misflag.cli import main

#: The console script as the `misflag` entry point runs it, reporting at exit the frozen objects and the
#: modules the collector would still scan.
CONSOLE = (
    "import atexit, gc, sys, types; "
    "atexit.register(lambda: sys.stderr.write(f'SCANNED:{{sum(isinstance(o, types.ModuleType) for o in gc.get_objects())}}')); "
    "atexit.register(lambda: sys.stderr.write(f'FROZEN:{{gc.get_freeze_count()}}')); "
    "sys.argv = ['misflag', *{argv!r}]; "
    "from misflag.cli import run; run()"
)


def _argv(tmp_path: Path) -> list[str]:
    log = tmp_path / "log.csv"
    log.write_text("flag,truth,g\n" + "1,0,a\n0,1,b\n1,1,a\n0,0,b\n" * 10)
    return [
        "decisions", "audit", str(log), "--flag", "flag", "--truth", "truth", "--group", "g",
        "--replicates", "200", "--min-cell", "5", "--format", "json",
    ]  # fmt: skip


def test_console_script_freezes_imports_and_prints_what_main_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = _argv(tmp_path)
    frozen_before = gc.get_freeze_count()
    assert main(argv) == 0
    in_process = capsys.readouterr().out
    assert gc.get_freeze_count() == frozen_before  # a test, a fuzzer or the web API: nothing frozen
    done = subprocess.run(
        [sys.executable, "-c", CONSOLE.format(argv=argv)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == in_process
    frozen = int(done.stderr.rsplit("FROZEN:", 1)[1].split("SCANNED:")[0])
    # numpy and pyarrow are imported beside the scan, after the command's module: frozen too, at the end
    assert int(done.stderr.rsplit("SCANNED:", 1)[1]) == 0
    # at least every module object is frozen (the collector tracks modules), so more than were imported
    probe = "import sys, misflag.commands.decisions; print(len(sys.modules))"
    imported = int(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout)
    assert frozen > imported


def test_console_script_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    """Freezing changes nothing of the refusals: one line, exit 2."""
    argv = [*_argv(tmp_path)[:3], "--flag", "nope", "--truth", "truth"]
    done = subprocess.run(
        [sys.executable, "-c", CONSOLE.format(argv=argv)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    message = done.stderr.rsplit("FROZEN:", 1)[0]
    assert message.startswith("error: ") and message.count("\n") == 1, message


#: The console script, counting the cyclic collector's runs from its start until the command's modules
#: are imported and frozen, and saying whether the collector is on once they are.
COLLECTIONS = (
    "import gc, sys; import misflag.cli as cli; runs = []; "
    "gc.callbacks.append(lambda phase, info: runs.append(phase) if phase == 'start' else None); "
    "freeze = cli._freeze_imports; "
    "cli._freeze_imports = lambda: (sys.stderr.write(f'RUNS:{{len(runs)}} '), freeze(), "
    "sys.stderr.write(f'ON:{{gc.isenabled()}}\\n')); "
    "sys.argv = ['misflag', *{argv!r}]; runs.clear(); cli.run()"
)


def test_no_collection_scans_the_commands_imports_and_the_collector_is_on_for_the_command(
    tmp_path: Path,
) -> None:
    """The collector is off while the command's modules (DuckDB, typer, misflag's) import and back on,
    with them frozen, before the command runs: a long command (serve, a monitor watch) still collects."""
    done = subprocess.run(
        [sys.executable, "-c", COLLECTIONS.format(argv=_argv(tmp_path))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1] == "RUNS:0 ON:True"
    assert gc.isenabled()  # this process (an in-process caller) is left as it was
