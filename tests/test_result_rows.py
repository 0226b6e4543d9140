"""A result made from its rows (`AuditResult(kind, rows=...)`, the decision audit's) reads exactly as one
made from the Arrow table `rows_to_table` builds of the same rows, and loads pyarrow only when its
Arrow table is asked for.

The expected values are pyarrow's own: the table built from the rows, read back with `to_pylist`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from misflag.errors import InputError
from misflag.result import COLUMNS, AuditResult, make_row, rows_to_table
from tests.test_result import _hostile_rows


def _both(rows: list[dict[str, Any]]) -> tuple[AuditResult, AuditResult]:
    return AuditResult("decisions", rows=rows), AuditResult("decisions", table=rows_to_table(rows))


@pytest.mark.parametrize("seed", range(5))
def test_rows_json_csv_and_table_are_the_arrow_tables(seed: int) -> None:
    """Quotes, controls, bidi, emoji, '' and None text; -0.0, 1e308, NaN, inf, whole numbers and None."""
    from_rows, from_table = _both(_hostile_rows(seed))
    assert from_rows.rows() == from_table.rows()
    assert from_rows.to_json() == from_table.to_json()
    assert from_rows.to_csv() == from_table.to_csv()
    assert from_rows.table.equals(from_table.table)
    assert from_rows == from_table
    # -0.0 == 0.0 in Python: the sign is compared as JSON writes it
    assert [repr(r["value"]) for r in from_rows.rows()] == [repr(r["value"]) for r in from_table.rows()]


def test_values_only_arrow_converts_take_arrows_path() -> None:
    """numpy scalars (what a caller's own rows may hold) are converted by pyarrow, as before."""
    rows = [make_row("race", "a", "all", "n", 3, denominator=3) for _ in range(3)]
    rows[0]["value"], rows[1]["denominator"], rows[2]["suppressed"] = (
        np.float64(0.5),
        np.int64(7),
        np.bool_(True),
    )
    from_rows, from_table = _both(rows)
    assert from_rows.rows() == from_table.rows()
    assert from_rows.to_json() == from_table.to_json()
    assert json.loads(from_rows.to_json())[2]["suppressed"] is True


def test_hand_written_floats_read_as_arrows() -> None:
    """Finite values whose sum passes the float range (the columns' NaN shortcut cannot tell them from an
    infinity, so they are checked one by one), whole numbers, NaN and infinities, written by hand."""
    rows = [make_row("race", "a", "all", "n", 1.0) for _ in range(4)]
    rows[0]["value"], rows[1]["value"] = 1.7e308, 1.7e308
    rows[2]["ci_low"], rows[3]["ci_high"] = float("nan"), float("-inf")
    rows[0]["denominator"] = 10**6
    from_rows, from_table = _both(rows)
    assert [r["value"] for r in from_rows.rows()] == [1.7e308, 1.7e308, 1.0, 1.0]
    assert [r["ci_low"] for r in from_rows.rows()] == [None] * 4
    assert from_rows.rows()[0]["denominator"] == 1e6
    assert from_rows.rows() == from_table.rows()
    assert from_rows.to_json() == from_table.to_json()


def test_refusals_are_rows_to_tables() -> None:
    with pytest.raises(InputError, match="result row lacks column"):
        AuditResult("decisions", rows=[{"attribute": "race"}])
    lone = [make_row("race", "\udcff", "all", "n", 1)]  # a lone surrogate: Arrow cannot encode it
    with pytest.raises(UnicodeEncodeError):
        rows_to_table(lone)
    with pytest.raises(UnicodeEncodeError):
        AuditResult("decisions", rows=lone)
    with pytest.raises(TypeError):
        AuditResult("decisions")
    with pytest.raises(TypeError):
        AuditResult("decisions", table=rows_to_table(lone[:0]), rows=[])


def test_an_empty_result_from_rows() -> None:
    from_rows, from_table = _both([])
    assert from_rows.to_json() == "[]" == from_table.to_json()
    assert from_rows.table.num_rows == 0 and from_rows.table.column_names == list(COLUMNS)


#: In a fresh process: pyarrow loaded after each step of a rows-made result's life.
PROBE = """
import sys
from misflag.result import AuditResult, make_row
steps = []
result = AuditResult("decisions", rows=[make_row("race", "a", "all", "fpr", 0.5, 0.4, 0.6, 10)])
steps.append("pyarrow" in sys.modules)
result.to_json(), result.to_csv(), result.rows()
steps.append("pyarrow" in sys.modules)
result.table
steps.append("pyarrow" in sys.modules)
print(steps)
"""


def test_pyarrow_loads_only_for_the_arrow_table() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == "[False, False, True]"
