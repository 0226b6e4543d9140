"""What every audit that solves with HiGHS (through highspy or scipy) shares, whichever folder it is in.

The disclosure audit, the biometric audit and the linkage audit each build their own LP or MIP; they
share the quieting of HiGHS's C++ banner, which a flag cannot turn off because the constructor prints
it before any option is set, and the biometric and linkage readers share the warm relaxed model
(`relaxed_model`) that they re-solve from its last basis for each objective. A top-level private module, like `_withheld.py`, so that no audit folder
imports another folder's internals for it.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import highspy
    from scipy.sparse import csc_matrix


@contextmanager
def silent_stdout() -> Iterator[None]:
    """Standard output closed at the file-descriptor level (C and C++ writes included) for the block:
    a library's banner must not land in a table the user pipes elsewhere."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        with suppress(OSError, AttributeError):
            ctypes.CDLL(None).fflush(None)  # what the C library still buffers goes to /dev/null too
        os.dup2(saved, 1)
        os.close(saved)


def relaxed_model(
    matrix: csc_matrix, col_upper: np.ndarray, row_lower: np.ndarray, row_upper: np.ndarray
) -> highspy.Highs:
    """The LP row_lower <= matrix @ x <= row_upper, 0 <= x <= col_upper, with zero costs, as one quiet
    HiGHS model (highspy): a reader sets each objective's costs and re-solves it from the last basis,
    which is what makes a solve per withheld count affordable."""
    import highspy

    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = matrix.shape[1], matrix.shape[0]
    lp.col_cost_ = np.zeros(matrix.shape[1])
    lp.col_lower_, lp.col_upper_ = np.zeros(matrix.shape[1]), col_upper
    lp.row_lower_, lp.row_upper_ = row_lower, row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = (
        matrix.indptr,
        matrix.indices,
        matrix.data,
    )
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = matrix.shape[1], matrix.shape[0]
    with silent_stdout():  # HiGHS prints a banner from its C++ constructor
        model = highspy.Highs()
    model.setOptionValue("output_flag", False)
    model.passModel(lp)
    return model
