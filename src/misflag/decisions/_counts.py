"""One SQL pass reduces the decision log to a cell table: group keys x stage flags x truth x weight -> count.

Everything after this (metrics, intervals, disparities) works on the cells, never on rows again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from misflag.decisions._spec import DecisionSpec
from misflag.engine import Engine, quote_identifier
from misflag.errors import InputError
from misflag.io import check_expression

MISSING_GROUP = "(missing)"


@dataclass(frozen=True)
class CheckedSpec:
    """The spec's expressions after parsing and column checks, in misflag SQL."""

    groups: tuple[str, ...]
    stages: tuple[str, ...]
    truth: str
    weight: str | None
    where: str | None
    score: str | None


@dataclass(frozen=True)
class Cells:
    """The count table as arrays: one entry per distinct (groups, stage flags, truth, weight)."""

    keys: tuple[np.ndarray, ...]  # one array of group labels per group expression
    flags: np.ndarray  # (cells, stages) of 0/1
    truth: np.ndarray  # 1, 0, or -1 for rows outside the audit sample (truth unknown)
    weight: np.ndarray  # inverse inclusion probability; 1 without --weight; 0 where truth unknown
    count: np.ndarray  # rows in the cell

    @property
    def total(self) -> int:
        return int(self.count.sum())


def check_spec(spec: DecisionSpec, columns: tuple[str, ...]) -> CheckedSpec:
    """Parse every expression of the spec against the input's columns (ExpressionError otherwise)."""
    return CheckedSpec(
        groups=tuple(check_expression(g, columns, "--group") for g in spec.groups),
        stages=tuple(
            check_expression(expr, columns, "--flag" if spec.flag is not None else f"--stage {name}")
            for name, expr in spec.pipeline
        ),
        truth=check_expression(spec.truth, columns, "--truth"),
        weight=check_expression(spec.weight, columns, "--weight") if spec.weight else None,
        where=check_expression(spec.where, columns, "--where") if spec.where else None,
        score=check_expression(spec.score, columns, "--score") if spec.score else None,
    )


def group_select(checked: CheckedSpec) -> list[str]:
    """SQL select items for the group keys (NULL becomes an explicit '(missing)' group)."""
    return [
        f"COALESCE(CAST(({expr}) AS VARCHAR), '{MISSING_GROUP}') AS g{i}"
        for i, expr in enumerate(checked.groups)
    ]


def where_clause(checked: CheckedSpec) -> str:
    return f"WHERE ({checked.where})" if checked.where else ""


def cell_sql(checked: CheckedSpec, table: str = "input") -> str:
    """The one aggregate query of the audit, in misflag SQL (transpiled per engine)."""
    items = group_select(checked)
    items += [f"TRY_CAST(({expr}) AS DOUBLE) AS s{i}" for i, expr in enumerate(checked.stages)]
    items.append(f"TRY_CAST(({checked.truth}) AS DOUBLE) AS t")
    items.append(f"TRY_CAST(({checked.weight}) AS DOUBLE) AS w" if checked.weight else "1.0 AS w")
    items.append("COUNT(*) AS n")
    positions = ", ".join(str(i + 1) for i in range(len(items) - 1))
    return f"SELECT {', '.join(items)} FROM {quote_identifier(table)} {where_clause(checked)} GROUP BY {positions}"


def sort_cells(table: pa.Table) -> pa.Table:
    """Cells in a fixed order, so a seeded bootstrap draws the same resamples on every engine."""
    return table.sort_by([(name, "ascending") for name in table.column_names])


def _column(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=float)


def _check_binary(values: np.ndarray, count: np.ndarray, option: str, allow_missing: bool) -> None:
    missing = np.isnan(values)
    if missing.any() and not allow_missing:
        rows = int(count[missing].sum())
        raise InputError(
            f"{option} is NULL, NaN or not a number in {rows:,} row(s); it must be 0/1 or true/false"
        )
    bad = ~missing & (values != 0) & (values != 1)
    if bad.any():
        example = values[bad][0]
        rows = int(count[bad].sum())
        raise InputError(
            f"{option} must be 0/1 or true/false; found the value {example:g} in {rows:,} row(s)"
        )


def read_cells(engine: Engine, spec: DecisionSpec, checked: CheckedSpec) -> Cells:
    """Run the cell query and validate flags, truth and weights (InputError naming the problem)."""
    table = sort_cells(engine.sql(cell_sql(checked)))
    count = np.asarray(table.column("n").to_numpy(zero_copy_only=False), dtype=np.int64)
    if count.size == 0 or count.sum() == 0:
        raise InputError("no rows are left to audit (is --where filtering out everything?)")
    flags = np.column_stack([_column(table, f"s{i}") for i in range(len(checked.stages))])
    for i, (name, _) in enumerate(spec.pipeline):
        option = "--flag" if spec.flag is not None else f"--stage {name}"
        _check_binary(flags[:, i], count, option, allow_missing=False)
    truth = _column(table, "t")
    _check_binary(truth, count, "--truth", allow_missing=True)
    unknown = np.isnan(truth)
    if unknown.any() and not checked.weight:
        rows = int(count[unknown].sum())
        raise InputError(
            f"--truth is NULL or NaN in {rows:,} row(s); if truth is known only for an audit sample give "
            "--weight (inverse inclusion probability, NULL outside the sample), else filter with --where"
        )
    weight = _column(table, "w")
    bad_weight = ~unknown & (np.isnan(weight) | (weight <= 0))
    if bad_weight.any():
        rows = int(count[bad_weight].sum())
        raise InputError(
            f"--weight must be a positive number wherever truth is known; {rows:,} row(s) are not"
        )
    if not (~unknown).any():
        raise InputError("--truth is unknown for every row; nothing can be said about errors")
    keys = tuple(
        np.asarray(table.column(f"g{i}").to_pylist(), dtype=object) for i in range(len(checked.groups))
    )
    return Cells(
        keys=keys,
        flags=flags.astype(np.int8),
        truth=np.where(unknown, -1, truth).astype(np.int8),
        weight=np.where(unknown, 0.0, weight),
        count=count,
    )
