"""An LP attacker written apart from misflag's own disclosure code: its model comes from the published
rows alone (labels split on " & ", a --where as attribute = value), and it solves with HiGHS (highspy, one
model re-solved from its last basis per objective; scipy's linprog where that gives no verdict).

Unknowns: people per (value of every attribute, truth, flag). Every published n, every rate's
denominator and value x denominator, every comparison's denominator and `rows_audited` is an equation;
every listed group holds at least one person; counts are non-negative. `ranges` holds bounds a reader
adds from elsewhere (e.g. from the text of a withheld row's reason), each as (least, most) people.
"""

from __future__ import annotations

import math
from itertools import product
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

STATES: list[tuple[Any, int]] = [(t, f) for t in (0, 1) for f in (0, 1)]  # (truth, flag)
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


class Cells:
    """The model's unknowns: people per (value of every attribute, state: (truth, flag)), and the columns
    of a group's cells in some states, found by masks over the cells (a reader asks for them per figure)."""

    def __init__(self, values: dict[str, list[str]], states: list[tuple[Any, int]] = STATES) -> None:
        self.names = list(values)
        self.cells = list(product(*values.values(), states))
        self._values = {
            name: np.array([cell[i] for cell in self.cells], dtype=object)
            for i, name in enumerate(self.names)
        }
        self._state_list = states
        self._states = np.arange(len(self.cells)) % len(states)  # the state varies fastest in `product`

    def _columns(self, where: dict[str, str], states: set[Any]) -> tuple[int, ...]:
        """The cells in `states` whose attributes hold `where`'s values, in the cells' order."""
        chosen = np.isin(self._states, [self._state_list.index(state) for state in states])
        for attribute, value in where.items():
            chosen &= self._values[attribute] == value
        return tuple(int(i) for i in np.flatnonzero(chosen))


class Attacker(Cells):
    """Every published figure of several outputs of one data set, as one linear program."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        super().__init__(values)
        self.equations: dict[tuple[int, ...], float] = {}
        self.at_least_one: set[tuple[int, ...]] = set()
        self.ranges: dict[tuple[int, ...], tuple[float, float]] = {}
        self.targets: dict[tuple[int, ...], list[tuple[int, dict[str, Any], str]]] = {}

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
        bounds = [(columns, -1.0, -1.0) for columns in self.at_least_one]  # -sum <= -1
        for columns, (low, high) in self.ranges.items():
            bounds.append((columns, -1.0, -low))
            if math.isfinite(high):
                bounds.append((columns, 1.0, high))
        a_ub = np.zeros((len(bounds), size))
        for i, (columns, sign, _) in enumerate(bounds):
            a_ub[i, list(columns)] = sign
        b_eq = np.array(list(self.equations.values()))
        lp = WarmLp(a_eq, b_eq, a_ub, np.array([bound for _, _, bound in bounds]))
        out = {}
        for columns in self.targets:
            objective = np.zeros(size)
            objective[list(columns)] = 1.0
            out[columns] = (lp.least(objective), -lp.least(-objective))
        return out


class WarmLp:
    """min c.x subject to A_eq x = b_eq, A_ub x <= b_ub, x >= 0, for many objectives c: one HiGHS model
    (highspy, the solver library itself) re-solved from its last basis, as tau-ARGUS's audit does; an
    objective the warm model gives no verdict on is solved afresh by scipy's `linprog`. `whole`: x whole
    too (HiGHS's MIP on the same model, only its objective changed between solves; no fallback)."""

    def __init__(self, a_eq: Any, b_eq: np.ndarray, a_ub: Any, b_ub: np.ndarray, whole: bool = False) -> None:
        import highspy

        self.a_eq, self.b_eq, self.a_ub, self.b_ub = a_eq, b_eq, a_ub, b_ub
        blocks = [sparse.csr_matrix(m) for m in (a_eq, a_ub) if m is not None and m.shape[0]]
        self.size = int((a_eq if a_eq is not None else a_ub).shape[1])
        matrix = sparse.csc_matrix(sparse.vstack(blocks) if blocks else sparse.csc_matrix((0, self.size)))
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.size, matrix.shape[0]
        lp.col_cost_, lp.col_lower_ = np.zeros(self.size), np.zeros(self.size)
        lp.col_upper_ = np.full(self.size, np.inf)
        equal = b_eq if a_eq is not None else np.zeros(0)
        upper = b_ub if a_ub is not None else np.zeros(0)
        lp.row_lower_ = np.concatenate([equal, np.full(upper.size, -np.inf)])
        lp.row_upper_ = np.concatenate([equal, upper])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = (
            matrix.indptr,
            matrix.indices,
            matrix.data,
        )
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = self.size, matrix.shape[0]
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        self.highs.passModel(lp)
        self.status = highspy.HighsModelStatus
        self.whole = whole
        if whole:
            kinds = np.full(self.size, highspy.HighsVarType.kInteger)
            self.highs.changeColsIntegrality(self.size, np.arange(self.size, dtype=np.int32), kinds)

    def least(self, objective: np.ndarray) -> float:
        """The least value of the objective (-inf when unbounded)."""
        self.highs.changeColsCost(self.size, np.arange(self.size, dtype=np.int32), objective)
        self.highs.run()
        status = self.highs.getModelStatus()
        if status == self.status.kOptimal:
            return float(self.highs.getObjectiveValue())
        assert not self.whole, status  # the MIP has no fallback: its callers bound it (counts >= 0)
        solved = linprog(
            objective,
            A_ub=self.a_ub,
            b_ub=self.b_ub if self.a_ub is not None else None,
            A_eq=self.a_eq,
            b_eq=self.b_eq if self.a_eq is not None else None,
            method="highs",
        )
        assert solved.status in (0, 3), solved.message
        return -math.inf if solved.status == 3 else float(solved.fun)


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
