"""The LP attacker of `attacker.py` for weighted (audit-sample) outputs, written apart from misflag's code.

Unknowns: people per (value of every attribute, truth 1/0/not audited, flag). The weight of each audited
cell is read from the output's metadata: the weight expression evaluated by DuckDB at every value of
the attributes and flag 0 and 1 (the design's strata follow the flag, whose stage expression is the
column `flag`, and perhaps the attributes, whose group expressions are their columns). Every weighted rate
is then sum(w x numerator) = value x sum(w x denominator), its denominator the audited people; n,
selection_rate (every row, unweighted) and `rows_audited` as in `attacker.py`.
"""

from __future__ import annotations

import math
from itertools import product
from typing import Any

import duckdb
import numpy as np
from scipy.optimize import linprog

from tests.disclosure.attacker import Cells

STATES: list[tuple[Any, int]] = [(t, f) for t in (0, 1, None) for f in (0, 1)]
EVERYONE = set(STATES)
AUDITED = {(t, f) for t, f in STATES if t is not None}
FLAGGED = {(t, f) for t, f in STATES if f == 1}
WEIGHTED: dict[str, tuple[set[Any], set[Any]]] = {
    "base_rate": ({(1, 0), (1, 1)}, AUDITED),
    "fpr": ({(0, 1)}, {(0, 0), (0, 1)}),
    "fnr": ({(1, 0)}, {(1, 0), (1, 1)}),
    "precision": ({(1, 1)}, {(0, 1), (1, 1)}),
    "fdr": ({(0, 1)}, {(0, 1), (1, 1)}),
    "for": ({(1, 0)}, {(0, 0), (1, 0)}),
    "npv": ({(0, 0)}, {(0, 0), (1, 0)}),
    "accuracy": ({(0, 0), (1, 1)}, AUDITED),
}
PLAIN: dict[str, tuple[set[Any], set[Any]]] = {
    "n": (EVERYONE, EVERYONE),
    "selection_rate": (FLAGGED, EVERYONE),
}


def _figure(metric: str) -> str | None:
    for suffix in ("", "_ratio", "_diff"):
        name = metric.removesuffix(suffix) if metric.endswith(suffix) else None
        if name in WEIGHTED or name in PLAIN:
            return name
    return None


def flag_weights(weight_expression: str) -> dict[int, float]:
    """The published weight expression at flag 0 and 1 (DuckDB evaluates it)."""
    out = duckdb.sql(f"SELECT flag, CAST(({weight_expression}) AS DOUBLE) FROM (VALUES (0), (1)) v(flag)")
    return {int(f): float(w) for f, w in out.fetchall()}


def cell_weights(weight_expression: str, values: dict[str, list[str]]) -> dict[tuple[Any, ...], float]:
    """The published weight expression at every (value of each attribute, flag), by DuckDB."""
    keys = list(product(*values.values(), (0, 1)))
    rows = ", ".join("(" + ", ".join(f"'{v}'" for v in key[:-1]) + f", {key[-1]})" for key in keys)
    names = ", ".join([*values, "flag"])
    out = duckdb.sql(f"SELECT CAST(({weight_expression}) AS DOUBLE) FROM (VALUES {rows}) v({names})")
    return dict(zip(keys, (float(w) for (w,) in out.fetchall()), strict=True))


class WeightedAttacker(Cells):
    """Every published figure of one weighted output, as one linear program."""

    def __init__(self, values: dict[str, list[str]], weights: dict[Any, float]) -> None:
        """`weights`: by flag (0, 1), or by (value of each attribute, flag)."""
        super().__init__(values, STATES)
        self.weight = np.array(
            [weights[c[-1][1]] if c[-1][1] in weights else weights[(*c[:-1], c[-1][1])] for c in self.cells]
        )
        self.equations: dict[tuple[Any, ...], tuple[np.ndarray, float]] = {}
        self.at_least_one: set[tuple[int, ...]] = set()
        self.targets: dict[tuple[int, ...], list[tuple[dict[str, Any], str]]] = {}

    def _equal(self, columns: tuple[int, ...], value: float, coefficients: np.ndarray | None = None) -> None:
        row = np.zeros(len(self.cells))
        row[list(columns)] = 1.0 if coefficients is None else coefficients
        self.equations[(columns, None if coefficients is None else tuple(coefficients))] = (row, value)

    def read(self, rows: list[dict[str, Any]], rows_audited: Any) -> None:
        if rows_audited is not None:
            self._equal(self._columns({}, EVERYONE), float(rows_audited))
        for row in rows:
            figure = _figure(row["metric"])
            if figure is None or row["stage"] not in ("all", "decision"):
                continue
            group = {}
            if row["attribute"] != "overall":
                group = dict(zip(row["attribute"].split(" & "), row["group"].split(" & "), strict=True))
            top, bottom = (self._columns(group, s) for s in (WEIGHTED | PLAIN)[figure])
            if figure == "n" and not (row["warning"] or "").startswith("absent"):
                self.at_least_one.add(bottom)
            if row["suppressed"]:
                for part, columns in (("numerator", top), ("denominator", bottom)):
                    self.targets.setdefault(columns, []).append((row, part))
                continue
            if figure == "n":
                self._equal(bottom, float(row["value"]))
                continue
            if row["denominator"] is None:
                continue
            self._equal(bottom, float(row["denominator"]))
            if row["metric"] != figure or row["value"] is None or not row["denominator"]:
                continue
            if figure in PLAIN:
                self._equal(top, float(round(row["value"] * row["denominator"])))
            else:  # sum(w x numerator) - value x sum(w x denominator) = 0
                inside = np.array([1.0 if c in top else 0.0 for c in bottom])
                self._equal(bottom, 0.0, self.weight[list(bottom)] * (inside - float(row["value"])))

    def intervals(self) -> dict[tuple[int, ...], tuple[float, float]]:
        """Least and most people each withheld count can hold, given everything read."""
        size = len(self.cells)
        a_eq = np.array([row for row, _ in self.equations.values()])
        b_eq = np.array([value for _, value in self.equations.values()])
        a_ub = np.zeros((len(self.at_least_one), size))
        for i, columns in enumerate(self.at_least_one):
            a_ub[i, list(columns)] = -1.0
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


def truth_counts(attacker: WeightedAttacker, data: dict[str, list[Any]]) -> np.ndarray:
    """People per cell of the attacker's model, counted from the raw rows (truth None: not audited)."""
    index = {cell: i for i, cell in enumerate(attacker.cells)}
    counts = np.zeros(len(attacker.cells))
    for r in range(len(data["flag"])):
        key = (*(str(data[a][r]) for a in attacker.names), (data["truth"][r], int(data["flag"][r])))
        counts[index[key]] += 1
    return counts


def exposed(attacker: WeightedAttacker, counts: np.ndarray, min_cell: int) -> list[tuple[Any, ...]]:
    """Withheld counts of 1 to min_cell - 1 people pinned inside fewer than ceil(min_cell / 2) people
    while ruling out zero: (value, low, high, row, part)."""
    protection = math.ceil(min_cell / 2)
    out = []
    for columns, (low, high) in attacker.intervals().items():
        value = float(counts[list(columns)].sum())
        if 1 <= value < min_cell and high - low < protection - 1e-6 and low > 1e-6:
            row, part = attacker.targets[columns][0]
            out.append((value, low, high, row, part))
    return out
