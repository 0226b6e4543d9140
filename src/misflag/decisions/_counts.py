"""One SQL pass reduces the decision log to a cell table: group keys x stage flags x truth x weight -> count.

Everything after this (metrics, intervals, disparities) works on the cells, never on rows again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa

from misflag._arrow import buffer_values
from misflag.decisions._spec import DecisionSpec
from misflag.engine import Engine, quote_identifier
from misflag.errors import InputError
from misflag.io import check_expression, precheck_expression
from misflag.result import JOIN


@dataclass(frozen=True)
class CheckedSpec:
    """The spec's expressions after parsing and column checks, in misflag SQL."""

    groups: tuple[str, ...]
    stages: tuple[str, ...]
    truth: str
    weight: str | None
    where: str | None
    score: str | None
    count: str | None = None  # counts mode: how many people each input row stands for
    margin: str | None = None  # counts mode: the published total of each row's group
    strata: tuple[str, ...] = ()  # missing truth, mar: strata within which truth is missing at random


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


def check_spec(spec: DecisionSpec, columns: tuple[str, ...]) -> CheckedSpec:
    """Parse every expression of the spec against the input's columns (ExpressionError otherwise)."""
    return _each_expression(spec, lambda text, option: check_expression(text, columns, option))


def precheck_spec(spec: DecisionSpec) -> None:
    """Every expression's parse, allowlist and cost, with no input: run before the engine starts and the
    file is read, so a refused expression costs no start-up; `check_spec` adds the column names."""

    def precheck(text: str, option: str) -> str:
        precheck_expression(text, option)
        return text

    _each_expression(spec, precheck)


def _each_expression(spec: DecisionSpec, check: Callable[[str, str], str]) -> CheckedSpec:
    """`check(text, option)` over every expression of the spec, in the order the options are reported."""
    return CheckedSpec(
        groups=tuple(check(g, "{groups}") for g in spec.groups),
        stages=tuple(
            check(expr, "{flag}" if spec.flag is not None else f"{{stages}} {name}")
            for name, expr in spec.pipeline
        ),
        truth=check(spec.truth, "{truth}"),
        weight=check(spec.weight, "{weight}") if spec.weight else None,
        where=check(spec.where, "{where}") if spec.where else None,
        score=check(spec.score, "{score}") if spec.score else None,
        count=check(spec.count, "{count}") if spec.count else None,
        margin=check(spec.margin, "{margin}") if spec.margin else None,
        strata=tuple(check(expr, "{strata}") for expr in spec.strata),
    )


def group_select(checked: CheckedSpec) -> list[str]:
    """SQL select items for the group keys, as text; NULL stays NULL (a missing value, see _groups)."""
    return [f"CAST(({expr}) AS VARCHAR) AS g{i}" for i, expr in enumerate(checked.groups)]


def group_keys(
    columns: dict[str, np.ndarray], groups: int, missing_values: tuple[str, ...]
) -> tuple[np.ndarray, ...]:
    """The group key columns of a cell table's columns; values in `missing_values` read as missing (None)."""
    labels = tuple(np.array(columns[f"g{i}"], dtype=object) for i in range(groups))
    for column in labels:
        for value in missing_values:
            column[column == value] = None
    return labels


def where_clause(checked: CheckedSpec) -> str:
    """The rows an audit reads: those --where keeps and, in counts mode, those standing for someone.

    Only for queries run after `read_cells` has validated the counts (a NaN count would pass `> 0`).
    """
    conditions = [f"({checked.where})"] if checked.where else []
    conditions += [f"({_count_number(checked)}) > 0"] if checked.count else []
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


def people_sql(checked: CheckedSpec) -> str:
    """The SQL aggregate of how many people a group of input rows stands for (counts validated first)."""
    return f"CAST(SUM({_count_number(checked)}) AS BIGINT)" if checked.count else "COUNT(*)"


def _count_number(checked: CheckedSpec) -> str:
    return f"TRY_CAST(({checked.count}) AS DOUBLE)"


#: counts mode: input rows whose count is each kind of invalid, summed per cell by the cell query
_COUNT_CHECKS = {
    "bad_null": "c IS NULL",
    "bad_infinite": "NOT (c - c = 0)",
    "bad_negative": "c < 0",
    "bad_fraction": "c <> FLOOR(c)",
}
_COUNT_PROBLEMS = {
    "bad_null": "is NULL or not a number",
    "bad_infinite": "is not finite (NaN or infinite)",
    "bad_negative": "is negative",
    "bad_fraction": "is not a whole number",
}


def cell_sql(checked: CheckedSpec, table: str = "input") -> str:
    """The one aggregate query of the audit, in misflag SQL (transpiled per engine).

    The rows are grouped on the raw expression values first and cast afterwards, on the few groups:
    casting every row to text and double before grouping costs about half as much again. Without
    {weight}, every weight is 1, added after grouping.
    """
    raw = [f"({expr}) AS g{i}" for i, expr in enumerate(checked.groups)]
    raw += [f"({expr}) AS s{i}" for i, expr in enumerate(checked.stages)]
    raw.append(f"({checked.truth}) AS t")
    cast = [f"CAST(g{i} AS VARCHAR) AS g{i}" for i in range(len(checked.groups))]
    cast += [f"TRY_CAST(s{i} AS DOUBLE) AS s{i}" for i in range(len(checked.stages))]
    cast.append("TRY_CAST(t AS DOUBLE) AS t")
    if checked.weight:
        raw.append(f"({checked.weight}) AS w")
        cast.append("TRY_CAST(w AS DOUBLE) AS w")
    else:  # a constant is no grouping key: grouping on it cost a tenth of the scan
        cast.append("CAST(1.0 AS DOUBLE) AS w")
    positions = ", ".join(str(i + 1) for i in range(len(raw)))
    source = quote_identifier(table)
    filtered = f"WHERE ({checked.where})" if checked.where else ""
    if checked.count is None:
        inner = f"SELECT {', '.join(raw)}, COUNT(*) AS n FROM {source} {filtered} GROUP BY {positions}"
        cast.append("CAST(SUM(n) AS BIGINT) AS n")
    else:  # counts mode: sum the counts (as numbers, checked in read_cells) and tally invalid ones
        names = [item.rsplit(" AS ", 1)[1] for item in raw]
        counted = f"SELECT {', '.join(raw)}, {_count_number(checked)} AS c FROM {source} {filtered}"
        checks = [
            f"SUM(CASE WHEN {test} THEN 1 ELSE 0 END) AS {name}" for name, test in _COUNT_CHECKS.items()
        ]
        inner = (
            f"SELECT {', '.join(names)}, SUM(c) AS n, {', '.join(checks)} FROM ({counted}) AS counted "
            f"GROUP BY {positions}"
        )
        cast += ["SUM(n) AS n", *(f"SUM({name}) AS {name}" for name in _COUNT_CHECKS)]
    return f"SELECT {', '.join(cast)} FROM ({inner}) AS raw_cells GROUP BY {positions}"


def _sorted_columns(table: pa.Table) -> dict[str, np.ndarray]:
    """The cell table as arrays (text as objects, counts as integers, other numbers as floats with NULL
    as NaN), rows in a fixed order, so a seeded bootstrap draws the same resamples on every engine:
    every column ascending, NaN after the numbers, NULL last.

    Sorted here rather than by Arrow: pyarrow.compute costs a fifth of a second to import on every CLI
    run. One stable numpy `lexsort` orders the rows on per-column keys, so a table of millions of cells
    (a weight distinct on every row) costs numpy time, not a Python sort of tuples; numbers are read
    from Arrow's buffers, not as one Python object per cell.
    """
    arrays: dict[str, np.ndarray] = {}
    keys: list[np.ndarray] = []
    for name in table.column_names:
        kind = table.schema.field(name).type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            values = table.column(name).to_pylist()
            arrays[name] = np.array(values, dtype=object)
            keys.append(_text_ranks(values))
            continue
        numbers, absent = column_numbers(table.column(name))
        arrays[name] = numbers.astype(np.int64) if pa.types.is_integer(kind) else numbers
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


def _text_ranks(values: list[str | None]) -> np.ndarray:
    """Each text value's rank among the column's distinct values (Python's string order), NULL last."""
    rank = {value: index for index, value in enumerate(sorted(v for v in set(values) if v is not None))}
    null = len(rank)
    return np.fromiter((null if v is None else rank[v] for v in values), dtype=np.int64, count=len(values))


def column_numbers(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """A numeric cell column as floats (NULL as NaN) and its NULL mask.

    Fixed-width numbers are read from Arrow's buffers (`to_numpy` would import pandas); other types
    (booleans, decimals) go through Python objects.
    """
    values: list[np.ndarray] = []
    absent: list[np.ndarray] = []
    for chunk in column.chunks:
        if pa.types.is_integer(chunk.type) or pa.types.is_floating(chunk.type):
            stored, nulls = buffer_values(chunk)
            numbers = stored.astype(float)
        else:
            objects = chunk.to_pylist()
            nulls = np.array([v is None for v in objects], dtype=bool)
            numbers = np.array([np.nan if v is None else v for v in objects], dtype=float)
        values.append(np.where(nulls, np.nan, numbers))
        absent.append(nulls)
    if not values:
        return np.zeros(0), np.zeros(0, dtype=bool)
    return np.concatenate(values), np.concatenate(absent)


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
    columns = _sorted_columns(engine.sql(cell_sql(checked)))
    if checked.count is not None:
        columns = _people(columns)
    count = columns["n"]
    if count.size == 0 or count.sum() == 0:
        raise InputError("no rows are left to audit (is {where} filtering out everything?)")
    flags = np.column_stack([columns[f"s{i}"] for i in range(len(checked.stages))])
    for i, (name, _) in enumerate(spec.pipeline):
        option = "{flag}" if spec.flag is not None else f"{{stages}} {name}"
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
    kept = {name: values[keep] for name, values in columns.items() if name not in _COUNT_CHECKS}
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
        f"SELECT {label} AS label, SUM({_count_number(checked)}) AS people, MIN({margin}) AS low, "
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
