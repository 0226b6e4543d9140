"""The LP audit's sparse matrices (numpy triplets, no scipy.sparse) against scipy.sparse itself: the same
compressed-column arrays HiGHS reads (row order within columns, summed repeats, explicit zeros kept), the
same products with a point, bit for bit, and the same stacking."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from misflag.disclosure._matrix import SparseRows


def _random(rng: np.random.Generator) -> tuple[SparseRows, sparse.csr_matrix]:
    """Rows with sorted columns (as the model writes them) and values in -2..2, zeros included."""
    columns = int(rng.integers(1, 25))
    rows = []
    for _ in range(int(rng.integers(0, 20))):
        picked = np.sort(rng.choice(columns, size=int(rng.integers(0, columns + 1)), replace=False))
        rows.append((picked, rng.integers(-2, 3, size=picked.size).astype(float)))
    dense = np.zeros((len(rows), columns))
    for r, (picked, values) in enumerate(rows):
        dense[r, picked] = values
    return SparseRows.from_rows(rows, columns), sparse.csr_matrix(dense)


@pytest.mark.parametrize("seed", range(40))
def test_column_wise_and_products_equal_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    mine, theirs = _random(rng)
    start, index, value = mine.column_wise()
    # scipy's csc keeps the zeros written into the matrix; the dense route above drops them, so compare
    # against the triplets' own csc (explicit zeros kept) and the dense one on the nonzero entries
    kept = sparse.csc_matrix(sparse.coo_matrix((mine.value, (mine.row, mine.column)), shape=mine.shape))
    assert (start == kept.indptr).all() and (index == kept.indices).all() and (value == kept.data).all()
    assert np.array_equal(kept.toarray(), theirs.toarray())
    point = rng.normal(size=mine.shape[1])
    assert np.array_equal(mine.times(point), theirs @ point)  # same order of summation: bit for bit
    stacked = mine.below(mine)
    assert np.array_equal(
        sparse.csr_matrix(stacked.to_scipy()).toarray(), sparse.vstack([theirs, theirs]).toarray()
    )


def test_a_pair_listed_twice_adds_up_and_an_empty_matrix_has_empty_columns() -> None:
    twice = SparseRows(np.array([0, 0, 1]), np.array([2, 2, 0]), np.array([1.5, 2.0, -1.0]), (2, 3))
    start, index, value = twice.column_wise()
    assert start.tolist() == [0, 1, 1, 2] and index.tolist() == [1, 0] and value.tolist() == [-1.0, 3.5]
    assert twice.times(np.array([10.0, 0.0, 2.0])).tolist() == [7.0, -10.0]
    empty = SparseRows.from_rows([], 4)
    assert [a.tolist() for a in empty.column_wise()] == [[0, 0, 0, 0, 0], [], []]
    assert empty.times(np.ones(4)).size == 0
