"""Numbers in expressions: one no engine holds is refused by the check, naming the option, before any engine
runs; the expression itself is echoed through `misflag._text.shown` (first 80 characters, its length)."""

from __future__ import annotations

import duckdb
import pytest

from misflag.errors import ExpressionError
from misflag.io import check_expression

COLUMNS = ["score", "age"]


@pytest.mark.parametrize(
    "text",
    [
        "score > " + "9" * 38,  # HUGEINT's 38 digits: the most accepted
        "score > -" + "9" * 38,
        "score > 1.7976931348623157e308",  # the largest double
        "score > 1e-999",  # underflows to 0.0: a number, if a useless one
        "score > 0." + "0" * 36 + "1",  # 38 digits with the leading zero
        "CAST(score AS DECIMAL(38, 2)) > 0",
    ],
)
def test_numbers_an_engine_holds_are_accepted(text: str) -> None:
    check_expression(text, COLUMNS, "{where}")


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "score > 1e999999",
            "holds the number 1e999999, past the largest a double holds (1.7976931348623157e308)",
        ),
        ("score < -1e999", "holds the number 1e999, past the largest a double holds"),
        ("score > 1.8e308", "holds the number 1.8e308, past the largest a double holds"),
        (
            "score > " + "9" * 39,
            "holds the number 99999999999999999999... (39 characters), of 39 digits; at most 38",
        ),
        (
            "score > 0." + "0" * 37 + "1",
            "holds the number 0.000000000000000000... (40 characters), of 39 digits",
        ),
    ],
)
def test_a_number_no_engine_holds_is_refused_naming_the_option(text: str, said: str) -> None:
    with pytest.raises(ExpressionError) as refused:
        check_expression(text, COLUMNS, "{where}")
    assert refused.value.parameter == "where"
    assert refused.value.render(lambda name: "--" + name).startswith(f"--where expression {text!r} {said}")


def test_a_four_hundred_digit_number_is_named_by_its_start_and_length() -> None:
    text = "score > " + "9" * 400
    with pytest.raises(ExpressionError) as refused:
        check_expression(text, COLUMNS, "{where}")
    expected = (
        "where expression '"
        + text[:80]
        + "...' (408 characters) holds the number "
        + "9" * 20
        + "... (400 characters), of 400 digits; at most 38 are accepted"
    )
    assert str(refused.value) == expected


def test_duckdb_itself_fails_on_what_the_check_refuses() -> None:
    """Why the rule exists, with DuckDB's own answers: 39 digits is a BIGNUM that will not compare with
    a double column, and 1e999999 is infinity, which no score exceeds (the filter empties silently)."""
    connection = duckdb.connect()
    connection.execute("CREATE TABLE t AS SELECT 0.5::DOUBLE AS score")
    with pytest.raises(duckdb.Error):
        connection.sql("SELECT score > " + "9" * 400 + " FROM t").fetchall()
    assert connection.sql("SELECT typeof(1e999999), 1e999999 = 'infinity'::DOUBLE").fetchall() == [
        ("DOUBLE", True)
    ]


def test_an_expression_is_echoed_through_the_one_value_helper() -> None:
    text = "nope + length('" + "x" * 300 + "')"
    with pytest.raises(ExpressionError) as refused:
        check_expression(text, COLUMNS, "{flag}")
    # 80 characters of the expression, then its full length: 15 + 300 + 2 = 317 characters; repr quotes
    # text holding a ' with "
    expected = 'flag expression "' + text[:80] + "...\" (317 characters) names column 'nope'"
    assert str(refused.value).startswith(expected)
