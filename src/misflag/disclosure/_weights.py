"""The audit-sample weights a reader can work out from an output's metadata, per state of a person.

A weighted rate is sum(w x numerator) / sum(w x denominator) over the audited people. Where the weight
expression (published in the metadata) depends on nothing but the stage expressions and the truth
expression and the group expressions (also published), e.g. `CASE WHEN flag = 1 THEN 1 ELSE 3 END` for
strata that follow the flag, strata by a group's values, or a constant, the reader knows every audited
person's weight from their group and state, and each weighted rate is a linear equation over counts of
people. Any other weight expression (a weight column, strata by a column no published expression stands
for) is taken as unknown to the reader (docs/disclosure.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from typing import Any

#: sqlglot node names a derivable weight expression may contain once the stage and truth expressions are
#: replaced: arithmetic, comparisons, CASE/IF and casts over literals (no function, no column, no query)
ALLOWED = frozenset(
    {
        "Literal", "Boolean", "Null", "Paren", "Neg", "Not", "And", "Or", "Add", "Sub", "Mul", "Div",
        "EQ", "NEQ", "GT", "GTE", "LT", "LTE", "Is", "In", "Case", "If", "Cast", "TryCast", "DataType",
        "Column", "Identifier",
    }
)  # fmt: skip


@dataclass(frozen=True)
class StateWeights:
    """An audited person's weight as the reader works it out: `sql` over placeholders for the values of
    `groups` (positions among the output's group expressions; values as text), the flags of `stages`
    (expressions) and the truth (1 or 0) when `uses_truth`."""

    sql: str
    stages: tuple[str, ...]
    groups: tuple[int, ...]
    uses_truth: bool

    def table(self, values: tuple[tuple[str | None, ...], ...]) -> dict[tuple[Any, ...], float] | None:
        """Weight per (value of each of `groups`, from `values`; flag of each of `stages`; truth), or None
        where one is not a positive number (then the reader cannot use them either)."""
        states = list(
            product(*values, *([(0, 1)] * len(self.stages)), *([(1, 0)] if self.uses_truth else []))
        )
        return _evaluate(self.sql, len(self.groups), len(self.stages), self.uses_truth, tuple(states))


@lru_cache(maxsize=64)
def state_weights(
    weight: str | None, stages: tuple[str, ...], truth: str, groups: tuple[str, ...] = ()
) -> StateWeights | None:
    """The weights a reader of the metadata can work out (see the module), or None where they depend on
    anything else or cannot be parsed."""
    if not weight:
        return None
    import sqlglot  # here: only a weighted output needs the parser
    from sqlglot import expressions as exp

    try:
        tree = sqlglot.parse_one(weight, read="duckdb")
        named = {f"__s{i}": sqlglot.parse_one(s, read="duckdb") for i, s in enumerate(stages)}
        named |= {f"__g{i}": sqlglot.parse_one(g, read="duckdb") for i, g in enumerate(groups)}
        named["__t"] = sqlglot.parse_one(truth, read="duckdb")
    except (sqlglot.errors.SqlglotError, RecursionError):
        return None
    used: set[str] = set()

    def placeholder(node: exp.Expression) -> exp.Expression:
        for name, expression in named.items():
            if node == expression:
                used.add(name)
                return exp.column(name)
        return node

    tree = tree.transform(placeholder)
    for node in tree.walk():
        if type(node).__name__ not in ALLOWED:
            return None
        if isinstance(node, exp.Column) and node.name not in named:
            return None  # a column no published expression stands for
    picked_groups = [name for name in named if name in used and name.startswith("__g")]
    picked_stages = [name for name in named if name in used and name.startswith("__s")]
    rename = {old: f"__{k}" for k, old in enumerate([*picked_groups, *picked_stages])}
    if "__t" in used:
        rename["__t"] = f"__{len(rename)}"

    def renamed(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and node.name in rename:
            return exp.column(rename[node.name])
        return node

    weights = StateWeights(
        tree.transform(renamed).sql(dialect="duckdb"),
        tuple(stages[int(name.removeprefix("__s"))] for name in picked_stages),
        tuple(int(name.removeprefix("__g")) for name in picked_groups),
        "__t" in used,
    )
    # stages and truth alone: checked now (the group values come with the reader's universe)
    return weights if weights.groups or weights.table(()) is not None else None


@lru_cache(maxsize=256)
def _evaluate(
    sql: str, groups: int, stages: int, uses_truth: bool, states: tuple[tuple[Any, ...], ...]
) -> dict[tuple[Any, ...], float] | None:
    """Every state's weight, by DuckDB (the expression holds only literals, arithmetic and CASE now)."""
    import duckdb

    width = groups + stages + int(uses_truth)
    select = f"SELECT TRY_CAST(({sql}) AS DOUBLE) AS w"
    if width:
        values = ", ".join("(" + ", ".join(_literal(v) for v in state) + ")" for state in states)
        names = ", ".join(f"__{k}" for k in range(width))
        select += f" FROM (VALUES {values}) AS v({names})"
    with duckdb.connect(":memory:") as connection:
        try:
            found = [row[0] for row in connection.sql(select).fetchall()]
        except duckdb.Error:
            return None
    if len(found) != len(states) or any(w is None or not (0 < w < float("inf")) for w in found):
        return None
    return dict(zip(states, (float(w) for w in found), strict=True))


def _literal(value: Any) -> str:
    """A group value (text, or None for missing) or a flag/truth (0/1) as a SQL literal."""
    if value is None:
        return "CAST(NULL AS VARCHAR)"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"
