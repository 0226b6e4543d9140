"""The audit-sample weights a reader can work out from an output's metadata, per state of a person.

A weighted rate is sum(w x numerator) / sum(w x denominator) over the audited people. Where the weight
expression (published in the metadata) depends on nothing but the stage expressions and the truth
expression (also published), e.g. `CASE WHEN flag = 1 THEN 1 ELSE 3 END` for strata that follow the
flag, or a constant, the reader knows every audited person's weight from their state, and each weighted
rate is a linear equation over counts of people. Any other weight expression (a weight column, strata
by a group or by a column not published) is taken as unknown to the reader (docs/disclosure.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import product

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
    """An audited person's weight by their state: the flags of `stages` (expressions, in order), then
    their truth (1 or 0) when `uses_truth`."""

    stages: tuple[str, ...]
    uses_truth: bool
    table: dict[tuple[int, ...], float]


@lru_cache(maxsize=64)
def state_weights(weight: str | None, stages: tuple[str, ...], truth: str) -> StateWeights | None:
    """The weights a reader of the metadata can work out (see the module), or None where they depend on
    anything else, cannot be parsed, or are not positive numbers."""
    if not weight:
        return None
    import sqlglot  # here: only a weighted output needs the parser
    from sqlglot import expressions as exp

    try:
        tree = sqlglot.parse_one(weight, read="duckdb")
        named = {f"__s{i}": sqlglot.parse_one(s, read="duckdb") for i, s in enumerate(stages)}
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
    order = [name for name in named if name in used and name != "__t"]
    uses_truth = "__t" in used
    return _evaluate(tree.sql(dialect="duckdb"), order, uses_truth, stages)


def _evaluate(sql: str, order: list[str], uses_truth: bool, stages: tuple[str, ...]) -> StateWeights | None:
    """Every state's weight, by DuckDB (the expression holds only literals, arithmetic and CASE now)."""
    import duckdb

    columns = [*order, *(["__t"] if uses_truth else [])]
    states = list(product((0, 1), repeat=len(order))) if order else [()]
    if uses_truth:
        states = [(*s, t) for s in states for t in (1, 0)]
    select = f"SELECT TRY_CAST(({sql}) AS DOUBLE) AS w"
    with duckdb.connect(":memory:") as connection:
        if columns:
            values = ", ".join("(" + ", ".join(str(v) for v in state) + ")" for state in states)
            query = f"{select} FROM (VALUES {values}) AS v({', '.join(columns)})"
        else:
            query = select
        try:
            found = [row[0] for row in connection.sql(query).fetchall()]
        except duckdb.Error:
            return None
    if any(w is None or not (0 < w < float("inf")) for w in found):
        return None
    picked = tuple(stages[int(name.removeprefix("__s"))] for name in order)
    return StateWeights(picked, uses_truth, dict(zip(states, (float(w) for w in found), strict=True)))
