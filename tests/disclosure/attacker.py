"""An LP attacker written apart from misflag's own disclosure code: its model comes from the published
rows alone (labels split on " & ", a --where as attribute = value), and it solves with scipy's linprog.

Unknowns: people per (value of every attribute, truth, flag). Every published n, every rate's
denominator and value x denominator, every comparison's denominator and `rows_audited` is an equation;
every listed group holds at least one person; counts are non-negative.
"""

from __future__ import annotations

import math
from itertools import product
from typing import Any

import numpy as np
from scipy.optimize import linprog

STATES = [(t, f) for t in (0, 1) for f in (0, 1)]  # (truth, flag)
EVERYONE = {(0, 0), (0, 1), (1, 0), (1, 1)}
COUNTED: dict[str, tuple[set[tuple[int, int]], set[tuple[int, int]]]] = {
    "n": (EVERYONE, EVERYONE),
    "base_rate": ({(1, 0), (1, 1)}, EVERYONE),
    "selection_rate": ({(0, 1), (1, 1)}, EVERYONE),
    "fpr": ({(0, 1)}, {(0, 0), (0, 1)}),
    "fnr": ({(1, 0)}, {(1, 0), (1, 1)}),
    "precision": ({(1, 1)}, {(0, 1), (1, 1)}),
    "fdr": ({(0, 1)}, {(0, 1), (1, 1)}),
    "for": ({(1, 0)}, {(0, 0), (1, 0)}),
    "npv": ({(0, 0)}, {(0, 0), (1, 0)}),
    "accuracy": ({(0, 0), (1, 1)}, EVERYONE),
}


def _figure(metric: str) -> str | None:
    for suffix in ("", "_ratio", "_diff"):
        if metric.endswith(suffix) and metric.removesuffix(suffix) in COUNTED:
            return metric.removesuffix(suffix)
    return None


class Attacker:
    """Every published figure of several outputs of one data set, as one linear program."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        self.names = list(values)
        self.cells = list(product(*values.values(), STATES))
        self.equations: dict[tuple[int, ...], float] = {}
        self.at_least_one: set[tuple[int, ...]] = set()
        self.targets: dict[tuple[int, ...], list[tuple[int, dict[str, Any], str]]] = {}

    def _columns(self, where: dict[str, str], states: set[tuple[int, int]]) -> tuple[int, ...]:
        positions = [self.names.index(a) for a in where]
        return tuple(
            i
            for i, cell in enumerate(self.cells)
            if cell[-1] in states and all(cell[p] == where[a] for p, a in zip(positions, where, strict=True))
        )

    def read(self, number: int, rows: list[dict[str, Any]], where: dict[str, str], rows_audited: Any) -> None:
        if rows_audited is not None:
            self.equations[self._columns(where, EVERYONE)] = float(rows_audited)
        for row in rows:
            figure = _figure(row["metric"])
            if figure is None or row["stage"] not in ("all", "decision"):
                continue
            group = dict(where)
            if row["attribute"] != "overall":
                group.update(zip(row["attribute"].split(" & "), row["group"].split(" & "), strict=True))
            top, bottom = (self._columns(group, states) for states in COUNTED[figure])
            if figure == "n" and not (row["warning"] or "").startswith("absent"):
                self.at_least_one.add(bottom)
            if row["suppressed"]:
                for part, columns in (("numerator", top), ("denominator", bottom)):
                    self.targets.setdefault(columns, []).append((number, row, part))
                continue
            if figure == "n":
                self.equations[bottom] = float(row["value"])
            elif row["denominator"] is not None:
                self.equations[bottom] = float(row["denominator"])
                if row["metric"] == figure and row["value"] is not None:
                    self.equations[top] = float(round(row["value"] * row["denominator"]))

    def intervals(self) -> dict[tuple[int, ...], tuple[float, float]]:
        """Least and most people each withheld count can hold, given everything read."""
        size = len(self.cells)
        a_eq = np.zeros((len(self.equations), size))
        for i, columns in enumerate(self.equations):
            a_eq[i, list(columns)] = 1.0
        a_ub = np.zeros((len(self.at_least_one), size))
        for i, columns in enumerate(self.at_least_one):
            a_ub[i, list(columns)] = -1.0
        b_eq = np.array(list(self.equations.values()))
        out = {}
        for columns in self.targets:
            objective = np.zeros(size)
            objective[list(columns)] = 1.0
            ends = []
            for sign in (1.0, -1.0):
                solved = linprog(
                    sign * objective,
                    A_ub=a_ub,
                    b_ub=-np.ones(len(a_ub)),
                    A_eq=a_eq,
                    b_eq=b_eq,
                    method="highs",
                )
                assert solved.status in (0, 3), solved.message
                ends.append(math.inf if solved.status == 3 else sign * solved.fun)
            out[columns] = (ends[0], ends[1])
        return out


def truth_counts(attacker: Attacker, table: Any, truth: str, flag: str) -> np.ndarray:
    """People per cell of the attacker's model, counted from the raw rows (a pyarrow table)."""
    data = table.to_pydict()
    index = {cell: i for i, cell in enumerate(attacker.cells)}
    counts = np.zeros(len(attacker.cells))
    for r in range(table.num_rows):
        key = (*(str(data[a][r]) for a in attacker.names), (int(data[truth][r]), int(data[flag][r])))
        counts[index[key]] += 1
    return counts


def exposed(
    attacker: Attacker, counts: np.ndarray, min_cell: int
) -> list[tuple[float, float, float, dict[str, Any], str]]:
    """Withheld counts of 1 to min_cell - 1 people that the reader pins inside fewer than
    ceil(min_cell / 2) people while ruling out zero: (value, low, high, row, part)."""
    protection = math.ceil(min_cell / 2)
    out = []
    for columns, (low, high) in attacker.intervals().items():
        value = float(counts[list(columns)].sum())
        if 1 <= value < min_cell and high - low < protection - 1e-6 and low > 1e-6:
            _, row, part = attacker.targets[columns][0]
            out.append((value, low, high, row, part))
    return out
