"""The one result table converts to pandas, Polars, Arrow, JSON and CSV, and round-trips as a bundle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from misflag.errors import InputError
from misflag.result import COLUMNS, AuditResult, make_row, rows_to_table


def _result() -> AuditResult:
    rows = [
        make_row("race", "a", "decision", "fpr", 0.25, 0.2, 0.3, 400),
        make_row("race", "b", "decision", "fpr", None, suppressed=True, warning="suppressed"),
    ]
    return AuditResult(kind="decisions", table=rows_to_table(rows), summary="s", metadata={"seed": 1})


def test_conversions_keep_the_schema() -> None:
    result = _result()
    assert list(result.to_pandas().columns) == list(COLUMNS)
    assert result.to_polars().columns == list(COLUMNS)
    assert result.to_arrow().column_names == list(COLUMNS)
    rows = json.loads(result.to_json())
    assert [set(r) for r in rows] == [set(COLUMNS)] * 2
    assert result.to_csv().splitlines()[0] == ",".join(COLUMNS)


def test_bundle_round_trip(tmp_path: Path) -> None:
    result = _result()
    loaded = AuditResult.load(result.save(tmp_path / "r.json"))
    assert loaded.rows() == result.rows() and loaded.metadata == {"seed": 1} and loaded.kind == "decisions"
    (tmp_path / "rows.json").write_text(result.to_json())
    assert AuditResult.load(tmp_path / "rows.json").rows() == result.rows()


def test_bad_result_files(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InputError, match="not valid JSON"):
        AuditResult.load(tmp_path / "bad.json")
    with pytest.raises(InputError, match="does not exist"):
        AuditResult.load(tmp_path / "missing.json")


def test_a_missing_group_value_is_null_everywhere(tmp_path: Path) -> None:
    rows = [make_row("race", None, "decision", "fpr", 0.5, 0.3, 0.7, 20, warning=None)]
    result = AuditResult(kind="decisions", table=rows_to_table(rows))
    assert result.to_arrow().column("group").null_count == 1
    assert json.loads(result.to_json())[0]["group"] is None
    assert AuditResult.load(result.save(tmp_path / "r.json")).rows()[0]["group"] is None
