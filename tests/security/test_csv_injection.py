"""CSV outputs neutralise formulas: a text cell starting with =, +, -, @, tab or CR gets a leading `'`."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from misflag.cli import main
from misflag.commands._output import write_table
from misflag.io import neutralise_csv_cell

FORMULAS = ["=cmd|' /C calc'!A0", "+SUM(A1)", "-2+3", "@SUM(1)", "\t=1", "\r=1"]


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_text_is_neutralised(text: str) -> None:
    assert neutralise_csv_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["plain", "", "a=b", 'he said "=1"', -3, -0.5, None, True])
def test_other_values_are_untouched(value: object) -> None:
    assert neutralise_csv_cell(value) == value


def test_audit_csv_output_neutralises_group_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    groups = ["=cmd|' /C calc'!A0", "@SUM(1)", "+1", "plain"]
    rows = [f"{groups[i % 4]},{int(i % 3 == 0)},{int(i % 2 == 0)}" for i in range(200)]
    log = tmp_path / "log.csv"
    log.write_text("grp,flag,truth\n" + "\n".join(rows) + "\n", encoding="utf-8")
    options = ["--flag", "flag", "--truth", "truth", "--group", "grp", "--replicates", "100"]
    code = main(["decisions", "audit", str(log), *options, "--format", "csv"])
    assert code == 0
    cells = [cell for row in csv.reader(io.StringIO(capsys.readouterr().out)) for cell in row]
    seen = {cell for cell in cells if cell.lstrip("'") in groups}
    assert {"'=cmd|' /C calc'!A0", "'@SUM(1)", "'+1", "plain"} <= seen
    assert not any(cell[:1] in {"=", "+", "@", "\t", "\r"} for cell in cells)
    numbers = [cell for cell in cells if cell.startswith("-")]
    assert all(float(cell) < 0 for cell in numbers)  # negative numbers stay numbers


def test_written_tables_neutralise_text_and_keep_numbers(tmp_path: Path) -> None:
    table = pa.table({"id": ["=1+1", "ok", "-x"], "score": [-0.25, 0.5, 1.0], "n": [1, -2, 3]})
    target = tmp_path / "sample.csv"
    write_table(table, target, default="csv")
    back = pacsv.read_csv(target)
    assert back.column("id").to_pylist() == ["'=1+1", "ok", "'-x"]
    assert back.column("score").to_pylist() == [-0.25, 0.5, 1.0]
    assert back.column("n").to_pylist() == [1, -2, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample.csv"]  # no partial file left
