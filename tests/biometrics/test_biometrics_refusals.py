"""Two refusals docs/biometrics.md promises: `--min-cell` above 2^53, and a group column that is not one text
or number per row (a list, a struct, bytes). Each stops with one line and exit 2; 2^53 itself runs."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from misflag.cli import main

TWO_TO_53 = 9_007_199_254_740_992  # written out, not computed from the code's constant


@pytest.fixture(scope="module")
def score_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 comparisons in 3 text groups, with a list, a struct and a bytes column of the same grouping."""
    path = tmp_path_factory.mktemp("refusals") / "scores.parquet"
    duckdb.sql(
        f"""COPY (SELECT (i % 3)::VARCHAR AS g, [i % 3] AS as_list, {{'g': i % 3}} AS as_struct,
                         (i % 3)::VARCHAR::BLOB AS as_bytes, i % 2 AS y, (i * 37 % 200) / 200.0 AS s
                  FROM range(200) t(i)) TO '{path}' (FORMAT parquet)"""
    )
    return path


def audit(path: Path, *extra: str) -> list[str]:
    return ["biometrics", "audit", str(path), "--score", "s", "--genuine", "y", "--threshold", "0.5", *extra]


def test_min_cell_above_two_to_53_is_one_line(score_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(audit(score_file, "--group", "g", "--min-cell", str(TWO_TO_53 + 1)))
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.strip() == f"error: --min-cell must be between 1 and 2^53, got {TWO_TO_53 + 1}"
    assert captured.out == ""


def test_min_cell_of_two_to_53_withholds_every_group(
    score_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(audit(score_file, "--group", "g", "--min-cell", str(TWO_TO_53), "--format", "json"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = json.loads(captured.out)
    groups = [row for row in rows if row["attribute"] in ("g", "overall")]
    # 200 comparisons are under min_cell too: the overall row is withheld with the groups
    assert {row["attribute"] for row in groups} == {"g", "overall"}
    assert all(row["suppressed"] and row["value"] is None for row in groups)


@pytest.mark.parametrize(
    ("column", "kind"),
    [("as_list", "list<l: int64>"), ("as_struct", "struct<g: int64>"), ("as_bytes", "binary")],
)
@pytest.mark.parametrize("option", ["--group", "--group-a"])
def test_group_of_an_unsupported_type_is_one_line(
    score_file: Path, capsys: pytest.CaptureFixture[str], column: str, kind: str, option: str
) -> None:
    extra = [option, column] + (["--group-b", column] if option == "--group-a" else [])
    code = main(audit(score_file, *extra))
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.strip() == (
        f"error: {option} gives values of type {kind}, not one text or number per row; "
        "cast it, e.g. CAST(... AS VARCHAR)"
    )
    assert captured.out == ""
