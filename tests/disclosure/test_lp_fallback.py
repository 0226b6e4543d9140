"""When the warm-started HiGHS model gives no verdict, the same LP is solved afresh by scipy's HiGHS.

A hand-made universe: x0 + x1 = 5 and x1 + x2 = 3 with every count >= 0, so x1 lies in [0, 3] and x0 in
[2, 5]; both the warm model and the fresh solve must give exactly those ends, and an impossible table
must be reported as inconsistent, not as a number.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from misflag.disclosure._lp import Problem
from misflag.disclosure._matrix import SparseRows
from misflag.errors import MisflagError


def _problem(b_eq: list[float]) -> Problem:
    a_eq = SparseRows.from_rows([(np.array([0, 1]), np.ones(2)), (np.array([1, 2]), np.ones(2))], 3)
    return Problem(np.arange(3), a_eq, np.array(b_eq), None, np.zeros(0))


@pytest.mark.parametrize(("objective", "least"), [([0, 1, 0], 0.0), ([0, -1, 0], -3.0), ([1, 0, 0], 2.0)])
def test_fresh_solve_equals_the_warm_model_and_the_hand_bounds(objective: list[float], least: float) -> None:
    problem = _problem([5.0, 3.0])
    warm, _ = problem.solve(np.array(objective, dtype=float))
    fresh, point = problem._solve_afresh(np.array(objective, dtype=float), "Unknown")
    assert warm == pytest.approx(least, abs=1e-9) and fresh == pytest.approx(least, abs=1e-9)
    assert point is not None and np.allclose(problem.a_eq.times(point), [5.0, 3.0]) and (point >= -1e-9).all()


def test_an_impossible_table_is_inconsistent_not_a_number() -> None:
    problem = _problem([-1.0, 3.0])  # x0 + x1 = -1 has no non-negative solution
    with pytest.raises(MisflagError, match="inconsistent"):
        problem._solve_afresh(np.array([0.0, 1.0, 0.0]), "Unknown")


def test_a_model_with_no_verdict_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = _problem([5.0, 3.0])
    highs = problem._model()
    import highspy

    monkeypatch.setattr(highs, "getModelStatus", lambda: highspy.HighsModelStatus.kUnknown)
    value, point = problem.solve(np.array([0.0, -1.0, 0.0]))
    assert value == pytest.approx(-3.0, abs=1e-9) and point is not None


def test_the_solver_writes_nothing_to_standard_output() -> None:
    """HiGHS 1.16 prints a banner from its C++ constructor, once per process; a table piped from misflag
    must not hold it. A fresh process, so that this is its first solver."""
    script = (
        "import numpy as np; from misflag.disclosure._lp import Problem; "
        "from misflag.disclosure._matrix import SparseRows; "
        "a = SparseRows.from_rows([(np.array([0, 1]), np.ones(2)), (np.array([1, 2]), np.ones(2))], 3); "
        "Problem(np.arange(3), a, np.array([5.0, 3.0]), None, np.zeros(0)).solve(np.array([0.0, 1.0, 0.0]))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-800:]
    assert done.stdout == "" and "HiGHS" not in done.stderr
