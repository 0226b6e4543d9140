"""The console script starts DuckDB's database ahead (`_console.prepare`) only for a command that reads
data with it: `decisions audit`, `biometrics audit`, `monitor`; not for their `--help`, nor for
`biometrics plan`, which reads no data (the last session measured 10-20 ms of CPU spent for nothing).
Checked by running the console script with `engine.duckdb.connect_ahead` recording its calls."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from misflag._console import reads_data

#: The console script, printing on stderr whether a database was started ahead and whether DuckDB loaded.
CONSOLE = (
    "import atexit, sys; import misflag.engine.duckdb as m; started = []; made = m.connect_ahead; "
    "m.connect_ahead = lambda: (started.append(1), made())[1]; "
    "atexit.register(lambda: print('AHEAD', bool(started), file=sys.stderr)); "
    "sys.argv = ['misflag', *{argv!r}]; "
    "from misflag.cli import run; run()"
)


def _ahead(argv: list[str]) -> bool:
    done = subprocess.run(
        [sys.executable, "-c", CONSOLE.format(argv=argv)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("AHEAD")]
    return line == "AHEAD True"


@pytest.mark.parametrize(
    ("argv", "reads"),
    [
        (("decisions", "audit", "log.csv", "--flag", "f", "--truth", "t"), True),
        (("biometrics", "audit", "scores.parquet", "--score", "s", "--genuine", "g"), True),
        (("monitor", "log.parquet", "--time", "t", "--truth", "t"), True),
        (("decisions", "audit", "log.csv", "--engine", "spark"), True),  # its columns are checked with DuckDB
        (("decisions", "audit", "--help"), False),
        (("decisions", "--help"), False),
        (("decisions",), False),
        (("biometrics", "plan", "--target-fmr", "1e-4", "--ratio", "2"), False),
        (("biometrics", "audit", "scores.parquet", "--help"), False),
        (("monitor", "--help"), False),
    ],
)
def test_which_command_lines_read_data(argv: tuple[str, ...], reads: bool) -> None:
    assert reads_data(argv[0], argv) is reads


def test_the_console_script_starts_a_database_only_where_one_is_used(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("flag,truth,g\n" + "1,0,a\n0,1,b\n1,1,a\n0,0,b\n" * 10)
    audit = ["decisions", "audit", str(log), "--flag", "flag", "--truth", "truth", "--group", "g"]
    assert _ahead([*audit, "--min-cell", "5", "--format", "csv"])
    assert not _ahead([*audit, "--help"])
    assert not _ahead(["biometrics", "plan", "--target-fmr", "1e-4", "--ratio", "2"])
