"""A release's `--where` that the reader's model cannot read as value lists (`g <> 'a'`, `g > 3 OR s =
'x'`), turned into the model cells it keeps, so that the release is audited jointly with the other
releases of its input (a difference of totals is then seen) rather than as a population of its own.

Only a filter whose every column is a group expression of the releases being linked can be turned so:
the expression (parsed and allowlisted again, `misflag.io.parse_expression`) is evaluated in DuckDB over
every combination of the distinct values of those columns in the data (the model's cells, whether or not
people hold them), labelled as the audit labels groups (`CAST(... AS VARCHAR)`, NULL as a missing value).
SQL's three-valued logic decides: a combination the filter makes NULL (`g <> 'a'` where g is NULL) is not
kept. Anything else (a column no release groups by, `score > 0.5`; an input file not at hand) stays
unlinked, and `decisions._protect` refuses it beside a release that withholds a count."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from misflag._text import shown
from misflag.disclosure._model import Key, Output
from misflag.errors import InputError, literal

#: Most value combinations a filter is evaluated over (the product of its columns' distinct values): past
#: it the cells would not fit the reader's model either (`_model.MAX_UNKNOWNS`), so the filter stays unlinked.
MAX_COMBINATIONS = 100_000
#: What an output's population is, after its input's digest, when its --where was not read as value lists.
UNLINKED = "|"


def unlinked_where(output: Output, digest: str) -> str | None:
    """The --where of an output of input `digest` that the reader holds as a population of its own
    (`_load.bundle_output`: digest|where), else None."""
    head, bar, where = output.population.partition(UNLINKED)
    return where if bar and head == digest and where else None


class WhereCells:
    """The cells each unlinked --where keeps, evaluated on the input file `source` (whose sha256 must be
    `digest`: the releases' data) once per filter; no file (None): nothing is linked."""

    def __init__(self, source: Path | None, digest: str) -> None:
        self.source, self.digest = source, digest
        self._kept: dict[tuple[str, tuple[str, ...]], tuple[tuple[str, ...], frozenset[Key]] | None] = {}

    def link(self, output: Output, groups: Iterable[str]) -> Output:
        """`output` linked to the other outputs of its input by the cells its --where keeps, where every
        column of the filter is one of `groups` (the group expressions of the releases linked); else the
        output unchanged (still a population of its own)."""
        where = unlinked_where(output, self.digest)
        if where is None or self.source is None:
            return output
        named = tuple(dict.fromkeys(groups))
        if (where, named) not in self._kept:
            self._kept[(where, named)] = _kept_cells(self.source, self.digest, where, named)
        kept = self._kept[(where, named)]
        if kept is None:
            return output
        return replace(output, population=self.digest, cells=kept)


def _kept_cells(
    source: Path, digest: str, where: str, groups: tuple[str, ...]
) -> tuple[tuple[str, ...], frozenset[Key]] | None:
    """(the group expressions the filter reads, the combinations of their labels it keeps), or None where
    a column of the filter is no plain group expression or the combinations are too many."""
    from sqlglot import expressions as exp

    from misflag.engine import get_engine
    from misflag.io import check_expression, load_input, parse_expression

    engine = get_engine("duckdb")
    try:
        info = load_input(engine, source)
        if info.sha256 != digest:
            raise InputError(
                "the input changed while it was audited; nothing was recorded: run the audit again"
            )
        parsed = parse_expression(where, info.columns, "{where}")  # the allowlist, once more
        by_column: dict[str, str] = {}
        for group in groups:
            by_column.setdefault(check_expression(group, info.columns, "{groups}"), group)
        columns = sorted({node.sql(dialect="duckdb") for node in parsed.tree.find_all(exp.Column)})
        if not columns or any(column not in by_column for column in columns):
            return None
        sizes = [
            int(
                engine.sql(f"SELECT COUNT(*) AS n FROM (SELECT DISTINCT {c} FROM input) AS d")
                .column("n")[0]
                .as_py()
            )
            for c in columns
        ]
        if math.prod(sizes) > MAX_COMBINATIONS:
            return None
        values = " CROSS JOIN ".join(
            f"(SELECT DISTINCT {c} FROM input) AS v{i}" for i, c in enumerate(columns)
        )
        labels = ", ".join(f"CAST({c} AS VARCHAR) AS k{i}" for i, c in enumerate(columns))
        table = engine.sql(f"SELECT {labels} FROM {values} WHERE ({parsed.sql()})")
    finally:
        engine.close()
    found = zip(*(table.column(f"k{i}").to_pylist() for i in range(len(columns))), strict=True)
    return tuple(by_column[c] for c in columns), frozenset(tuple(cell) for cell in found)


def refuse_unlinked(
    outputs: Sequence[Output],
    withholding: Sequence[str],
    groups: Sequence[str],
    this: tuple[str, str],
    missing: str | None,
) -> None:
    """InputError where one input's releases (`outputs`, linked as far as they could be) hold a --where
    still unlinked (a population of its own, `unlinked_where`) beside a release that withholds counts
    (`withholding`, by name): a difference of their totals could give those counts back. `this`: the
    name of the output being audited and how a message calls it; `missing`: what to pass where the
    input file, on which a filter is linked, was not given (None: it was)."""
    unlinked = [(o.name, o.population.partition(UNLINKED)[2]) for o in outputs if UNLINKED in o.population]
    if unlinked and withholding and len(outputs) > 1:
        raise InputError(_refusal(unlinked, withholding, tuple(groups), this, missing))


def _refusal(
    unlinked: list[tuple[str, str]],
    withholding: Sequence[str],
    groups: tuple[str, ...],
    this: tuple[str, str],
    missing: str | None,
) -> str:
    """One line: the release whose --where is not linked, the one withholding counts beside it, the fix
    (the input file first, where it was not given: without it no filter is linked)."""
    name, where = next(((n, w) for n, w in unlinked if n == this[0]), unlinked[0])
    other = next((n for n in withholding if n != name), withholding[0])
    whose, beside = (
        this[1] if n == this[0] else f"earlier release {literal(shown(n))}" for n in (name, other)
    )
    head = (
        f"the --where {literal(shown(where))} of {whose} cannot be linked to the other releases of this input"
    )
    gap = f"{beside} withholds counts that a difference of totals would give back"
    named = ", ".join(groups)
    if missing is not None:
        return (
            f"{head} without the input file, which was not given, and {gap}: {missing}; a filter over "
            f"the releases' group expressions {named} is then linked, any other refused"
        )
    return (
        f"{head} in the release register (only a filter over their group expressions {named} can), and "
        f'{gap}; filter by values (--where "{groups[0] if groups else "group"} IN (...)") or use a '
        "separate register"
    )
