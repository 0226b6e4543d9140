"""The decision audit's SQL: the spec's expressions checked against the input's columns, and the one
aggregate query that reduces the log to a cell table (group keys x stage flags x truth x weight -> count).

Text only, no numpy or pyarrow: the command line starts the cell query as soon as it is known and loads
those beside the scan (`decisions._audit`); `decisions._cells` reads the query's result into arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from misflag.decisions._spec import DecisionSpec
from misflag.engine import quote_identifier
from misflag.io import check_expression, precheck_expression


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


def where_clause(checked: CheckedSpec) -> str:
    """The rows an audit reads: those --where keeps and, in counts mode, those standing for someone.

    Only for queries run after `decisions._cells` has validated the counts (a NaN count would pass `> 0`).
    """
    conditions = [f"({checked.where})"] if checked.where else []
    conditions += [f"({count_number(checked)}) > 0"] if checked.count else []
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


def people_sql(checked: CheckedSpec) -> str:
    """The SQL aggregate of how many people a group of input rows stands for (counts validated first)."""
    return f"CAST(SUM({count_number(checked)}) AS BIGINT)" if checked.count else "COUNT(*)"


def count_number(checked: CheckedSpec) -> str:
    """Counts mode: the SQL of a row's count as a number (NULL where it is not one)."""
    return f"TRY_CAST(({checked.count}) AS DOUBLE)"


#: counts mode: input rows whose count is each kind of invalid, summed per cell by the cell query
COUNT_CHECKS = {
    "bad_null": "c IS NULL",
    "bad_infinite": "NOT (c - c = 0)",
    "bad_negative": "c < 0",
    "bad_fraction": "c <> FLOOR(c)",
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
    else:  # counts mode: sum the counts (as numbers, checked in decisions._cells) and tally invalid ones
        names = [item.rsplit(" AS ", 1)[1] for item in raw]
        counted = f"SELECT {', '.join(raw)}, {count_number(checked)} AS c FROM {source} {filtered}"
        checks = [f"SUM(CASE WHEN {test} THEN 1 ELSE 0 END) AS {name}" for name, test in COUNT_CHECKS.items()]
        inner = (
            f"SELECT {', '.join(names)}, SUM(c) AS n, {', '.join(checks)} FROM ({counted}) AS counted "
            f"GROUP BY {positions}"
        )
        cast += ["SUM(n) AS n", *(f"SUM({name}) AS {name}" for name in COUNT_CHECKS)]
    return f"SELECT {', '.join(cast)} FROM ({inner}) AS raw_cells GROUP BY {positions}"
