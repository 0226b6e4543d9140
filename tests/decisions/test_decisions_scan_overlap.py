"""The cell query starts before numpy and pyarrow are imported, and runs on a thread beside those imports
(decisions._audit, engine.PendingQuery); what it gives and how it fails are a direct query's. A
command-line audit printing JSON never loads pyarrow at all (the cells come as numpy columns, the result
keeps its rows)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from misflag.cli import main
from misflag.decisions import audit_decisions
from misflag.engine import DuckDBEngine
from misflag.errors import EngineError

#: In a fresh process: which of numpy and pyarrow are loaded when the cell query starts, then the audit's
#: exit code, whether pyarrow was loaded by the end, the missing-truth modules loaded by the end, and the JSON.
PROBE = """
import sys
import misflag.engine._base as base

seen = []
start = base.PendingQuery.__init__

def recording(self, engine, query, *fetch):
    seen.append(sorted(name for name in ("numpy", "pyarrow") if name in sys.modules))
    start(self, engine, query, *fetch)

base.PendingQuery.__init__ = recording
from misflag.cli import main

code = main(["decisions", "audit", {path!r}, "--flag", "flag", "--truth", {truth!r}, "--group", "grp",
             "--min-cell", "1", "--format", "json"])
missing = sorted(name for name in sys.modules if name.startswith("misflag.decisions._missing_"))
print(code, seen, "pyarrow" in sys.modules, missing, file=sys.stderr)
"""


def _log(tmp_path: Path) -> Path:
    """Group a: 10 with truth 0, 4 of them flagged (FPR 4/10); group b: 20 with truth 0, 5 flagged (5/20);
    each group also has 10 with truth 1, 7 flagged (FNR 3/10)."""
    rows = []
    for group, negatives, false_flags in (("a", 10, 4), ("b", 20, 5)):
        rows += [f"{group},{int(i < false_flags)},0" for i in range(negatives)]
        rows += [f"{group},{int(i < 7)},1" for i in range(10)]
    path = tmp_path / "log.csv"
    path.write_text("grp,flag,truth\n" + "\n".join(rows) + "\n")
    return path


def _value(rows: list[dict[str, object]], group: str, metric: str) -> object:
    (row,) = [r for r in rows if r["attribute"] == "grp" and r["group"] == group and r["metric"] == metric]
    return row["value"]


def _probe(tmp_path: Path, truth: str = "truth") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE.format(path=str(_log(tmp_path)), truth=truth)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_line_starts_the_scan_before_numpy_and_never_loads_pyarrow(tmp_path: Path) -> None:
    done = _probe(tmp_path)
    # every truth known: of the missing-truth modules only the spec's checks load (_missing_spec)
    assert done.stderr.strip().splitlines()[-1] == "0 [[]] False ['misflag.decisions._missing_spec']", (
        done.stderr
    )
    rows = json.loads(done.stdout)
    assert _value(rows, "a", "fpr") == 4 / 10 and _value(rows, "b", "fpr") == 5 / 20
    assert _value(rows, "a", "fnr") == _value(rows, "b", "fnr") == 3 / 10


def test_unknown_truths_load_the_missing_truth_audit(tmp_path: Path) -> None:
    """The same log with group a's first truth unknown: the bounds come from the missing-truth modules."""
    done = _probe(tmp_path, truth="CASE WHEN grp = 'a' AND flag = 1 AND truth = 0 THEN NULL ELSE truth END")
    code, *_, loaded = done.stderr.strip().splitlines()[-1].split(" ", 3)
    assert code == "0", done.stderr
    assert "'misflag.decisions._missing_audit'" in loaded
    assert json.loads(done.stdout)  # the audit ran, with its bounds


FAILING = "CAST(grp AS INTEGER)"  # parses and names a column; fails only when DuckDB reads 'a'


def test_a_query_failing_on_the_thread_is_one_line_exit_2_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, saved = _log(tmp_path), tmp_path / "audit.json"
    engine = DuckDBEngine()
    try:  # what DuckDB itself says about the expression over the parsed file, run in this thread
        engine.execute(f"CREATE TABLE input AS SELECT * FROM read_csv('{path}')")
        with pytest.raises(EngineError) as direct:
            engine.sql(f"SELECT {FAILING} FROM input")
    finally:
        engine.close()
    args = ["--flag", FAILING, "--truth", "truth", "--group", "grp", "--format", "json", "--save", str(saved)]
    assert main(["decisions", "audit", str(path), *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and not saved.exists()
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("error: DuckDB could not run the query: Conversion Error: ")
    assert str(direct.value).split(": ", 1)[1] in line  # DuckDB's own words: Conversion Error, 'a' to INT32
    with pytest.raises(EngineError, match="Conversion Error"):
        audit_decisions(path, flag=FAILING, truth="truth", groups=["grp"])
