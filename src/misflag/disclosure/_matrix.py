"""Sparse matrices as numpy triplets, in the forms HiGHS and the audit's checks need.

The LP audit's matrices are small (a few thousand entries) and are only handed to HiGHS, multiplied by a
point, or stacked: numpy does all three. `scipy.sparse` did them before, and importing it cost about a
tenth of a second of CPU in every process that audits anything (more than the solves of most outputs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SparseRows:
    """A `shape` matrix whose entry (row[k], column[k]) is value[k]; a pair listed twice adds up."""

    row: np.ndarray
    column: np.ndarray
    value: np.ndarray
    shape: tuple[int, int]

    @classmethod
    def from_rows(cls, rows: list[tuple[np.ndarray, np.ndarray]], columns: int) -> SparseRows:
        """One matrix row per (column positions, values) pair, in order."""
        sizes = [c.size for c, _ in rows]
        return cls(
            np.repeat(np.arange(len(rows)), sizes),
            np.concatenate([c for c, _ in rows]).astype(np.int64) if rows else np.zeros(0, np.int64),
            np.concatenate([v for _, v in rows]).astype(float) if rows else np.zeros(0),
            (len(rows), columns),
        )

    @classmethod
    def none(cls, columns: int) -> SparseRows:
        """A matrix with no rows."""
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), (0, columns))

    def times(self, point: np.ndarray) -> np.ndarray:
        """The matrix times a vector (each row summed in the order of its entries)."""
        return np.bincount(self.row, weights=self.value * point[self.column], minlength=self.shape[0])

    def below(self, other: SparseRows) -> SparseRows:
        """This matrix with `other`'s rows under it (same number of columns)."""
        return SparseRows(
            np.concatenate([self.row, other.row + self.shape[0]]),
            np.concatenate([self.column, other.column]),
            np.concatenate([self.value, other.value]),
            (self.shape[0] + other.shape[0], self.shape[1]),
        )

    def column_wise(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(start, index, value) of the compressed-column form HiGHS reads: row indices sorted within
        each column, a pair listed twice summed, explicit zeros kept (as scipy's `csc_matrix` gives)."""
        rows, columns = self.shape
        pairs, inverse = np.unique(self.column * max(rows, 1) + self.row, return_inverse=True)
        value = np.bincount(np.asarray(inverse).ravel(), weights=self.value, minlength=pairs.size)
        start = np.concatenate([[0], np.cumsum(np.bincount(pairs // max(rows, 1), minlength=columns))])
        return start.astype(np.int32), (pairs % max(rows, 1)).astype(np.int32), value

    def to_scipy(self) -> object:
        """The same matrix for scipy (only the rare fallback solve imports scipy)."""
        from scipy import sparse

        return sparse.csr_matrix((self.value, (self.row, self.column)), shape=self.shape)
