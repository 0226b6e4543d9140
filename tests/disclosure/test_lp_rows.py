"""The audit's HiGHS model with equations taken out and put back (`disclosure._lp.Problem.free_rows`,
`restore_rows`: one HiGHS call for all the rows, as the alternative cuts use them), and the rows of a set of
equations (`rows_publishing`). Each is checked against something computed without it: the rows by a
scan of every row's sources, the optima by scipy's `linprog` on the matrices with those rows dropped,
then on all of them. Small random tables, primary suppression alone (withheld counts abound)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from misflag.disclosure._equations import build
from misflag.disclosure._lp import Problem
from misflag.disclosure._model import Universe
from tests.disclosure.test_alternative_cuts import _table
from tests.disclosure.test_certified_by_points import _output


def _optimum(problem: Problem, objective: np.ndarray, dropped: list[int]) -> float:
    """The least value of the objective with the `dropped` equations left out, solved by scipy alone."""
    assert problem.a_eq is not None
    kept = np.setdiff1d(np.arange(problem.b_eq.size), dropped)
    solved = linprog(
        objective, A_eq=problem.a_eq.to_scipy().tocsr()[kept], b_eq=problem.b_eq[kept], bounds=(0, None),
        A_ub=None if problem.a_ub is None else problem.a_ub.to_scipy(),
        b_ub=None if problem.a_ub is None else problem.b_ub, method="highs",
    )  # fmt: skip
    assert solved.status in (0, 3), solved.message
    return float(solved.fun) if solved.status == 0 else float("-inf")


@pytest.mark.parametrize("seed", range(4))
def test_rows_taken_out_and_put_back_solve_as_scipy_does(seed: int) -> None:
    """Per withheld count, the equations its upper end rests on (nonzero duals) are taken out: the
    optimum moves (on some counts at least, or the check could not fail) to scipy's without those rows,
    and comes back to scipy's with every row once they are put back."""
    model, targets = build(Universe([_output(_table(seed), ["a", "b"])]), 0)
    sources = model.equality_sources()
    problem = Problem(*model.matrices(), sources=sources)
    moved = 0
    for target in targets[:12]:
        columns = problem.position[target.columns][problem.position[target.columns] >= 0]
        if columns.size == 0:
            continue
        objective = np.zeros(problem.free)
        objective[columns] = -1.0  # the count's most people
        full = problem.solve(objective)[0]
        assert full == pytest.approx(_optimum(problem, objective, []), abs=1e-6)
        pins = problem.pins()
        rows = sorted(problem.rows_publishing(pins))
        assert rows == [r for r, source in enumerate(sources) if source in pins]
        if not rows:
            continue
        problem.free_rows(rows)
        freed = problem.solve(objective)[0]
        assert freed == pytest.approx(_optimum(problem, objective, rows), abs=1e-6)
        moved += freed < full - 1e-6
        problem.restore_rows(rows)
        assert problem.solve(objective)[0] == pytest.approx(full, abs=1e-6)
    assert moved >= 1
