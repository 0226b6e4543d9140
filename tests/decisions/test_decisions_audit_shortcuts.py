"""The decision audit's shortcuts give the audit it gave without them, and load less.

- With nothing withheld, the rows as they read unsuppressed (for the disclosure audit) are the published
  rows, copied instead of computed again: the result equals the one computed both ways.
- The score path orders its cells with numpy: no pyarrow.compute (nor pandas) is imported.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from misflag.decisions import _audit, audit_decisions


def _log(path: Path, rows: int, small: bool) -> Path:
    """A log of `rows` rows over groups a, b (and a group of 4 people when `small`), with scores."""
    lines = [
        f"{'ab'[i % 2]},{i % 3 == 0:d},{i % 5 < 2:d},{(i * 37 % 101) / 100},{'xy'[i % 2]}"
        for i in range(rows)
    ]
    if small:
        lines += [f"c,1,{i % 2},0.{i + 1},x" for i in range(4)]
    path.write_text("g,flag,truth,score,h\n" + "\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("small", [False, True])
@pytest.mark.parametrize(
    "options",
    [
        {"groups": ["g"]},
        {"groups": ["g", "h"], "intersect": True},
        {"groups": ["g"], "score": "score"},
        {"stages": [("algorithm", "flag"), ("review", "flag AND truth")], "groups": ["g", "h"]},
    ],
)
def test_the_shortcut_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small: bool, options: dict[str, object]
) -> None:
    log = _log(tmp_path / "log.csv", 400, small)
    given = {"flag": "flag", **options} if "stages" not in options else dict(options)
    fast = audit_decisions(log, truth="truth", replicates=200, **given)  # type: ignore[arg-type]
    monkeypatch.setattr(_audit._Audit, "withholds", lambda self: True)  # always compute them again
    slow = audit_decisions(log, truth="truth", replicates=200, **given)  # type: ignore[arg-type]
    assert fast.rows() == slow.rows()
    assert fast.metadata == slow.metadata
    assert any(r["suppressed"] for r in fast.rows()) == small


def test_a_score_audit_loads_neither_pyarrow_compute_nor_pandas(tmp_path: Path) -> None:
    log = _log(tmp_path / "log.csv", 400, small=False)
    probe = (
        "import sys; from misflag.cli import main; "
        f"code = main(['decisions', 'audit', {str(log)!r}, '--flag', 'flag', '--score', 'score', '--truth', "
        "'truth', '--group', 'g', '--replicates', '100', '--format', 'json']); "
        "sys.stderr.write(repr(sorted(m for m in sys.modules if m in {'pyarrow.compute', 'pandas'})))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stderr == "[]"
    assert '"stage": "score>=' in done.stdout  # the score stage ran
