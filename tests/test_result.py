"""The one result table converts to pandas, Polars, Arrow, JSON and CSV, and round-trips as a bundle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from misflag.errors import InputError
from misflag.result import COLUMNS, SCHEMA, AuditResult, make_row, rows_to_table


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


def _hostile_rows(seed: int) -> list[dict[str, object]]:
    """Rows with every kind of value the long table holds: quotes, backslashes, controls, bidi, non-ASCII
    and formula-looking text, None, bools, and floats from tiny to huge, negative zero and non-finite."""
    import random

    picker = random.Random(seed)
    texts = [
        'a"b',
        "c\\d",
        "\x00\x1b[2J",
        "\u202eevil",
        "é 漢 😀",
        "=1+1",
        " -3",
        "@x",
        "",
        "line\nbreak",
        "\t",
    ]
    numbers = [0.0, -0.0, 1e-300, 1.7976931348623157e308, 0.1 + 0.2, -12.5, 1e16, float("nan"), float("inf")]
    return [
        {
            "attribute": picker.choice(texts),
            "group": picker.choice([*texts, None]),
            "stage": picker.choice(texts),
            "metric": picker.choice(["fpr", "n", *texts]),
            "value": picker.choice([*numbers, None]),
            "ci_low": picker.choice([*numbers, None]),
            "ci_high": picker.choice([*numbers, None]),
            "denominator": picker.choice([*numbers, None, 3]),
            "suppressed": picker.random() < 0.5,
            "warning": picker.choice([*texts, None]),
        }
        for _ in range(300)
    ]


@pytest.mark.parametrize("seed", range(5))
def test_json_and_csv_are_what_the_standard_library_writes(seed: int) -> None:
    """to_json is json.dumps(rows, indent=1) byte for byte, to_csv csv.DictWriter's text with formula cells
    neutralised and None empty, and rows() Arrow's own to_pylist with non-finite numbers as None."""
    import csv
    import io
    import math

    from misflag.io import neutralise_csv_cell

    result = AuditResult(kind="decisions", table=rows_to_table(_hostile_rows(seed)))
    expected_rows = [
        {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}
        for row in result.table.to_pylist()
    ]
    assert result.rows() == expected_rows
    assert result.to_json() == json.dumps(expected_rows, indent=1)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in expected_rows:
        writer.writerow({k: "" if v is None else neutralise_csv_cell(v) for k, v in row.items()})
    assert result.to_csv() == buffer.getvalue()


def test_an_empty_table_writes_an_empty_list() -> None:
    result = AuditResult(kind="decisions", table=rows_to_table([]))
    assert result.to_json() == json.dumps([], indent=1) and result.rows() == []


def test_rows_are_cleaned_once_and_alike_from_dicts_and_make_row() -> None:
    """make_row turns NaN and infinities (numpy's too) into None; rows_to_table does the same for rows
    written by hand, in every float column, and a NaN in a text or flag column is null as before. The
    expected table is built by pyarrow's own converter from values cleaned by hand."""
    made = make_row("race", "Black", "all", "fpr", np.float64("nan"), -np.inf, np.int64(3), 7)
    assert made["value"] is None and made["ci_low"] is None
    assert made["ci_high"] == 3.0 and type(made["ci_high"]) is float
    assert made["denominator"] == 7.0 and type(made["denominator"]) is float
    by_hand = {
        **made,
        "value": float("inf"),
        "ci_low": 0.25,
        "ci_high": float("nan"),
        "denominator": None,
        "warning": float("nan"),
    }
    flag_nan = {**made, "suppressed": float("nan")}
    table = rows_to_table([made, by_hand, flag_nan])
    table.validate(full=True)
    expected = pa.table(
        {
            "attribute": ["race"] * 3,
            "group": ["Black"] * 3,
            "stage": ["all"] * 3,
            "metric": ["fpr"] * 3,
            "value": [None, None, None],
            "ci_low": [None, 0.25, None],
            "ci_high": [3.0, None, 3.0],
            "denominator": [7.0, None, 7.0],
            "suppressed": [False, False, None],
            "warning": [None, None, None],
        },
        schema=SCHEMA,
    )
    assert table.equals(expected)
