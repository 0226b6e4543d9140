"""Users' SQL expressions: parsed into a tree, checked against an allowlist, rendered from the tree.

The user's text never reaches an engine. It is tokenized (comments, `;` and invisible characters are
refused), parsed with sqlglot into one expression, and every node of the tree must be an allowed
construct (see `_expr_rules`) over the input's columns. The SQL that runs is rendered from the validated
tree, each column quoted by its real name, and must parse back to the same tree. One path serves the CLI,
the Python API and HTTP, so every front end refuses the same things with the same one-line message.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokens import TokenType

from misflag._text import clipped, shown
from misflag.engine import SOURCE_DIALECT
from misflag.errors import ExpressionError, literal
from misflag.io._expr_cost import cost_problem
from misflag.io._expr_rules import (
    CAST_TYPES,
    FUNCTIONS,
    NAMED_FUNCTIONS,
    OPERATORS,
    PAIR_CLASSES,
    PAIR_FUNCTIONS,
    REFUSED_NAMES,
    TYPE_PARAMETERS,
    UNIT_PARENTS,
    UNITS,
)
from misflag.io._suggest import close_names, did_you_mean, name_list, parse_problem, unclosed_quote

#: Longest expression accepted, in characters (a long CASE over score bands fits easily).
MAX_LENGTH = 4000
#: Deepest tree accepted (a chain of 100 ORs is 100 deep) and most parentheses open at once.
MAX_DEPTH = 128
MAX_PARENS = 64
#: How much of an expression an error message echoes.
ECHO_LENGTH = 80
#: Most digits a number may be written with: DuckDB's HUGEINT and both engines' DECIMAL hold 38 (a longer
#: whole number is DuckDB's BIGNUM, which fails when compared; Spark refuses a DECIMAL of more).
MAX_NUMBER_DIGITS = 38

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ALLOWED = OPERATORS | FUNCTIONS
_ALLOWED_WHITESPACE = {" ", "\t", "\n", "\r"}
_REFUSED_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp", "Zs"}
_LITERAL_LEAVES = (exp.Literal, exp.Boolean, exp.Null)
_EXPR = getattr(exp, "Expr", None) or exp.Expression  # sqlglot >= 30 roots its nodes in Expr


@dataclass(frozen=True)
class Expression:
    """A validated expression: its canonical tree, from which every engine's SQL is rendered."""

    tree: exp.Expr
    option: str

    def sql(self, dialect: str = SOURCE_DIALECT) -> str:
        """The expression as SQL for `dialect` (DuckDB by default), rendered from the tree."""
        return render_expression(self.tree, dialect)


def echo(text: str) -> str:
    """An expression as an error message shows it: repr'd, cut to a readable length, its length named."""
    return literal(shown(text, ECHO_LENGTH))


def render_expression(tree: exp.Expr, dialect: str = SOURCE_DIALECT) -> str:
    """SQL for `dialect` rendered from a validated tree (never from the user's text)."""
    return tree.sql(dialect=dialect)


def check_expression(
    text: str, columns: Iterable[str], option: str, *, qualifiers: Sequence[str] = ()
) -> str:
    """Validate one expression over `columns` and return its SQL (DuckDB dialect), rendered from the tree.

    `option` names where the expression came from (e.g. `--flag`) so the error can say so. Raises
    ExpressionError, one line naming the refused construct, for anything outside the allowlist.
    `qualifiers` (e.g. `("l", "r")` for a blocking rule over record pairs) makes every column reference
    name one of them (`l.surname`) and allows the string-similarity functions.
    """
    return parse_expression(text, columns, option, qualifiers=qualifiers).sql()


def precheck_expression(text: str, option: str, *, qualifiers: Sequence[str] = ()) -> str:
    """Everything `check_expression` checks but the column names (parse, allowlist, cost); the text back.

    Needs no input: run before an engine starts and a file is read, a refused construct costs
    milliseconds. The column names are checked by `check_expression` once the input's columns are known.
    """
    parse_expression(text, None, option, qualifiers=qualifiers)
    return text


def parse_expression(
    text: str, columns: Iterable[str] | None, option: str, *, qualifiers: Sequence[str] = ()
) -> Expression:
    """Parse and validate one expression over `columns`; the tree is canonical (render, reparse, equal).

    `columns=None` accepts any column name (see `precheck_expression`).
    """
    if text is None or not isinstance(text, str) or not text.strip():
        raise ExpressionError(f"{option} is empty; give a SQL expression over the input's columns")
    known = None if columns is None else _column_index(columns)
    check = _Check(text, option, known, frozenset(q.lower() for q in qualifiers))
    _check_text(text, option)
    try:
        tree = _parse(text, option)
        _check_tree(tree, check)
        canonical = _parse(render_expression(tree), option)
        _check_tree(canonical, check)
        same = _parse(render_expression(canonical), option) == canonical
    except RecursionError:
        raise _refuse(option, text, "nesting this deep") from None
    if not same:
        raise ExpressionError(
            f"{option} expression {echo(text)} does not render back to itself; write it more plainly"
        )
    return Expression(canonical, option)


@dataclass(frozen=True)
class _Check:
    """What one validation needs: the text and option (for messages), the columns, the qualifiers."""

    text: str
    option: str
    known: dict[str, str] | None  # None: any column name is accepted (names are checked later)
    qualifiers: frozenset[str]


def _column_index(columns: Iterable[str]) -> dict[str, str]:
    """Lower-case name -> real name; an exact-case name wins over a case-insensitive duplicate."""
    index: dict[str, str] = {}
    for column in columns:
        index.setdefault(column.lower(), column)
        index[column] = column
    return index


def _refuse(option: str, text: str, construct: str) -> ExpressionError:
    return ExpressionError(
        f"{option} must be a single SQL expression over columns: {construct} is not allowed (in {echo(text)})"
    )


def _check_text(text: str, option: str) -> None:
    """Length, invisible characters, comments, `;` and nesting, checked on the tokens before parsing."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"{option} expression is {len(text):,} characters long; at most {MAX_LENGTH:,} are accepted"
        )
    for char in text:
        if char not in _ALLOWED_WHITESPACE and unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise _refuse(option, text, f"the invisible or control character U+{ord(char):04X}")
    try:
        tokens = Dialect.get_or_raise(SOURCE_DIALECT).tokenize(text)
    except (sqlglot.errors.SqlglotError, IndexError, ValueError) as error:
        quote = unclosed_quote(option, text)
        if quote is not None:
            raise quote from None
        raise ExpressionError(f"{option} expression {echo(text)} does not parse: {_detail(error)}") from None
    depth = 0
    for position, token in enumerate(tokens):
        if token.comments:
            raise _refuse(option, text, "a comment")
        if token.token_type == TokenType.SEMICOLON:
            raise _refuse(option, text, "a second statement (;)")
        if token.token_type == TokenType.L_PAREN:
            depth += 1
            if depth > MAX_PARENS:
                raise _refuse(option, text, f"nesting deeper than {MAX_PARENS} parentheses")
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
        elif token.token_type in (TokenType.ALIAS, TokenType.DCOLON):
            following = tokens[position + 1] if position + 1 < len(tokens) else None
            if following is not None and following.token_type == TokenType.IDENTIFIER:
                raise _refuse(option, text, f'the quoted type name "{following.text[:40]}"')


def _parse(text: str, option: str) -> exp.Expr:
    try:
        trees = sqlglot.parse(text, read=SOURCE_DIALECT)
    except RecursionError:
        raise _refuse(option, text, "nesting this deep") from None
    except sqlglot.errors.ParseError as error:  # told in the expression's terms, never sqlglot's
        if error.errors:
            raise parse_problem(option, text, error.errors[0]) from None
        raise ExpressionError(f"{option} expression {echo(text)} does not parse") from None
    except (sqlglot.errors.SqlglotError, IndexError, ValueError, TypeError) as error:
        raise ExpressionError(f"{option} expression {echo(text)} does not parse: {_detail(error)}") from None
    if len(trees) != 1 or trees[0] is None:
        raise _refuse(option, text, "more than one statement")
    return trees[0]


def _detail(error: BaseException) -> str:
    lines = _ANSI.sub("", str(error)).strip().splitlines()
    return (lines[0] if lines else type(error).__name__)[:200]


def _depth(tree: exp.Expr) -> int:
    """The tree's depth, measured without recursion (a deep tree must not crash the check)."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in node.iter_expressions())
    return deepest


def _check_tree(tree: exp.Expr, check: _Check) -> None:
    """Every node allowed, every column known, the cost bounded; columns are rewritten to their quoted
    real names."""
    if _depth(tree) > MAX_DEPTH:
        raise _refuse(check.option, check.text, f"nesting deeper than {MAX_DEPTH} levels")
    for node in list(tree.walk()):
        _check_node(node, check)
        if isinstance(node, exp.Column):
            _resolve_column(node, check)
    problem = cost_problem(tree)
    if problem:
        raise _refuse(check.option, check.text, problem)


def _check_node(node: exp.Expr, check: _Check) -> None:
    text, option = check.text, check.option
    kind = type(node)
    if isinstance(node, exp.Anonymous):
        name = str(node.name).lower()
        if name not in NAMED_FUNCTIONS and not (check.qualifiers and name in PAIR_FUNCTIONS):
            raise _refuse(option, text, f"the function {name[:40]}()")
        if name == "date_part":
            _check_unit(node.expressions[0] if node.expressions else None, text, option)
        return
    if kind not in _ALLOWED and not (check.qualifiers and kind in PAIR_CLASSES):
        raise _refuse(option, text, _construct_name(node))
    if isinstance(node, exp.Literal) and not node.is_string:
        problem = _number_problem(str(node.this))
        if problem:
            raise ExpressionError(f"{option} expression {echo(text)} holds {problem}")
    elif isinstance(node, exp.Var):
        if not isinstance(node.parent, UNIT_PARENTS) or node.name.upper() not in UNITS:
            raise _refuse(option, text, f"the word {literal(shown(node.name))}")
    elif isinstance(node, (exp.Cast, exp.TryCast)):
        _check_type(node.args.get("to"), text, option)
    elif isinstance(node, exp.DataType) and not isinstance(node.parent, (exp.Cast, exp.TryCast)):
        raise _refuse(option, text, f"the type {node.sql()[:40]} outside CAST")
    elif isinstance(node, exp.DataTypeParam) and not isinstance(node.this, exp.Literal):
        raise _refuse(option, text, "a type parameter that is not a number")
    elif isinstance(node, exp.In):
        if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
            raise _refuse(option, text, "IN over anything but a list of literals")
        if not all(_is_literal(item) for item in node.expressions):
            bare = [item.name for item in node.expressions if isinstance(item, exp.Column) and not item.table]
            if bare:  # IN (Medium, High): values written as names
                quoted = ", ".join(literal(repr(name)) for name in bare)
                raise ExpressionError(
                    f"{option} expression {echo(text)} lists {literal(', '.join(bare))} in IN (...) without "
                    f"quotes; quote text values: IN ({quoted})"
                )
            raise _refuse(option, text, "IN over anything but a list of literals")
    elif isinstance(node, exp.Is) and not isinstance(node.expression, (exp.Null, exp.Boolean)):
        raise _refuse(option, text, "IS with anything but NULL, TRUE or FALSE")
    elif isinstance(node, (exp.DateTrunc, exp.TimestampTrunc, exp.DateDiff)):
        _check_unit(node.args.get("unit"), text, option)
    elif isinstance(node, exp.Interval) and not isinstance(node.this, exp.Literal):
        raise _refuse(option, text, "an INTERVAL that is not a number of units")
    elif isinstance(node, exp.Identifier) and not isinstance(node.parent, exp.Column):
        raise _refuse(option, text, f"the name {literal(shown(node.name))} here")


def _number_problem(written: str) -> str | None:
    """Why a number as written cannot run alike on every engine (too many digits, past a double), said
    as the number it is, or None.

    `1e999999` is infinite as a double (DuckDB filters on it silently, Spark refuses it) and a 400-digit
    whole number is DuckDB's BIGNUM, which fails only once the query runs, far from the expression.
    """
    digits = sum(char.isdigit() for char in re.split("[eE]", written, maxsplit=1)[0])
    if digits > MAX_NUMBER_DIGITS:
        return f"the number {clipped(written, 20)}, of {digits:,} digits; at most {MAX_NUMBER_DIGITS} are accepted"
    try:
        value = float(written)
    except ValueError:
        return None  # a form sqlglot reads as a number but Python does not (left to the engine)
    if math.isinf(value):
        return f"the number {clipped(written, 20)}, past the largest a double holds (1.7976931348623157e308)"
    return None


def _is_literal(node: exp.Expr) -> bool:
    if isinstance(node, exp.Neg):
        return isinstance(node.this, exp.Literal) and not node.this.is_string
    if isinstance(node, exp.Cast):
        return isinstance(node.this, exp.Literal)
    return isinstance(node, _LITERAL_LEAVES)


def _check_unit(unit: exp.Expr | None, text: str, option: str) -> None:
    if unit is None:
        return
    name = unit.name.upper() if isinstance(unit, (exp.Literal, exp.Var)) else ""
    if name not in UNITS:
        raise _refuse(option, text, f"the date part {unit.sql()[:40]}")


def _check_type(to: exp.Expr | None, text: str, option: str) -> None:
    params = len(to.expressions) if isinstance(to, exp.DataType) else 0
    if (
        not isinstance(to, exp.DataType)
        or to.this not in CAST_TYPES
        or params > TYPE_PARAMETERS.get(to.this, 0)
    ):
        shown = to.sql() if isinstance(to, _EXPR) else "?"
        allowed = "INTEGER, BIGINT, DOUBLE, DECIMAL(p, s), VARCHAR, BOOLEAN, DATE, TIMESTAMP"
        raise _refuse(option, text, f"a cast to {shown[:40]} (allowed types: {allowed})")


def _construct_name(node: exp.Expr) -> str:
    for kind, name in REFUSED_NAMES.items():
        if isinstance(node, kind):
            return name
    if isinstance(node, exp.Func):
        return f"the function {node.sql_name().lower()[:40]}()"
    if isinstance(node, (exp.Query, exp.DDL, exp.DML, exp.Command)):
        return "a statement"
    return f"{type(node).__name__} ({node.sql()[:40]})"


def _resolve_column(node: exp.Column, check: _Check) -> None:
    text, option, known = check.text, check.option, check.known
    table = node.args.get("table")
    qualifier = table.name.lower() if isinstance(table, exp.Identifier) else None
    if node.args.get("db") or node.args.get("catalog") or qualifier not in (check.qualifiers or {None}):
        wanted = f" (write {' or '.join(sorted(check.qualifiers))}.column)" if check.qualifiers else ""
        raise _refuse(option, text, f"the name {node.sql()[:40]}{wanted}")
    if not isinstance(node.this, exp.Identifier):
        raise _refuse(option, text, _construct_name(node.this))
    if qualifier is not None:
        node.set("table", exp.Identifier(this=qualifier, quoted=False))
    if known is None:
        return
    name = node.this.name
    real = known.get(name) or known.get(name.lower())
    if real is None:
        columns = sorted(set(known.values()))
        hint = did_you_mean(name, columns)
        if not hint and isinstance(node.parent, (exp.EQ, exp.NEQ)) and not node.this.quoted:
            value = literal(shown(name, 60))
            hint = f"; if {value} is a value, not a column, quote it: {value}"
        error = ExpressionError(
            f"{option} expression {echo(text)} names column {literal(shown(name, 60))}, which the input "
            f"lacks{hint} (columns: {name_list(columns, first=close_names(name, columns))})"
        )
        error.columns = columns  # type: ignore[attr-defined]  # every column, for a caller who asks
        raise error
    node.set("this", exp.Identifier(this=real, quoted=True))
