"""Engine errors of a web job, told without the data: which expression failed and what kind of problem.

DuckDB's messages quote the value that failed (`Could not convert string 'Person 42 Smith' to INT32`),
so shown verbatim they would read out any cell, masked columns included. A web job's error is instead
rebuilt from two facts that carry no data: the error's category and, for a failed conversion, the
target type from a fixed list; and which of the audit's expressions fails when each is run alone.
"""

from __future__ import annotations

import re
from pathlib import Path

from misflag.api._request import labelled_expressions
from misflag.decisions import DecisionSpec
from misflag.decisions._counts import check_spec
from misflag.engine import get_engine
from misflag.errors import MisflagError
from misflag.io import load_input

#: DuckDB's error categories ("Conversion Error: ..."); a message without one is misflag's own text.
_CATEGORY = re.compile(r"\b([A-Z][a-z]+(?: [A-Za-z]+)*) Error: ")
_PROBLEMS = {
    "Out of Memory": "it needed more memory than this service's limit allows",
    "Invalid Input": "a function was given a value it cannot use",
    "Out of Range": "a number was out of range",
    "Binder": "it does not fit the file's columns or their types",
    "Catalog": "it does not fit the file's columns or their types",
}
_TYPES = {
    "INT8": "TINYINT", "INT16": "SMALLINT", "INT32": "INTEGER", "INT64": "BIGINT", "INT128": "HUGEINT",
    "UINT8": "UTINYINT", "UINT16": "USMALLINT", "UINT32": "UINTEGER", "UINT64": "UBIGINT",
    "FLOAT": "FLOAT", "DOUBLE": "DOUBLE", "BOOL": "BOOLEAN", "BOOLEAN": "BOOLEAN", "DATE": "DATE",
    "TIME": "TIME", "TIMESTAMP": "TIMESTAMP", "INTERVAL": "INTERVAL", "UUID": "UUID", "VARCHAR": "VARCHAR",
    "DECIMAL": "DECIMAL", "TINYINT": "TINYINT", "SMALLINT": "SMALLINT", "INTEGER": "INTEGER", "BIGINT": "BIGINT",
}  # fmt: skip
_TARGET = re.compile(r"(?:to|destination type) ([A-Z][A-Z0-9_]*)(?:\(\d+,\s*\d+\))?\s*$")


def from_engine(message: str) -> bool:
    """Whether a message carries an engine's own text (which may quote data)."""
    return _CATEGORY.search(message) is not None


def problem(message: str) -> str:
    """The kind of problem in an engine message, in words that quote nothing from the data."""
    found = _CATEGORY.search(message)
    category = found.group(1).strip() if found else ""
    if category == "Conversion":
        first = message.splitlines()[0] if message else ""
        target = _TARGET.search(first)
        kind = _TYPES.get(target.group(1)) if target else None
        return f"a value could not be converted to {kind or 'the type it needed'}"
    return _PROBLEMS.get(category, "the engine could not run it")


def failing_expression(source: Path, spec: DecisionSpec) -> str | None:
    """Which expression fails when each is run alone over the input (the where filter applied), or None."""
    engine = get_engine("duckdb")
    try:
        info = load_input(engine, source)
        expressions = labelled_expressions(spec, check_spec(spec, info.columns))
        where = dict(expressions).get("where")
        for what, expression in expressions:
            if what == "where":
                query = f"SELECT count(*) AS n FROM input WHERE ({expression})"
            else:
                query = f"SELECT count(({expression})) AS n FROM input {f'WHERE ({where})' if where else ''}"
            try:
                engine.sql(query)
            except MisflagError:
                return what
        return None
    finally:
        engine.close()


def public_message(message: str, source: Path, spec: DecisionSpec) -> str:
    """A web job's error: misflag's own messages as they are, an engine's rebuilt without its data."""
    if not from_engine(message):
        return message
    if "Out of Memory Error" in message:
        return f"the audit failed: {problem(message)}"
    try:
        what = failing_expression(source, spec)
    except (MisflagError, MemoryError):
        what = None
    subject = f"the {what} expression" if what else "the audit's query"
    return f"{subject} failed: {problem(message)}"
