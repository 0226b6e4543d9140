"""Bare column names checked without sqlglot (`misflag.io._plain_names`) give exactly sqlglot's answer.

The adversary is sqlglot itself: every word its DuckDB tokenizer and parser treat specially (taken from
their own tables at test time, so a new sqlglot keyword fails here), DuckDB's keywords and function
names, in three cases, and random names over random column lists with case collisions.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from misflag.errors import ExpressionError
from misflag.io import _expressions, check_expression, precheck_expression
from misflag.io._plain_names import SQL_WORDS, plain_column_sql

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _vocabulary() -> set[str]:
    """Every word sqlglot's DuckDB dialect could treat specially, and DuckDB's own keywords and functions."""
    dialect = Dialect.get_or_raise("duckdb")
    words = {w for key in dialect.tokenizer_class.KEYWORDS for w in key.split()}
    for name in dir(dialect.parser_class):
        table = getattr(dialect.parser_class, name)
        if isinstance(table, dict):
            words |= {key for key in table if isinstance(key, str)}
    words |= {row[0] for row in duckdb.sql("SELECT keyword_name FROM duckdb_keywords()").fetchall()}
    words |= {
        row[0] for row in duckdb.sql("SELECT DISTINCT function_name FROM duckdb_functions()").fetchall()
    }
    return {w for w in words if WORD.fullmatch(w)}


VOCABULARY = sorted(_vocabulary())


def _column(word: str) -> bool:
    """Whether sqlglot parses the word as a bare, unquoted column of that name."""
    try:
        trees = sqlglot.parse(word, read="duckdb")
    except sqlglot.errors.SqlglotError:
        return False
    tree = trees[0] if len(trees) == 1 else None
    return (
        isinstance(tree, exp.Column)
        and not tree.table
        and isinstance(tree.this, exp.Identifier)
        and not tree.this.quoted
        and tree.this.name == word
    )


def _both(text: str, columns: list[str]) -> tuple[object, object]:
    """(the light check's answer, the full check's answer); a refusal is its message."""

    def answer(check: object) -> object:
        try:
            return check(text, columns, "--flag")  # type: ignore[operator]
        except ExpressionError as refusal:
            return f"refused: {refusal}"

    return answer(check_expression), answer(_expressions.check_expression)


def test_every_word_sqlglot_does_not_read_as_a_column_is_left_to_the_parser() -> None:
    special = {w.upper() for w in VOCABULARY if not all(_column(v) for v in (w, w.lower(), w.upper()))}
    assert len(VOCABULARY) > 1000 and len(special) > 50
    assert special <= SQL_WORDS, sorted(special - SQL_WORDS)


@pytest.mark.parametrize("case", [str.lower, str.upper, str.capitalize])
def test_every_special_word_as_a_column_name_gets_the_parsers_answer(case: object) -> None:
    answered = 0
    for word in VOCABULARY:
        text = case(word)  # type: ignore[operator]
        columns = ["other", text, text.swapcase()]
        light, full = _both(text, columns)
        assert light == full, text
        answered += plain_column_sql(text, columns) is not None
    assert answered > 500  # most of these words are plain names: the light path does answer


@settings(max_examples=300, deadline=None)
@given(
    text=st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True),
    others=st.lists(st.from_regex(r"[A-Za-z_][A-Za-z0-9_ \"K]{0,12}", fullmatch=True), max_size=6),
    variants=st.lists(st.sampled_from([str.lower, str.upper, str.swapcase, str.title]), max_size=3),
)
def test_random_names_over_columns_with_case_collisions(text: str, others: list[str], variants: list) -> None:
    columns = [*others, *(variant(text) for variant in variants)]
    assert _both(text, columns)[0] == _both(text, columns)[1]


@pytest.mark.parametrize("text", ["flag", "x1", "_", "null", "true", "if", "a b", "flag = 1", "é", "1abc"])
def test_precheck_refuses_exactly_what_the_parser_refuses(text: str) -> None:
    def refusal(check: object) -> str | None:
        try:
            check(text, "--flag")  # type: ignore[operator]
        except ExpressionError as problem:
            return str(problem)
        return None

    assert refusal(precheck_expression) == refusal(_expressions.precheck_expression)


def test_kelvin_sign_column_is_left_to_the_parser() -> None:
    """'\u212a'.lower() is 'k': a plain-looking name may resolve to a non-ASCII column."""
    assert plain_column_sql("k", ["\u212a"]) is None
    assert _both("k", ["\u212a"])[0] == _both("k", ["\u212a"])[1]


def _parses(tmp_path: Path, *options: str) -> bool:
    """Whether a CLI audit with these options loads the expression parser (misflag.io._expressions)."""
    log = tmp_path / "log.csv"
    log.write_text("flag,truth,race\n" + "1,0,a\n0,1,b\n" * 20)
    probe = (
        "import sys; from misflag.cli import main; "
        f"code = main(['decisions', 'audit', {str(log)!r}, *{list(options)!r}, '--format', 'csv']); "
        "print('PARSER' if 'misflag.io._expressions' in sys.modules else 'none', code)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    last = done.stdout.strip().splitlines()[-1]
    assert last.endswith(" 0"), done.stdout + done.stderr
    return last.startswith("PARSER")


def test_an_audit_naming_columns_plainly_never_loads_the_parser(tmp_path: Path) -> None:
    assert not _parses(tmp_path, "--flag", "flag", "--truth", "truth", "--group", "race")
    assert _parses(tmp_path, "--flag", "flag = 1", "--truth", "truth", "--group", "race")
