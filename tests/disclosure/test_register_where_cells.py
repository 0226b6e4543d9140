"""`disclosure._where_cells`: a --where over group expressions as the model cells it keeps, each expected
set written by hand from SQL's rules (three-valued logic: NULL <> 'a' is NULL, so not kept)."""

from __future__ import annotations

from pathlib import Path

import pytest

from misflag.disclosure._load import bundle_output
from misflag.disclosure._model import Output
from misflag.disclosure._where_cells import WhereCells
from misflag.errors import ExpressionError, InputError
from misflag.io import file_sha256


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """g in a, b and NULL; s in x, y (the pairs (a, x), (b, y), (NULL, x) only); n a whole number."""
    path = tmp_path / "log.csv"
    path.write_text("g,s,n,flag,truth\na,x,1,1,1\nb,y,2,0,0\n,x,3,1,0\n", encoding="utf-8")
    return path


def _filtered(where: str, digest: str) -> Output:
    metadata = {"spec": {"groups": ["s"], "where": where}, "input": {"sha256": digest}}
    return bundle_output("filtered", [], metadata)


def _kept(log: Path, where: str, groups: tuple[str, ...] = ("g", "s", "n")) -> object:
    digest = file_sha256(log)
    linked = WhereCells(log, digest).link(_filtered(where, digest), groups)
    return linked.cells if linked.population == digest else None


def test_null_is_not_kept_by_a_not_equal(log: Path) -> None:
    assert _kept(log, "g <> 'a'") == (("g",), frozenset({("b",)}))
    assert _kept(log, "g <> 'a' OR g IS NULL") == (("g",), frozenset({("b",), (None,)}))


def test_two_columns_keep_combinations_over_every_pair_of_their_values(log: Path) -> None:
    """Every combination of g's and s's values is a cell of the model, held by people or not: (b, x)
    has none in the data, and the filter keeps it all the same."""
    assert _kept(log, "g = 'a' OR s = 'x'") == (
        ("g", "s"),
        frozenset({("a", "x"), ("a", "y"), ("b", "x"), (None, "x")}),
    )


def test_a_number_column_is_labelled_as_text(log: Path) -> None:
    assert _kept(log, "n > 1") == (("n",), frozenset({("2",), ("3",)}))


def test_a_column_that_is_no_group_expression_stays_unlinked(log: Path) -> None:
    assert _kept(log, "flag = 1 OR g <> 'a'") is None
    assert _kept(log, "g <> 'a'", groups=("s",)) is None


def test_value_lists_and_outputs_without_a_file_are_left_as_they_are(log: Path) -> None:
    digest = file_sha256(log)
    listed = _filtered("g IN ('a', 'b')", digest)  # already linked by its value lists
    assert WhereCells(log, digest).link(listed, ("g",)) is listed
    unlinked = _filtered("g <> 'a'", digest)
    assert WhereCells(None, digest).link(unlinked, ("g",)) is unlinked


def test_a_changed_input_and_a_hostile_filter_are_refused(log: Path) -> None:
    with pytest.raises(InputError, match="the input changed while it was audited"):
        WhereCells(log, "0" * 64).link(_filtered("g <> 'a'", "0" * 64), ("g",))
    digest = file_sha256(log)
    with pytest.raises(ExpressionError, match="subquery"):
        WhereCells(log, digest).link(_filtered("g <> (SELECT 'a')", digest), ("g",))


@pytest.mark.parametrize(
    "expressions",
    [["g"], ['"truth"', '"flag"'], ["Race", '"Sex"', "age_cat"], ['"two words"'], ["g", "truth = 1"]],
)
def test_bare_and_quoted_names_read_without_sqlglot_as_sqlglot_reads_them(expressions: list[str]) -> None:
    """`_columns_of`'s shortcut for a bare or double-quoted name gives the columns sqlglot's parse gives."""
    import sqlglot
    from sqlglot import expressions as exp

    from misflag.disclosure._where_cells import _columns_of

    parsed = {
        column.name.casefold()
        for expression in expressions
        for column in sqlglot.parse_one(expression, read="duckdb").find_all(exp.Column)
    }
    assert _columns_of(expressions) == parsed
