"""Which combinations of the releases' group expressions, truth and decisions hold people in the input,
and what of it a reader can tell: known zeros of the reader's model (`known_zeros`).

The model takes its outputs' group expressions as crossed (`_model.Universe`): any combination of their
values may hold people. A reader who sees that one grouping is nested in another (s = g || flag, whose
labels a0 and a1 are g = a's people, each with one flag) knows better, and subtracts: `--group g`
withholding a, then `--group s` filtered to everyone outside a, gave a's count back
(tests/security/test_register_nested_groups.py). The census is the distinct (group labels, truth,
flags) of the input, evaluated as the audit evaluates them (labels `CAST(... AS VARCHAR)`, NULL a missing
value; truth and flags as numbers, truth NULL: not audited). The truth and the flags are in it so that a
group column that follows a flag (or the truth) is seen as such, though no expression names the flag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from misflag.disclosure._model import Universe

#: A double-quoted plain name, as misflag renders a bare column in a bundle's expressions
_QUOTED = re.compile(r'"([A-Za-z_][A-Za-z0-9_]*)"')
#: Most combinations a census keeps: past it the model could not hold them either (`_model.MAX_UNKNOWNS`),
#: and no combination is taken as known to be empty.
MAX_COMBINATIONS = 400_000


@dataclass(frozen=True)
class Census:
    """The combinations that hold people: per group expression its labels, the truth (1, 0, -1 not
    audited) and per stage expression its flag (0, 1), one entry per combination."""

    groups: tuple[str, ...]
    stages: tuple[str, ...]
    labels: tuple[tuple[str | None, ...], ...]  # per group expression, one label per combination
    truth: np.ndarray
    flags: np.ndarray  # (combinations, stages)


def take_census(
    source: Path, digest: str, groups: tuple[str, ...], truth: str, stages: tuple[str, ...]
) -> Census | None:
    """The distinct combinations of `groups`, `truth` and `stages` (expressions, allowlisted again) in the
    input file `source` of sha256 `digest`; None where they are too many, or where a truth or a flag is
    not 0, 1 (or, for the truth, missing), which the audit itself refuses."""
    from misflag.disclosure._where_cells import audited_input
    from misflag.io import check_expression
    from misflag.io._plain_names import plain_name

    with audited_input(source, digest) as (engine, info):
        columns = info.columns

        def sql(expression: str, option: str) -> str:
            """The expression allowlisted again; a bundle's `"name"` read as the bare name (no parser)."""
            quoted = _QUOTED.fullmatch(expression)
            plain = quoted is not None and plain_name(quoted.group(1))
            return check_expression(quoted.group(1) if quoted and plain else expression, columns, option)

        parts = [f"CAST(({sql(g, '{groups}')}) AS VARCHAR) AS k{i}" for i, g in enumerate(groups)]
        parts.append(f"TRY_CAST(({sql(truth, '{truth}')}) AS DOUBLE) AS t")
        parts += [f"TRY_CAST(({sql(s, '{flag}')}) AS DOUBLE) AS f{j}" for j, s in enumerate(stages)]
        table = engine.sql(f"SELECT DISTINCT {', '.join(parts)} FROM input LIMIT {MAX_COMBINATIONS + 1}")
    if table.num_rows > MAX_COMBINATIONS:
        return None
    # to_pylist, not to_numpy: a column's to_numpy imports pandas (a second and more on a cold start)
    found = np.array(table.column("t").to_pylist(), dtype=float)  # None (NULL) as NaN
    flags = np.array([table.column(f"f{j}").to_pylist() for j in range(len(stages))], dtype=float).reshape(
        len(stages), table.num_rows
    )
    if not np.isin(found[~np.isnan(found)], (0.0, 1.0)).all() or not np.isin(flags, (0.0, 1.0)).all():
        return None  # NaN flags fail too: the audit refuses a missing decision
    labels = tuple(tuple(table.column(f"k{i}").to_pylist()) for i in range(len(groups)))
    truth_codes = np.where(np.isnan(found), -1, found).astype(np.int8)
    return Census(groups, stages, labels, truth_codes, flags.T.astype(np.int8))


def known_zeros(universe: Universe, census: Census) -> np.ndarray | None:
    """The unknowns of `universe` that no one holds (a boolean mask), by what a reader can tell apart:
    a combination of group labels the census does not hold (an unlisted label in its expression's "other
    value" slot), and, for a group expression that follows the truth or a flag (each of its labels holds
    one value of it, not all the same: s = g || flag), a label beside another value of it. Which
    (group, truth, flag) combinations are empty is not otherwise known to a reader (that group a holds
    no positive is a fact of the data, not of its labels): those are not zeros. None where a value a
    group's rows list is not in the census (labels not evaluated as the audit's): nothing is taken then."""
    codes: list[tuple[int, np.ndarray, np.ndarray]] = []  # (attribute, label codes, raw label ids)
    for i, expression in enumerate(census.groups):
        if expression not in universe.attributes:
            continue
        a = universe.attributes.index(expression)
        index = {value: k for k, value in enumerate(universe.values[a])}
        size = census.truth.size
        code = np.fromiter((index.get(v, len(index)) for v in census.labels[i]), np.int64, size)
        if not np.isin([index[v] for v in universe.listed.get(expression, ())], code).all():
            return None
        raw: dict[str | None, int] = {}
        ids = np.fromiter((raw.setdefault(v, len(raw)) for v in census.labels[i]), np.int64, size)
        codes.append((a, code, ids))
    found, cells = np.zeros(census.truth.size, dtype=np.int64), np.zeros(universe.cells, dtype=np.int64)
    for a, code, _ in codes:
        width = len(universe.values[a]) + 1
        found, cells = found * width + code, cells * width + universe.coords[:, a]
    zero = np.repeat(~np.isin(cells, found), universe.truth.size)  # unknown = cell x states + state
    states = [(1 - census.truth.astype(np.int64), 1 - universe.truth.astype(np.int64), 3)]  # 1, 0, -1
    states += [
        (census.flags[:, j].astype(np.int64), universe.flags[:, universe.stages.index(stage)], 2)
        for j, stage in enumerate(census.stages)
        if stage in universe.stages
    ]
    for a, code, ids in codes:
        for theirs, mine, width in states:
            pairs = np.unique(ids * width + theirs)
            if np.unique(pairs // width).size < pairs.size or np.unique(pairs % width).size < 2:
                continue  # a label with two values of it, or one value for every label: not tied
            allowed = np.unique(code * width + theirs)
            every = universe.coords[:, a][:, None] * width + mine[None, :]
            zero |= ~np.isin(every.ravel(), allowed)
    return zero
