"""The suppression plan's exact check (`decisions._complementary.recoverable`) runs its SVDs with BLAS on one
thread, and gives the BLAS limit back as it found it.

The thread counts are read with threadpoolctl's own `threadpool_info` (what OpenBLAS reports), and the
null space is compared with scipy's `null_space`, not with misflag's code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.linalg import null_space
from threadpoolctl import threadpool_info, threadpool_limits

from misflag.decisions import _complementary


def _blas_threads() -> set[int]:
    """The thread counts of every BLAS library loaded (numpy's OpenBLAS; scipy's, here, too)."""
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def _deficient(rng: np.random.Generator) -> np.ndarray:
    """An integer matrix (a relation matrix's entries: -1, 0, 1) whose rank is below its columns."""
    rows, columns = int(rng.integers(20, 60)), int(rng.integers(20, 60))
    matrix = rng.integers(-1, 2, size=(rows, columns)).astype(float)
    matrix[:, -1] = matrix[:, 0] - matrix[:, 1]  # one column a combination of two others
    return matrix


def test_svd_runs_on_one_blas_thread_and_the_limit_is_given_back(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[set[int]] = []
    svd = np.linalg.svd

    def recorded(*args: Any, **kwargs: Any) -> Any:
        seen.append(_blas_threads())
        return svd(*args, **kwargs)

    monkeypatch.setattr(np.linalg, "svd", recorded)
    matrix = _deficient(np.random.default_rng(0))
    with threadpool_limits(limits=2, user_api="blas"):
        assert _blas_threads() == {2}  # else this test could not tell one thread from the default
        _complementary._null_space(matrix)
        assert _blas_threads() == {2}
    assert seen == [{1}]


@pytest.mark.parametrize("seed", range(20))
def test_null_space_spans_scipys(seed: int) -> None:
    """The same space as scipy.linalg.null_space (equal projectors), so the same units recoverable."""
    matrix = _deficient(np.random.default_rng(seed))
    mine, theirs = _complementary._null_space(matrix), null_space(matrix)
    assert mine.shape == theirs.shape and mine.shape[1] >= 1
    assert np.allclose(mine @ mine.T, theirs @ theirs.T, atol=1e-9)
    assert np.allclose(matrix @ mine, 0.0, atol=1e-9)
