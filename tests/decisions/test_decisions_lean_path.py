"""The score audit's command-line path reads Arrow buffers directly: pandas is never imported.

pyarrow's `ChunkedArray.to_numpy` imports pandas even for a column without NULLs; pandas is an optional
extra (misflag[pandas]) and ~0.2 s of start-up on every CLI audit.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from misflag.decisions import audit_decisions
from misflag.errors import ExpressionError

PROBE = """
import sys
from misflag.cli import main
code = main(["decisions", "audit", {path!r}, "--flag", "score >= 0.5", "--score", "score", "--truth", "truth", "--group", "g",
             "--replicates", "100", "--format", "json", "--save", {out!r}])
assert code == 0, code
print("pandas" in sys.modules)
"""


def test_score_audit_does_not_import_pandas(tmp_path: Path) -> None:
    path, out = tmp_path / "scores.csv", tmp_path / "result.json"
    rows = [f"{'ab'[i % 2]},{(i * 37 % 101) / 100},{int(i % 3 == 0)}" for i in range(400)]
    path.write_text("g,score,truth\n" + "\n".join(rows) + "\n")
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(path=str(path), out=str(out))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert '"global_threshold"' in out.read_text()  # the audit ran the score stage
    assert done.stdout.strip().splitlines()[-1] == "False"


REFUSAL_PROBE = """
import sys
from misflag.cli import main
code = main(["decisions", "audit", {path!r}, "--flag", "score >= 0.5", "--truth", "truth",
             "--group", "(SELECT 1)"])
print(code, "scipy.optimize" in sys.modules)
"""


def test_refused_expression_starts_no_engine_and_reads_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused construct is told before the engine starts: even a missing input is not looked at."""
    import misflag.decisions._audit as audit_module

    def no_engine(*args: object, **kwargs: object) -> None:
        raise AssertionError("the engine started before the expressions were checked")

    monkeypatch.setattr(audit_module, "get_engine", no_engine)
    with pytest.raises(
        ExpressionError, match="groups must be a single SQL expression over columns: a subquery"
    ):
        audit_decisions(tmp_path / "absent.csv", flag="flag", truth="truth", groups=["(SELECT 1)"])
    with pytest.raises(ExpressionError, match="a comment"):
        audit_decisions(tmp_path / "absent.csv", flag="flag -- x", truth="truth")


def test_refused_expression_on_the_command_line_imports_no_scipy(tmp_path: Path) -> None:
    """The disclosure audit's scipy.optimize (a quarter of a second) is imported only for an audit that runs."""
    path = tmp_path / "log.csv"
    path.write_text("score,truth\n0.7,1\n")
    done = subprocess.run(
        [sys.executable, "-c", REFUSAL_PROBE.format(path=str(path))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stderr.startswith("error: --group "), done.stderr
    assert done.stdout.split() == ["2", "False"]


def test_column_names_are_still_checked_against_the_input(tmp_path: Path) -> None:
    """The pre-check accepts any column name; the check against the input's columns still refuses one."""
    path = tmp_path / "log.csv"
    path.write_text("flag,truth,race\n1,1,a\n0,0,b\n")
    with pytest.raises(ExpressionError, match="names column 'sex', which the input lacks"):
        audit_decisions(path, flag="flag", truth="truth", groups=["sex"])
