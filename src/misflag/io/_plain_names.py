"""Expressions that are a bare column name, checked without sqlglot (its import is a tenth of a second).

`check_expression` and `precheck_expression` here are the ones `misflag.io` exports. Most options name a
column as it is (`--truth two_year_recid`, `--group race`): such a name of a column the input has gets
its SQL here, the real column name quoted, exactly as `misflag.io._expressions` renders it after parsing
the name. Anything else goes to `_expressions`, which tokenizes, parses, checks and refuses as before: an
operator, a space or a quote, a name the input lacks (its message suggests one), a qualified name, and a
word sqlglot reads as something other than a column (`null`, `true`, `current_date`, `if`: `SQL_WORDS`).
tests/io/test_io_plain_names.py derives those words from sqlglot's own tables and checks that both paths
give the same SQL for every word sqlglot treats specially and for random names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

#: A plain name: ASCII letters, digits and `_`, not starting with a digit, and not too long to echo.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")

#: Words (any case) that sqlglot's DuckDB dialect does not read as a bare column: keywords, literals and
#: special forms. Derived from sqlglot 30's tokenizer and parser tables (see the module docstring's test).
SQL_WORDS = frozenset([
    "ALTER", "ANALYZE", "AND", "ANY", "AS", "ATTACH", "BEGIN", "BETWEEN", "CACHE", "CALL", "CASE",
    "COMMENT", "COMMIT", "CONNECT", "CONNECT_BY_ROOT", "COPY", "CREATE", "CROSS", "CURRENT_CATALOG",
    "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "CURRENT_USER", "DELETE", "DESC", "DESCRIBE",
    "DETACH", "DISCONNECT", "DISTINCT", "DROP", "ELSE", "EXCEPT", "EXECUTE", "EXPLAIN", "FALSE",
    "FETCH", "FOR", "FORCE", "FROM", "GLOB", "GRANT", "HAVING", "IF", "ILIKE", "INNER", "INSERT",
    "INSTALL", "INTERSECT", "INTO", "JOIN", "KILL", "LATERAL", "LIKE", "LOAD", "LOCALTIME",
    "LOCALTIMESTAMP", "MAP", "MERGE", "NOT", "NOTNULL", "NULL", "ON", "ONLY", "OPTIMIZE", "OR", "OUTER",
    "PARTITIONED_BY", "PIVOT", "PIVOT_WIDER", "POSITIONAL", "PRAGMA", "PREPARE", "QUALIFY", "REGEXP",
    "RELEASE", "RENAME", "RESET", "RETURNING", "REVOKE", "RLIKE", "ROLLBACK", "SAVEPOINT", "SELECT",
    "SESSION_USER", "SET", "SHOW", "SUMMARIZE", "TABLESAMPLE", "THEN", "TRUE", "TRUNCATE", "UNCACHE",
    "UNION", "UNPIVOT", "UPDATE", "USE", "USING", "VACUUM", "WHEN", "WHERE", "WITH", "XOR",
])  # fmt: skip


def plain_name(text: object) -> bool:
    """Whether the text is a bare name sqlglot reads as a column (no parse needed)."""
    return isinstance(text, str) and _NAME.fullmatch(text) is not None and text.upper() not in SQL_WORDS


def plain_column_sql(text: str, columns: Iterable[str]) -> str | None:
    """The SQL of a bare name of one of `columns` (the column `_expressions` resolves it to: the exact
    name, else the exact lower-case name, else the first equal to it ignoring case), or None where the
    full check must decide."""
    if not plain_name(text):
        return None
    index: dict[str, str] = {}
    for column in columns:
        index.setdefault(column.lower(), column)
        index[column] = column
    real = index.get(text) or index.get(text.lower())
    if real is None or _NAME.fullmatch(real) is None:
        return None
    return f'"{real}"'


def check_expression(
    text: str, columns: Iterable[str], option: str, *, qualifiers: Sequence[str] = ()
) -> str:
    """`_expressions.check_expression` (same contract, same SQL or refusal), without loading the parser for a
    bare column name the input has."""
    columns = list(columns)
    if not qualifiers:
        sql = plain_column_sql(text, columns)
        if sql is not None:
            return sql
    from misflag.io import _expressions

    return _expressions.check_expression(text, columns, option, qualifiers=qualifiers)


def precheck_expression(text: str, option: str, *, qualifiers: Sequence[str] = ()) -> str:
    """Everything `check_expression` checks but the column names (parse, allowlist, cost); the text back,
    unchanged, so a spec's loop over its expressions takes it in `check_expression`'s place.

    Needs no input: run before an engine starts and a file is read, a refused construct costs
    milliseconds. The column names are checked by `check_expression` once the input's columns are known.
    """
    if not qualifiers and plain_name(text):
        return text
    from misflag.io import _expressions

    return _expressions.precheck_expression(text, option, qualifiers=qualifiers)
