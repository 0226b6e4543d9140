"""The unknowns the equations fix on their own (`disclosure._fixed`), substituted out of the probe's LP:
a hand-worked system, inconsistent ones left whole, and on real and random tables every substituted
unknown pinned at its value by scipy's `linprog` on the full system, and every count's interval on the
reduced LP equal to the full one (the attacker's own HiGHS model, tests/disclosure/attacker.py's WarmLp).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy.optimize import linprog

from misflag.decisions import audit_decisions
from misflag.disclosure import Output
from misflag.disclosure._equations import build
from misflag.disclosure._fixed import substitute
from misflag.disclosure._lp import Problem
from misflag.disclosure._matrix import SparseRows
from misflag.disclosure._model import Universe
from tests.disclosure.attacker import WarmLp
from tests.disclosure.test_certified_by_points import _output
from tests.disclosure.test_lp_attack_one_output import compas
from tests.disclosure.test_probe import _small

__all__ = ["compas"]
SLACK = 1e-6


def _rows(rows: list[dict[int, float]], columns: int) -> SparseRows:
    return SparseRows.from_rows(
        [(np.array(list(r), dtype=np.int64), np.array(list(r.values()))) for r in rows], columns
    )


def test_a_hand_worked_system() -> None:
    """x0 + x1 = 3, x1 = 2, x2 + x3 = 0, x4 + x5 = 7, and x0 + x4 >= 2 (as -x0 - x4 <= -2): x1 = 2, then
    x0 = 1; x2 = x3 = 0 (no one, counts >= 0); x4 + x5 = 7 and -x4 <= -1 are left."""
    a_eq = _rows([{0: 1, 1: 1}, {1: 1}, {2: 1, 3: 1}, {4: 1, 5: 1}], 6)
    a_ub = _rows([{0: -1, 4: -1}], 6)
    done = substitute(a_eq, np.array([3.0, 2.0, 0.0, 7.0]), a_ub, np.array([-2.0]), 6)
    assert done is not None
    assert done.kept.tolist() == [4, 5]
    assert done.values.tolist() == [1.0, 2.0, 0.0, 0.0, 0.0, 0.0]
    assert done.a_eq.shape == (1, 2) and done.b_eq.tolist() == [7.0]
    assert sorted(zip(done.a_eq.column.tolist(), done.a_eq.value.tolist(), strict=True)) == [
        (0, 1.0),
        (1, 1.0),
    ]
    assert done.a_ub.shape == (1, 2) and done.b_ub.tolist() == [-1.0]
    assert done.a_ub.column.tolist() == [0] and done.a_ub.value.tolist() == [-1.0]
    costs, offset = done.objective(np.array([1.0, 1.0, 0.0, 0.0, 2.0, 0.0]))
    assert costs.tolist() == [2.0, 0.0] and offset == 3.0  # x0 + x1 = 3 moved out
    assert done.lift(np.array([6.0, 1.0])).tolist() == [1.0, 2.0, 0.0, 0.0, 6.0, 1.0]


@pytest.mark.parametrize(
    ("rows", "bounds"),
    [
        ([{0: 1}, {0: 1, 1: 1}, {2: 1, 3: 1}], [2.0, 1.0, 4.0]),  # x1 = -1
        ([{0: 1}, {0: 1}, {2: 1, 3: 1}], [2.0, 3.0, 4.0]),  # x0 = 2 and x0 = 3 (two rows, one key each)
        ([{0: 1}, {1: 1}, {0: 1, 1: 1}, {2: 1, 3: 1}], [2.0, 3.0, 6.0, 4.0]),  # 2 + 3 != 6
    ],
)
def test_an_inconsistent_system_is_left_whole(rows: list[dict[int, float]], bounds: list[float]) -> None:
    assert substitute(_rows(rows, 4), np.array(bounds), None, np.zeros(0), 4) is None


def test_nothing_or_everything_fixed_is_left_whole() -> None:
    assert substitute(_rows([{0: 1, 1: 1}], 2), np.array([3.0]), None, np.zeros(0), 2) is None
    assert substitute(_rows([{0: 1}, {1: 1}], 2), np.array([3.0, 1.0]), None, np.zeros(0), 2) is None
    assert substitute(None, np.zeros(0), None, np.zeros(0), 2) is None


def _protected(seed: int) -> Output:
    """A small random table's published output (race-like a x b x c intersected, `--min-cell 3`)."""
    table = _small(seed)
    result = audit_decisions(
        table, flag="flag", truth="truth", groups=["a", "b", "c"], intersect=True, min_cell=3
    )
    return Output(
        name="published",
        rows=result.rows(),
        groups=("a", "b", "c"),
        stages={"decision": "flag"},
        truth="truth",
        weighted=False,
        population="test",
        rows_audited=float(table.num_rows),
    )


@pytest.mark.parametrize("which", range(5))
def test_the_reduced_lp_is_the_full_one(which: int, compas: tuple[pa.Table, list[str]]) -> None:
    """Four small random tables as published, and COMPAS race x sex x age band under primary
    suppression alone."""
    output = _output(*compas) if which == 4 else _protected(which)
    model, targets = build(Universe([output]), 0)
    position, a_eq, b_eq, a_ub, b_ub = model.matrices()
    assert a_eq is not None
    done = substitute(a_eq, b_eq, a_ub, b_ub, int((position >= 0).sum()))
    assert done is not None and 0 < done.kept.size < position.max() + 1
    full = {"A_eq": a_eq.to_scipy(), "b_eq": b_eq, "bounds": (0, None)}
    if a_ub is not None:
        full |= {"A_ub": a_ub.to_scipy(), "b_ub": b_ub}
    fixed = np.setdiff1d(np.arange(done.values.size), done.kept)
    for unknown in fixed[:: max(1, fixed.size // 12)]:  # a dozen of them, least and most by scipy
        objective = np.zeros(done.values.size)
        objective[unknown] = 1.0
        least, most = linprog(objective, **full), linprog(-objective, **full)
        assert least.status == most.status == 0
        assert least.fun == pytest.approx(done.values[unknown], abs=SLACK)
        assert -most.fun == pytest.approx(done.values[unknown], abs=SLACK)
    attacker = WarmLp(a_eq.to_scipy(), b_eq, None if a_ub is None else a_ub.to_scipy(), b_ub)
    reduced = Problem(position, a_eq, b_eq, a_ub, b_ub).beside()
    for target in targets:
        objective = np.zeros(attacker.size)
        objective[position[target.columns][position[target.columns] >= 0]] = 1.0
        for sign in (1.0, -1.0):
            value, point = reduced.solve(sign * objective)
            assert value == pytest.approx(attacker.least(sign * objective), abs=SLACK)
            if point is not None:  # a point of the full system, reaching that value
                assert np.abs(a_eq.times(point) - b_eq).max() <= SLACK * max(1.0, np.abs(b_eq).max())
                assert point.min() >= -SLACK and sign * objective @ point == pytest.approx(value, abs=SLACK)
