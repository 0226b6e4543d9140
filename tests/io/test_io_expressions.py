"""The expression language: what it renders, how it names what it refuses, and rules over record pairs."""

from __future__ import annotations

import duckdb
import pytest

from misflag.errors import ExpressionError
from misflag.io import check_expression, parse_expression

COLUMNS = ["age", "race", 'odd "name"', "Score"]


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("age BETWEEN 18 AND 25", '"age" BETWEEN 18 AND 25'),
        ("score >= 5", '"Score" >= 5'),
        ('"odd ""name""" IS NULL', '"odd ""name""" IS NULL'),
        ("race IN ('a', 'b')", "\"race\" IN ('a', 'b')"),
        ("age::INTEGER", 'CAST("age" AS INT)'),
        ("if(age > 1, 1, 0)", 'CASE WHEN "age" > 1 THEN 1 ELSE 0 END'),
    ],
)
def test_rendered_from_the_tree_with_real_quoted_names(text: str, rendered: str) -> None:
    assert check_expression(text, COLUMNS, "--group") == rendered


def test_rendered_sql_runs_and_quotes_odd_names() -> None:
    sql = check_expression('"odd ""name""" || race', COLUMNS, "--group")
    row = duckdb.sql(f'SELECT {sql} AS v FROM (SELECT \'x\' AS "odd ""name""", \'y\' AS race)').fetchall()
    assert row == [("xy",)]


@pytest.mark.parametrize(
    ("text", "construct"),
    [
        ("COLUMNS('r.*')", "COLUMNS(...)"),
        ("read_text('/etc/passwd')", "the function read_text()"),
        ("age; SELECT 1", "a second statement (;)"),
        ("age /* x */", "a comment"),
        ("(SELECT 1)", "a subquery"),
        ('CAST(age AS "integer")', 'the quoted type name "integer"'),
        ("CAST(age AS JSON)", "a cast to JSON"),
        ("regexp_matches(race, 'a')", "regular expressions"),
        ("age\u200b", "U+200B"),
        ("race[1]", "a subscript"),
    ],
)
def test_refusals_name_the_construct_in_one_line(text: str, construct: str) -> None:
    with pytest.raises(ExpressionError) as refused:
        check_expression(text, COLUMNS, "--where")
    message = str(refused.value)
    assert message.startswith("--where must be a single SQL expression") and construct in message
    assert "\n" not in message


def test_a_chain_of_a_hundred_ors_is_accepted() -> None:
    assert check_expression(" OR ".join(["age = 1"] * 100), COLUMNS, "--flag").count("OR") == 99


def test_long_and_deep_input_is_refused_cleanly() -> None:
    for text in ("(" * 5000 + "age" + ")" * 5000, "NOT " * 3000 + "age", "-" * 3000 + "age", "x" * 100_000):
        with pytest.raises(ExpressionError) as refused:
            check_expression(text, COLUMNS, "--flag")
        assert len(str(refused.value)) < 300


def test_the_echo_is_cut_to_a_readable_length() -> None:
    with pytest.raises(ExpressionError) as refused:
        check_expression("nope + length('" + "x" * 300 + "')", COLUMNS, "--flag")
    assert "names column 'nope'" in str(refused.value) and len(str(refused.value)) < 250


def test_the_tree_is_canonical() -> None:
    checked = parse_expression("IF(age > 1, race, NULL)", COLUMNS, "--group")
    assert parse_expression(checked.sql(), COLUMNS, "--group").tree == checked.tree
    assert checked.sql("spark") == "CASE WHEN `age` > 1 THEN `race` ELSE NULL END"


def test_pair_rules_name_l_or_r_and_may_compare_strings() -> None:
    rule = "levenshtein(l.race, r.race) <= 1 AND l.age = r.age"
    assert check_expression(rule, COLUMNS, "blocking rule", qualifiers=("l", "r")) == (
        'LEVENSHTEIN(l."race", r."race") <= 1 AND l."age" = r."age"'
    )
    for bad in ("race = r.race", "t.race = r.race", "l.race = (SELECT 1)", "l.nope = r.race"):
        with pytest.raises(ExpressionError):
            check_expression(bad, COLUMNS, "blocking rule", qualifiers=("l", "r"))
    with pytest.raises(ExpressionError, match="levenshtein"):
        check_expression("levenshtein(race, race) < 2", COLUMNS, "--group")
