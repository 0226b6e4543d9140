"""Users' SQL expressions, checked before anything runs: they must parse and name real columns."""

from __future__ import annotations

import re
from collections.abc import Iterable

import sqlglot
from sqlglot import exp

from misflag.engine import SOURCE_DIALECT
from misflag.errors import ExpressionError

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FORBIDDEN = (exp.Query, exp.Subquery, exp.DDL, exp.DML, exp.Command, exp.Block, exp.Star)


def check_expression(text: str, columns: Iterable[str], option: str) -> str:
    """Parse one expression and check its columns; returns it in misflag SQL.

    `option` names where the expression came from (e.g. `--flag`) so the error can say so.
    """
    if text is None or not str(text).strip():
        raise ExpressionError(f"{option} is empty; give a SQL expression over the input's columns")
    try:
        tree = sqlglot.parse_one(str(text), read=SOURCE_DIALECT)
    except sqlglot.errors.SqlglotError as error:
        detail = _ANSI.sub("", str(error)).splitlines()[0]
        raise ExpressionError(f"{option} expression {text!r} does not parse: {detail}") from None
    if (
        tree is None
        or isinstance(tree, _FORBIDDEN)
        or any(isinstance(node, _FORBIDDEN) for node in tree.walk())
    ):
        raise ExpressionError(f"{option} must be a single SQL expression over columns, not {text!r}")
    known = {column.lower(): column for column in columns}
    for column in tree.find_all(exp.Column):
        if column.name.lower() not in known:
            listing = ", ".join(sorted(known.values())[:40])
            raise ExpressionError(
                f"{option} expression {text!r} names column {column.name!r}, which the input lacks "
                f"(columns: {listing})"
            )
    return tree.sql(dialect=SOURCE_DIALECT)
