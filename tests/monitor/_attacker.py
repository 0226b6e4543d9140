"""What the monitor's integer-programming readers share: a withheld count's least and most over whole
counts (scipy's HiGHS `milp`), and the counts narrowed below the goal (docs/disclosure.md: at least
ceil(min_cell / 2) wide, or reaching 0)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp


def whole_interval(
    matrix: np.ndarray, low: np.ndarray, high: np.ndarray, columns: list[int], cap: float
) -> tuple[float, float]:
    """Least and most of the summed `columns` over whole counts in 0..cap with low <= matrix @ x <= high."""
    objective = np.zeros(matrix.shape[1])
    objective[columns] = 1.0
    ends = []
    for sign in (1.0, -1.0):
        found = milp(
            sign * objective,
            constraints=LinearConstraint(matrix, low, high),
            integrality=np.ones(matrix.shape[1]),
            bounds=Bounds(0, cap),
        )
        assert found.status == 0, found.message
        ends.append(sign * found.fun)
    return ends[0], ends[1]


def narrowed(
    targets: dict[tuple[Any, ...], list[int]],
    interval: Callable[[list[int]], tuple[float, float]],
    min_cell: int,
) -> dict[tuple[Any, ...], tuple[float, float]]:
    """Withheld counts narrower than ceil(min_cell / 2) that do not reach 0, with their intervals."""
    found = {}
    for target, columns in targets.items():
        least, most = interval(columns)
        if least > 0 and most - least < math.ceil(min_cell / 2):
            found[target] = (least, most)
    return found
