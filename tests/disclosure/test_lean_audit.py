"""The disclosure audit's cost where it has nothing to do: an output with no sensitive withheld count
builds no LP model and loads neither HiGHS nor scipy; the cost-aware suppression solves its MILP with
highspy (already loaded by the LP audit), never importing scipy.optimize. Each probe is a fresh process,
so that what it imports is its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from misflag.disclosure._audit import SECONDARY_METHODS

PROBE = """
import json, sys
from misflag.decisions import audit_decisions
result = audit_decisions({path!r}, flag={flag!r}, truth={truth!r}, groups={groups!r}, intersect=True)
loaded = sorted(m for m in ("highspy", "scipy", "scipy.sparse", "scipy.optimize") if m in sys.modules)
summary = result.metadata["disclosure_audit"]
print(json.dumps({{"loaded": loaded, "audit": summary.auditor_only, "published": summary,
                  "withheld": sum(bool(r["suppressed"]) for r in result.rows())}}))
"""


def _probe(path: Path, flag: str, truth: str, groups: list[str]) -> dict[str, object]:
    code = PROBE.format(path=str(path), flag=flag, truth=truth, groups=groups)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-800:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_nothing_sensitive_withheld_loads_no_solver(tmp_path: Path) -> None:
    """Two groups of 200 people, every count 25 or more: nothing is withheld, nothing is solved."""
    path = tmp_path / "log.csv"
    rows = [f"{'ab'[i % 2]},{int(i % 4 < 2)},{int(i % 8 < 4)}" for i in range(400)]
    path.write_text("g,flag,truth\n" + "\n".join(rows) + "\n")
    out = _probe(path, "flag", "truth", ["g"])
    assert out["loaded"] == [] and out["withheld"] == 0
    audit = out["audit"]
    assert isinstance(audit, dict)
    assert audit["withheld_counts_checked"] == 0 and audit["withheld_counts_solved_by_their_own_lp"] == 0
    assert out["published"] == {
        "method": "linear programming (HiGHS via highspy), integrality relaxed",
        "protection_level": 5.0,
        "withheld_counts": 0,
        "guarantee": "every withheld count of 1 to min_cell - 1 people has a feasible interval, given every "
        "published figure, at least 5 people wide, or one that reaches down to 0",
        "secondary_suppression": {"methods": SECONDARY_METHODS, "earlier_releases": []},
    }


def test_the_cost_aware_suppression_imports_no_scipy_optimize(compas_csv: Path) -> None:
    out = _probe(compas_csv, "score_text IN ('Medium', 'High')", "two_year_recid", ["race", "sex"])
    assert "highspy" in out["loaded"] and "scipy.optimize" not in out["loaded"]
    audit = out["audit"]
    assert isinstance(audit, dict)
    assert audit["secondary_suppression"]["method"] == "milp" and audit["secondary_suppression"]["rounds"] > 1
    assert audit["withheld_counts_checked"] == audit["withheld_counts_protected"] > 0
