"""The score audit's command-line path reads Arrow buffers directly: pandas is never imported.

pyarrow's `ChunkedArray.to_numpy` imports pandas even for a column without NULLs; pandas is an optional
extra (misflag[pandas]) and ~0.2 s of start-up on every CLI audit.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
