"""The cell table as arrays: the cell query's result (decisions._counts) sorted, its flags, truth and
weights validated, and the counts of counts mode checked.

Everything after this (metrics, intervals, disparities) works on the cells, never on rows again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from misflag._text import clipped
from misflag.decisions._counts import COUNT_CHECKS, CheckedSpec, cell_sql, count_number
from misflag.decisions._spec import DecisionSpec
from misflag.engine import Engine, arrow_columns
from misflag.errors import InputError, literal
from misflag.result import JOIN

if TYPE_CHECKING:  # a cell table comes as numpy columns (Engine.numpy); Arrow from other callers
    import pyarrow as pa


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

    @cached_property
    def strata(self) -> Strata:
        """The design strata of the weights, computed once per cell table and shared by every metric."""
        audited = self.truth >= 0
        values, index = np.unique(np.where(audited, self.weight, 0.0), return_inverse=True)
        rows = np.bincount(index, np.where(audited, self.count.astype(float), 0.0), minlength=values.size)
        fpc = np.clip(1 - 1 / np.where(values > 0, values, 1.0), 0.0, 1.0)
        return Strata(
            audited=audited,
            values=values,
            index=index.astype(np.int32 if values.size < 2**31 else np.int64),
            rows=rows,
            fpc=np.where(values > 0, fpc, 0.0),
        )


@dataclass(frozen=True)
class Strata:
    """Strata of an audit sample: the distinct weights of audited cells (stratum 0.0: truth unknown)."""

    audited: np.ndarray  # (cells,) truth known
    values: np.ndarray  # (strata,) distinct weights, ascending
    index: np.ndarray  # (cells,) the cell's stratum
    rows: np.ndarray  # (strata,) audited rows in the stratum, as floats
    fpc: np.ndarray  # (strata,) finite-population correction 1 - 1/weight; 0 for the unaudited stratum


def group_keys(
    columns: dict[str, np.ndarray], groups: int, missing_values: tuple[str, ...]
) -> tuple[np.ndarray, ...]:
    """The group key columns of a cell table's columns; values in `missing_values` read as missing (None)."""
    labels = tuple(np.array(columns[f"g{i}"], dtype=object) for i in range(groups))
    for column in labels:
        for value in missing_values:
            column[column == value] = None
    return labels


#: counts mode: what each of decisions._counts.COUNT_CHECKS finds wrong with a row's count
_COUNT_PROBLEMS = {
    "bad_null": "is NULL or not a number",
    "bad_infinite": "is not finite (NaN or infinite)",
    "bad_negative": "is negative",
    "bad_fraction": "is not a whole number",
}


def _sorted_columns(table: Mapping[str, np.ndarray] | pa.Table) -> dict[str, np.ndarray]:
    """The cell table as arrays (text as objects, integers as int64, other numbers as floats with NULL
    as NaN), rows in a fixed order, so a seeded bootstrap draws the same resamples on every engine:
    every column ascending, NaN after the numbers, NULL last.

    The table comes as `Engine.numpy` gives it (an Arrow table is read the same way first). Sorted here
    rather than by Arrow: the command line loads no pyarrow, and pyarrow.compute costs a fifth of a
    second to import. One stable numpy `lexsort` orders the rows on per-column keys, so a table of
    millions of cells (a weight distinct on every row) costs numpy time, not a Python sort of tuples.
    """
    columns = table if isinstance(table, Mapping) else arrow_columns(table)
    arrays: dict[str, np.ndarray] = {}
    keys: list[np.ndarray] = []
    for name, column in columns.items():
        values, absent = _unmasked(column)
        if values.dtype == object and all(isinstance(v, str) for v in values[~absent].tolist()):
            texts = [
                None if null else value for value, null in zip(values.tolist(), absent.tolist(), strict=True)
            ]
            arrays[name] = np.array(texts, dtype=object)
            keys.append(_text_ranks(texts))
            continue
        numbers = np.where(absent, np.nan, column_numbers(values, absent))
        arrays[name] = values.astype(np.int64) if values.dtype.kind in "iu" else numbers
        missing = np.isnan(numbers)
        if missing.any():  # a key that is constant would not change the order
            keys.append(np.where(absent, 2, missing.astype(np.int8)))  # number, NaN, NULL
            numbers = np.where(missing, 0.0, numbers)
        keys.append(numbers)
    order = np.lexsort(keys[::-1])  # lexsort's primary key is its last
    keys.clear()  # each column is reordered in turn, so only one copy is held at a time
    for name, array in arrays.items():
        arrays[name] = array[order]
    return arrays


def _unmasked(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A column's values and its NULL mask (a plain array has none; numpy.ma is loaded only by a
    masked one, which the engine made)."""
    if type(column) is np.ndarray:
        return column, np.zeros(column.shape, dtype=bool)
    return np.ma.getdata(column), np.ma.getmaskarray(column)


def _text_ranks(values: list[str | None]) -> np.ndarray:
    """Each text value's rank among the column's distinct values (Python's string order), NULL last."""
    rank = {value: index for index, value in enumerate(sorted(v for v in set(values) if v is not None))}
    null = len(rank)
    return np.fromiter((null if v is None else rank[v] for v in values), dtype=np.int64, count=len(values))


def column_numbers(values: np.ndarray, absent: np.ndarray) -> np.ndarray:
    """A numeric cell column as floats (undefined under NULL): numbers and booleans converted by numpy,
    other objects (decimals) one by one."""
    if values.dtype != object:
        return values.astype(float)
    return np.array(
        [np.nan if null else v for v, null in zip(values.tolist(), absent.tolist(), strict=True)], dtype=float
    )


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
    return cells_of(engine.numpy(cell_sql(checked)), spec, checked)


def cells_of(table: Mapping[str, np.ndarray] | pa.Table, spec: DecisionSpec, checked: CheckedSpec) -> Cells:
    """The cell query's result (`decisions._counts.cell_sql`) as sorted arrays, flags, truth and weights
    validated (InputError naming the problem)."""
    columns = _sorted_columns(table)
    if checked.count is not None:
        columns = _people(columns)
    count = columns["n"]
    if count.size == 0 or count.sum() == 0:
        raise InputError("no rows are left to audit (is {where} filtering out everything?)")
    flags = np.column_stack([columns[f"s{i}"] for i in range(len(checked.stages))])
    for i, (name, _) in enumerate(spec.pipeline):
        option = "{flag}" if spec.flag is not None else f"{{stages}} {literal(clipped(name))}"
        _check_binary(flags[:, i], count, option, allow_missing=False)
    truth = columns["t"]
    _check_binary(truth, count, "{truth}", allow_missing=True)
    unknown = np.isnan(truth)  # without {weight}: truth missing, audited by misflag.decisions._missing
    weight = columns["w"]
    bad_weight = ~unknown & ~(np.isfinite(weight) & (weight > 0))  # NaN, inf and <= 0 are refused
    if bad_weight.any():
        rows = int(count[bad_weight].sum())
        raise InputError(
            f"{{weight}} must be a positive number wherever truth is known; {rows:,} row(s) are not"
        )
    if not (~unknown).any() and checked.count is None:  # counts mode: a table of selections only
        raise InputError("{truth} is unknown for every row; nothing can be said about errors")
    return Cells(
        keys=group_keys(columns, len(checked.groups), spec.missing_values),
        flags=flags.astype(np.int8),
        truth=np.where(unknown, -1, truth).astype(np.int8),
        weight=np.where(unknown, 0.0, weight),
        count=count,
    )


def _people(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Counts mode: refuse invalid counts (one line: how many input rows, what is wrong), then keep the
    cells that stand for someone, with whole counts, exactly as if each count were that many rows."""
    for name, problem in _COUNT_PROBLEMS.items():
        rows = int(np.nansum(columns[name]))
        if rows:
            raise InputError(
                f"{{count}} {problem} in {rows:,} input row(s); each row's count must be a whole number "
                "of people, 0 or more"
            )
    count = columns["n"]
    if count.size and float(count.max()) >= 2**53:
        raise InputError("{count} adds up to more than 2**53 people in one cell; the counts cannot be exact")
    keep = count > 0
    kept = {name: values[keep] for name, values in columns.items() if name not in COUNT_CHECKS}
    kept["n"] = kept["n"].astype(np.int64)
    return kept


def margin_problem(engine: Engine, checked: CheckedSpec) -> str | None:
    """One line when a published margin disagrees with the counts it should total, else None.

    Each row's margin is the published total of its group (every group expression together); rows of
    one group must agree on it, and their counts must add up to it. The line names how many groups
    fail and one of them, never a count (a withheld group's size must not leak through a warning).
    """
    if checked.margin is None:
        return None
    keys = [f"({expr})" for expr in checked.groups]
    margin = f"TRY_CAST(({checked.margin}) AS DOUBLE)"
    label = (
        f" || '{JOIN}' || ".join(f"COALESCE(CAST({key} AS VARCHAR), '(missing)')" for key in keys) or "'all'"
    )
    grouped = f"GROUP BY {', '.join(keys)}" if keys else ""
    found = engine.sql(
        f"SELECT {label} AS label, SUM({count_number(checked)}) AS people, MIN({margin}) AS low, "
        f"MAX({margin}) AS high, COUNT({margin}) AS given, COUNT(*) AS rows "
        f"FROM input {f'WHERE ({checked.where})' if checked.where else ''} {grouped}"
    ).to_pylist()
    wrong = sorted(
        str(r["label"])
        for r in found
        if r["given"] != r["rows"] or r["low"] != r["high"] or r["people"] != r["low"]
    )
    if not wrong:
        return None
    return (
        f"the counts of {len(wrong):,} of {len(found):,} group(s) do not add up to their published margin "
        f"(e.g. {wrong[0][:80]}): check the table's totals"
    )


def missing_mode(spec: DecisionSpec, cells: Cells) -> str | None:
    """The missing-truth mode of this audit: None for a weighted audit sample or when every truth is known
    (then no missing-truth module is loaded: `decisions._audit_cells`)."""
    if spec.weight is not None or not (cells.truth < 0).any():
        return None
    return spec.missing_truth or "bounds"
