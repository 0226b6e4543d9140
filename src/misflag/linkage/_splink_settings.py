"""Splink settings as data: every field checked by kind before Splink sees the dictionary.

Splink pastes settings fields into the SQL it writes: `tf_adjustment_column` into a table name,
`output_column_name` and the column prefixes into column names, `unique_id_column_name` and
`arrays_to_explode` into select lists. A field holding `x;COPY (...) TO 'x.csv';--` would run as a
statement. So each field has a kind, and a value is accepted only as that kind:

- a *name* Splink builds columns or tables from (letters, digits and `_`, at most 64 characters; the
  linker id, a suffix, may start with a digit);
- an *input column*: a name of that pattern that is also a column of the input;
- a *number* (finite, in range), a *flag* (true/false), a *choice* from a fixed list, a *label* (text
  shown in charts, never SQL);
- a *condition* (`sql_condition`, `blocking_rule`): one SQL condition, parsed, with no query, table,
  statement or host function, and its cost bounded (see `misflag.io._expr_cost`).

Any other field is refused, with the closest known field named. The fields are those of Splink 5's
own constructors (`SettingsCreator`, `CustomComparison`, `CustomLevel` with `configure`, `CustomRule`);
`tests/security/test_splink_settings.py` compares the lists with the installed Splink.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import sqlglot

from misflag._text import shown
from misflag.engine import SOURCE_DIALECT
from misflag.errors import ExpressionError, RuleError, literal
from misflag.io._expr_cost import cost_problem
from misflag.io._expressions import MAX_LENGTH, check_expression
from misflag.io._suggest import did_you_mean

#: Names Splink builds SQL identifiers from.
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
#: Splink's linker ids (8 random letters and digits), a suffix of its table names.
UID = re.compile(r"[A-Za-z0-9_]{1,64}\Z")
#: Longest label (chart text) accepted.
MAX_LABEL = 200
#: Most comparisons, levels per comparison and blocking rules (each adds SQL to every query).
MAX_COMPARISONS, MAX_LEVELS, MAX_BLOCKING_RULES = 64, 32, 32
#: Most EM iterations (each is a pass over the blocked pairs).
MAX_ITERATIONS = 1000
#: Splink's SQL dialects a settings file may be written in.
DIALECTS = ("duckdb", "spark", "sqlite", "postgres")
#: Splink's text for an m or u probability that training never observed.
NOT_OBSERVED = "level not observed in training dataset"

#: Functions that reach the host (Spark's Java reflection) or its settings, refused in settings SQL.
_REFUSED_FUNCTIONS = frozenset(
    {"reflect", "java_method", "try_reflect", "getenv", "current_setting", "getvariable"}
)

Check = Callable[[Any, str, "set[str] | None"], None]


def _fail(where: str, value: Any, what: str) -> RuleError:
    return RuleError(f"Splink settings: {where} = {literal(shown(value, 80))} must be {what}")


def _name(value: Any, where: str, columns: set[str] | None) -> None:
    if not isinstance(value, str) or not NAME.match(value):
        raise _fail(where, value, "a name of letters, digits and _ (at most 64, not starting with a digit)")


def _uid(value: Any, where: str, columns: set[str] | None) -> None:
    if value is not None and (not isinstance(value, str) or not UID.match(value)):
        raise _fail(where, value, "letters, digits and _ (at most 64)")


def _optional_name(value: Any, where: str, columns: set[str] | None) -> None:
    if value is not None:
        _name(value, where, columns)


def _column(value: Any, where: str, columns: set[str] | None) -> None:
    if not isinstance(value, str) or not NAME.match(value):
        raise _fail(where, value, "an input column named with letters, digits and _ (rename the column)")
    if columns is not None and value.lower() not in columns:
        raise _fail(where, value, f"a column of the input (it has {len(columns)}; this is not one)")


def _optional_column(value: Any, where: str, columns: set[str] | None) -> None:
    if value is not None:
        _column(value, where, columns)


def _columns(value: Any, where: str, columns: set[str] | None) -> None:
    if value is None:
        return
    if not isinstance(value, list) or len(value) > 256:
        raise _fail(where, value, "a list of input columns")
    for index, item in enumerate(value):
        _column(item, f"{where}[{index}]", columns)


def _flag(value: Any, where: str, columns: set[str] | None) -> None:
    if not isinstance(value, bool):
        raise _fail(where, value, "true or false")


def _number(low: float, high: float, *, integer: bool = False, optional: bool = False) -> Check:
    def check(value: Any, where: str, columns: set[str] | None) -> None:
        if value is None and optional:
            return
        ok = isinstance(value, int if integer else (int, float)) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or not low <= value <= high:
            raise _fail(
                where, value, f"{'a whole number' if integer else 'a number'} from {low:g} to {high:g}"
            )

    return check


def _probability(value: Any, where: str, columns: set[str] | None) -> None:
    if value != NOT_OBSERVED:
        _number(0.0, 1.0, optional=True)(value, where, columns)


def _choice(*allowed: str) -> Check:
    def check(value: Any, where: str, columns: set[str] | None) -> None:
        if value not in allowed:
            raise _fail(where, value, f"one of {', '.join(allowed)}")

    return check


def _label(value: Any, where: str, columns: set[str] | None) -> None:
    if value is None:
        return
    if not isinstance(value, str) or len(value) > MAX_LABEL or not value.isprintable():
        raise _fail(where, value, f"text of at most {MAX_LABEL} printable characters")


def _nothing(value: Any, where: str, columns: set[str] | None) -> None:
    """Lists and conditions are checked on their own (`check_settings`), not by kind."""


#: Top-level fields (Splink's SettingsCreator, plus `sql_dialect` and the deprecated bayes-factor prefix).
SETTINGS_FIELDS: dict[str, Check] = {
    "link_type": _choice("link_only", "link_and_dedupe", "dedupe_only"),
    "comparisons": _nothing,
    "blocking_rules_to_generate_predictions": _nothing,
    "probability_two_random_records_match": _number(0.0, 1.0),
    "em_convergence": _number(0.0, 1.0),
    "max_iterations": _number(0, MAX_ITERATIONS, integer=True),
    "retain_matching_columns": _flag,
    "retain_intermediate_calculation_columns": _flag,
    "additional_columns_to_retain": _columns,
    "unique_id_column_name": _column,
    "source_dataset_column_name": _name,
    "match_weight_column_prefix": _name,
    "bayes_factor_column_prefix": _name,
    "term_frequency_adjustment_column_prefix": _name,
    "comparison_vector_value_column_prefix": _name,
    "linker_uid": _uid,
    "sql_dialect": _choice(*DIALECTS),
}
#: Fields of one comparison (Splink's CustomComparison).
COMPARISON_FIELDS: dict[str, Check] = {
    "comparison_levels": _nothing,
    "output_column_name": _optional_name,
    "comparison_description": _label,
}
#: Fields of one comparison level (Splink's CustomLevel and its `configure`, plus `sql_dialect`).
LEVEL_FIELDS: dict[str, Check] = {
    "sql_condition": _nothing,
    "label_for_charts": _label,
    "base_dialect_str": _choice(*DIALECTS),
    "sql_dialect": _choice(*DIALECTS),
    "is_null_level": _flag,
    "m_probability": _probability,
    "u_probability": _probability,
    "tf_adjustment_column": _optional_column,
    "tf_adjustment_weight": _number(0.0, 1.0),
    "tf_minimum_u_value": _number(0.0, 1.0),
    "disable_tf_exact_match_detection": _flag,
    "fix_m_probability": _flag,
    "fix_u_probability": _flag,
}
#: Fields of one blocking rule given as an object (Splink's CustomRule).
RULE_FIELDS: dict[str, Check] = {
    "blocking_rule": _nothing,
    "sql_dialect": _choice(*DIALECTS),
    "arrays_to_explode": _columns,
}


def _fields(data: Any, known: dict[str, Check], where: str, columns: set[str] | None) -> None:
    """An object whose every field is known and holds a value of its kind."""
    if not isinstance(data, dict):
        raise RuleError(f"Splink settings: {where} must be an object, not {type(data).__name__}")
    for key, value in data.items():
        place = f"{where}.{key}" if where != "settings" else str(key)
        if key not in known:
            hint = did_you_mean(str(key), known)
            raise RuleError(f"Splink settings: unknown field {literal(shown(key, 60))} in {where}{hint}")
        known[key](value, place, columns)


#: What a missing list means, for the two lists every settings file needs.
_REQUIRED = {
    "comparisons": "Splink settings have no 'comparisons'; give at least one comparison",
    "blocking_rules_to_generate_predictions": (
        "Splink settings have no 'blocking_rules_to_generate_predictions'; "
        "without them every pair of records would be compared"
    ),
}


def _items(data: dict[str, Any], key: str, most: int, where: str) -> list[Any]:
    items = data.get(key)
    if not items and key in _REQUIRED:
        raise RuleError(_REQUIRED[key])
    if not isinstance(items, list) or not items:
        raise RuleError(f"Splink settings: {where}{key} must be a non-empty list")
    if len(items) > most:
        raise RuleError(
            f"Splink settings: {where}{key} has {len(items)} entries; at most {most} are accepted"
        )
    return items


def check_settings(settings: Any, columns: Sequence[str] | None = None) -> None:
    """Every field of a settings dictionary is known and of its kind; conditions are single, bounded SQL
    conditions. With `columns`, input-column fields and the conditions' column references must name
    columns of the input. Raises RuleError, one line naming the field."""
    known = {c.lower() for c in columns} if columns is not None else None
    _fields(settings, SETTINGS_FIELDS, "settings", known)
    dialect = _dialect(settings.get("sql_dialect") or "duckdb")
    for number, comparison in enumerate(_items(settings, "comparisons", MAX_COMPARISONS, "")):
        where = f"comparisons[{number}]"
        _fields(comparison, COMPARISON_FIELDS, where, known)
        for index, level in enumerate(_items(comparison, "comparison_levels", MAX_LEVELS, f"{where}.")):
            place = f"{where}.comparison_levels[{index}]"
            _fields(level, LEVEL_FIELDS, place, known)
            text = level.get("sql_condition")
            if not isinstance(text, str):
                raise RuleError(f"Splink settings: {place}.sql_condition must be SQL text")
            if text.strip().upper() != "ELSE":
                _check_condition(text, f"{place}.sql_condition", dialect, known)
    rules = _items(settings, "blocking_rules_to_generate_predictions", MAX_BLOCKING_RULES, "")
    for index, rule in enumerate(rules):
        place = f"blocking_rules_to_generate_predictions[{index}]"
        if isinstance(rule, dict):
            _fields(rule, RULE_FIELDS, place, known)
            rule = rule.get("blocking_rule")
        if not isinstance(rule, str) or not rule.strip():
            raise RuleError(f"Splink settings: {place} is not a SQL condition")
        _check_condition(rule, place, dialect, known)


def _dialect(name: str) -> Any:
    from splink.internals.dialects import SplinkDialect

    return SplinkDialect.from_string(name).sqlglot_dialect


def _check_condition(text: str, where: str, dialect: Any, columns: set[str] | None) -> None:
    """One SQL condition: parsed, no query, table, statement or host function, cost bounded, and (with
    `columns`) every column it names is an input column (`x_l`/`x_r` in levels, `l.x`/`r.x` in rules)."""
    tree = condition_tree(text, where, dialect)
    _check_allowlist(tree, where)
    if columns is None:
        return
    for column in tree.find_all(sqlglot.exp.Column):
        name = column.name.lower()
        base = name if column.table else re.sub(r"_[lr]$", "", name)
        if base not in columns | {"match_key"}:
            raise RuleError(
                f"Splink settings: {where} names column {literal(shown(base, 60))}, which the input lacks"
            )


def _check_allowlist(tree: sqlglot.exp.Expr, where: str) -> None:
    """The condition as misflag's expression language reads it: `x_l`/`x_r` as `l.x`/`r.x`, then every node
    on the allowlist of pair expressions (the one `--flag` and blocking rules pass), not merely free of
    what is refused. Splink still runs the condition's own text, which says the same."""
    pair = tree.copy()
    for column in pair.find_all(sqlglot.exp.Column):
        side = re.fullmatch(r"(.+)_([lr])", column.name, flags=re.IGNORECASE)
        if not column.table and side:
            column.set("table", sqlglot.exp.Identifier(this=side.group(2).lower()))
            column.set("this", sqlglot.exp.Identifier(this=side.group(1), quoted=True))
    names = {column.name for column in pair.find_all(sqlglot.exp.Column)}
    try:
        check_expression(pair.sql(dialect=SOURCE_DIALECT), names, where, qualifiers=("l", "r"))
    except ExpressionError as problem:
        raise RuleError(f"Splink settings: {problem}") from None


def condition_tree(text: str, where: str, dialect: Any) -> sqlglot.exp.Expr:
    """One SQL condition of the settings, parsed; queries, tables, statements, host functions and
    costly text growth or LIKE patterns refused.

    Splink runs this SQL itself, so it cannot be rendered from a checked tree: the DuckDB connection is
    locked as well, and this check is what stands between the settings and Spark.
    """
    echoed = literal(shown(text, 120))
    if len(text) > MAX_LENGTH:
        raise RuleError(f"Splink settings: {where} is {len(text):,} characters; at most {MAX_LENGTH:,}")
    sqlglot_logger = logging.getLogger("sqlglot")
    level = sqlglot_logger.level
    sqlglot_logger.setLevel(logging.ERROR)  # its "falling back to a Command" warnings are not for users
    try:
        statements = sqlglot.parse(text, read=dialect)
    except (sqlglot.errors.SqlglotError, RecursionError):
        raise RuleError(f"Splink settings: {where} SQL {echoed} does not parse") from None
    finally:
        sqlglot_logger.setLevel(level)
    if len(statements) != 1 or not isinstance(statements[0], sqlglot.exp.Condition):
        raise RuleError(f"Splink settings: {where} SQL {echoed} must be one SQL condition, not a statement")
    tree = statements[0]
    for node in tree.walk():
        if isinstance(node, (sqlglot.exp.Query, sqlglot.exp.Subquery, sqlglot.exp.Table)):
            raise RuleError(f"Splink settings: {where} SQL {echoed} may not hold a query or read a table")
        name = node.name.lower() if isinstance(node, sqlglot.exp.Anonymous) else ""
        if name in _REFUSED_FUNCTIONS:
            raise RuleError(
                f"Splink settings: {where} SQL {echoed} calls {name}(), which misflag does not run"
            )
    problem = cost_problem(tree)
    if problem:
        raise RuleError(f"Splink settings: {where} SQL {echoed} is refused: {problem}")
    return tree
