"""A release's `--where` that the reader's model cannot read as value lists (`g <> 'a'`, `g > 3 OR s =
'x'`), turned into the model cells it keeps, so that the release is audited jointly with the other
releases of its input (a difference of totals is then seen) rather than as a population of its own.

Only a filter whose every column is a group expression of the releases being linked can be turned so:
the expression (parsed and allowlisted again, `misflag.io.parse_expression`) is evaluated in DuckDB over
every combination of the distinct values of those columns in the data (the model's cells, whether or not
people hold them), labelled as the audit labels groups (`CAST(... AS VARCHAR)`, NULL as a missing value).
SQL's three-valued logic decides: a combination the filter makes NULL (`g <> 'a'` where g is NULL) is not
kept. Anything else (a column no release groups by, `score > 0.5`; an input file not at hand) stays
unlinked, and `decisions._protect` refuses it beside a release that withholds a count.

A filter reading a column of the truth or of a decision (`truth = 0`, `flag = 1`, even as value lists)
keeps people by their states: a reader knows that `flag = 1`'s n of a group is its tp + fp elsewhere,
which the model, whose group expressions are independent of the states, cannot hold (an LP reader with
that tie pinned a withheld count that the joint audit passed, tests/security/test_register_where_tied.py).
Such a filter is never linked (value lists included): it is a population of its own here."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from misflag._text import shown
from misflag.disclosure._model import Key, Output
from misflag.errors import InputError, literal
from misflag.io._plain_names import plain_name

if TYPE_CHECKING:
    from misflag.engine import Engine
    from misflag.io import InputInfo

#: Most value combinations a filter is evaluated over (the product of its columns' distinct values): past
#: it the cells would not fit the reader's model either (`_model.MAX_UNKNOWNS`), so the filter stays unlinked.
MAX_COMBINATIONS = 100_000
#: What an output's population is, after its input's digest, when its --where was not read as value lists.
UNLINKED = "|"
#: A double-quoted identifier as misflag renders a bare column (no quote inside)
_QUOTED = re.compile(r'"([^"]+)"')


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
        if where is None:
            tied = bool(output.restriction) and _tied(output, output.restriction)
            return _apart(output, self.digest) if tied else output
        if self.source is None or _tied(output, [where]):
            return output
        named = tuple(dict.fromkeys(groups))
        if (where, named) not in self._kept:
            self._kept[(where, named)] = _kept_cells(self.source, self.digest, where, named)
        kept = self._kept[(where, named)]
        if kept is None:
            return output
        return replace(output, population=self.digest, cells=kept)


def _apart(output: Output, digest: str) -> Output:
    """An output whose --where was read as value lists (of input `digest`) as a population of its own."""
    return replace(output, population=f"{digest}{UNLINKED}{output.where}", restriction={}, input_rows=None)


def _tied(output: Output, expressions: Iterable[str]) -> bool:
    """Whether `expressions` (a filter's) read a column that the output's truth or a stage (the flag, a
    score) reads; an expression that cannot be parsed counts as reading one."""
    read, named = _columns_of([output.truth, *output.stages.values()]), _columns_of(expressions)
    return read is None or named is None or not read.isdisjoint(named)


def tied_groups(output: Output) -> list[str]:
    """The output's group expressions that read a column its truth or a stage reads (`--group truth`,
    `--group "CASE WHEN flag = 1 ..."`): a reader knows each such group's people share a truth or a
    decision, a tie the reader's model does not hold (tests/security/test_group_truth_ties.py)."""
    return [group for group in output.groups if _tied(output, [group])]


def tied_expressions(output: Output) -> list[str]:
    """`tied_groups`, and the output's --where where it reads such a column too (`truth = 1`)."""
    where = [output.where] if output.where and _tied(output, [output.where]) else []
    return [*tied_groups(output), *where]


def _columns_of(expressions: Iterable[str]) -> set[str] | None:
    """The columns the SQL `expressions` read (names case-folded, as DuckDB matches them); None where one
    does not parse. A bare or double-quoted name is read without sqlglot (its import is a tenth of a
    second, and most options name a column as it is)."""
    names: set[str] = set()
    parsed = []
    for expression in expressions:
        quoted = _QUOTED.fullmatch(expression)
        if plain_name(expression) or quoted is not None:
            names.add((quoted.group(1) if quoted else expression).casefold())
        else:
            parsed.append(expression)
    if not parsed:
        return names
    import sqlglot
    from sqlglot import expressions as exp

    for expression in parsed:
        try:
            tree = sqlglot.parse_one(expression, read="duckdb")
        except sqlglot.errors.ParseError:
            return None
        names |= {column.name.casefold() for column in tree.find_all(exp.Column)}
    return names


@contextmanager
def audited_input(source: Path, digest: str) -> Iterator[tuple[Engine, InputInfo]]:
    """The embedded engine with `source` loaded as `input`, refused (InputError) unless the file is still
    the one of sha256 `digest` that was audited; closed on leaving."""
    from misflag.engine import get_engine
    from misflag.io import load_input

    engine = get_engine("duckdb")
    try:
        info = load_input(engine, source)
        if info.sha256 != digest:
            raise InputError(
                "the input changed while it was audited; nothing was recorded: run the audit again"
            )
        yield engine, info
    finally:
        engine.close()


def _kept_cells(
    source: Path, digest: str, where: str, groups: tuple[str, ...]
) -> tuple[tuple[str, ...], frozenset[Key]] | None:
    """(the group expressions the filter reads, the combinations of their labels it keeps), or None where
    a column of the filter is no plain group expression or the combinations are too many. The filter and
    the group expressions (a bundle's: anyone's text) are parsed and allowlisted before the engine starts
    and the file is read, so a refused one costs its parse; their columns are checked once it is read."""
    from sqlglot import expressions as exp

    from misflag.io import check_expression, parse_expression, precheck_expression

    for text, option in [(where, "{where}"), *((group, "{groups}") for group in groups)]:
        precheck_expression(text, option)
    with audited_input(source, digest) as (engine, info):
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
    unlinked = [o for o in outputs if UNLINKED in o.population]
    if unlinked and withholding and len(outputs) > 1:
        raise InputError(_refusal(unlinked, withholding, tuple(groups), this, missing))


def _refusal(
    unlinked: list[Output],
    withholding: Sequence[str],
    groups: tuple[str, ...],
    this: tuple[str, str],
    missing: str | None,
) -> str:
    """One line: the release whose --where is not linked, the one withholding counts beside it, the fix
    (for a filter on the truth or a decision, that none is linked; else the input file first, where it
    was not given: without it no filter is linked)."""
    output = next((o for o in unlinked if o.name == this[0]), unlinked[0])
    where = output.population.partition(UNLINKED)[2]
    other = next((n for n in withholding if n != output.name), withholding[0])
    whose, beside = (
        this[1] if n == this[0] else f"earlier release {literal(shown(n))}" for n in (output.name, other)
    )
    head = (
        f"the --where {literal(shown(where))} of {whose} cannot be linked to the other releases of this input"
    )
    gap = f"{beside} withholds counts that a difference of totals would give back"
    named = ", ".join(groups)
    fix = (
        f'filter by values (--where "{groups[0] if groups else "group"} IN (...)") or use a separate register'
    )
    if _tied(output, [where]):
        return (
            f"{head} in the release register (it reads a column of the truth or of a decision, so it keeps "
            f"people by what the figures count: no such filter is linked), and {gap}; {fix}"
        )
    if missing is not None:
        return (
            f"{head} without the input file, which was not given, and {gap}: {missing}; a filter over "
            f"the releases' group expressions {named} is then linked, any other refused"
        )
    return (
        f"{head} in the release register (only a filter over their group expressions {named} can), and "
        f"{gap}; {fix}"
    )
