"""`Model.matrices` (every equation's entries mapped at once) against the matrices written out densely,
one equation and one entry at a time, from the model's own equations: the same rows in the same order,
the same right-hand sides, the unknowns fixed at 0 left out. On the random tables of the alternative-cut
tests (two attributes, primary suppression alone) and on a weighted audit's model (coefficients)."""

from __future__ import annotations

import numpy as np
import pytest

from misflag.disclosure._equations import build
from misflag.disclosure._model import Model, Universe
from tests.disclosure.test_alternative_cuts import _table
from tests.disclosure.test_certified_by_points import _output


def _dense(model: Model, items: list[tuple[np.ndarray, float, np.ndarray | None]], sign: float) -> np.ndarray:
    assert model.zero is not None
    free = np.flatnonzero(~model.zero)
    out = np.zeros((len(items), free.size))
    for row, (columns, _, coefficients) in enumerate(items):
        for k, column in enumerate(columns):
            if model.zero[column]:
                continue
            out[row, int(np.searchsorted(free, column))] += sign * (
                1.0 if coefficients is None else coefficients[k]
            )
    return out


def _check(model: Model) -> None:
    position, a_eq, b_eq, a_ub, b_ub = model.matrices()
    equalities = [model.equalities[key] for key in model._usable()]
    inequalities = list(model.inequalities.values())
    assert model.zero is not None
    assert np.array_equal(position[~model.zero], np.arange(int((~model.zero).sum())))
    assert (position[model.zero] == -1).all()
    for matrix, bound, items, sign in ((a_eq, b_eq, equalities, 1.0), (a_ub, b_ub, inequalities, -1.0)):
        assert matrix is not None
        dense = np.zeros(matrix.shape)
        np.add.at(dense, (matrix.row, matrix.column), matrix.value)
        assert np.array_equal(dense, _dense(model, items, sign))
        assert np.array_equal(bound, sign * np.array([value for _, value, _ in items]))


@pytest.mark.parametrize("seed", range(6))
def test_matrices_equal_the_dense_equations(seed: int) -> None:
    model, _ = build(Universe([_output(_table(seed), ["a", "b"])]), 0)
    _check(model)


def test_weighted_coefficients() -> None:
    output = _output(_table(0), ["a", "b"])
    model, _ = build(Universe([output]), 0)
    # a weighted equation as `_published` writes it: its coefficients ride along with its columns
    columns = next(iter(model.equalities.values()))[0]
    model.equal(columns, 0.0, None, np.linspace(-1.5, 2.5, columns.size))
    _check(model)
