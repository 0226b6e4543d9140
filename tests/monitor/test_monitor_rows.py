"""The per-period table's rows (built column by column from the count grids) equal the row-by-row loop they
replaced, field for field and in order, on random grids with suppressed cells, empty denominators, zero
reference rates and small counts. The reference below is that loop, one `make_row` per row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from misflag._withheld import public_reason
from misflag.monitor._output import PERIOD_SCHEMA
from misflag.monitor._rows import SMALL_DENOMINATOR, Coded, _string_array, emit_rows
from misflag.monitor._watch import Series
from misflag.result import make_row
from misflag.stats import difference_limits, ratio_limits, wilson_limits


def _note(denominator: float) -> str | None:
    if denominator == 0:
        return "undefined: nobody in the denominator"
    if denominator < SMALL_DENOMINATOR:
        return f"denominator under {SMALL_DENOMINATOR}: interval is wide and unstable"
    return None


def _reference_rows(
    attribute: str,
    stage: str,
    times: Sequence[str | None],
    totals: np.ndarray,
    metrics: dict[str, Series],
    reference: int | None,
    min_cell: int,
    pending: dict[str, np.ndarray] | None = None,
    hidden: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Rows for every label x column of `totals` (labels, columns): one column per period, or one pooled.

    A label's column with fewer than `min_cell` rows (or marked in `hidden`) is suppressed whole; ratios and differences are also
    suppressed where the reference's column is, so no suppressed rate can be recovered from a ratio.
    """
    labels = next(iter(metrics.values())).labels if metrics else []
    hidden = totals < min_cell if hidden is None else hidden | (totals < min_cell)
    out: list[dict[str, Any]] = []

    def add(label: str, column: int, metric: str, *values: Any, **extra: Any) -> None:
        row = make_row(attribute, label, stage, metric, *values, **extra)
        row["time"] = times[column]
        out.append(row)

    for g, label in enumerate(labels):
        for column in range(totals.shape[1]):
            if hidden[g, column]:
                add(
                    label,
                    column,
                    "n",
                    None,
                    suppressed=True,
                    warning=public_reason(min_cell),
                )
                continue
            add(label, column, "n", totals[g, column], denominator=totals[g, column])
            for name, values in (pending or {}).items():
                add(label, column, name, values[g, column], denominator=totals[g, column])
    for metric, data in metrics.items():
        low, high = wilson_limits(data.x, data.n)
        for g, label in enumerate(labels):
            for column in range(totals.shape[1]):
                if hidden[g, column]:
                    add(label, column, metric, None, suppressed=True, warning=public_reason(min_cell))
                    continue
                rows = data.rows[g, column]
                add(
                    label,
                    column,
                    metric,
                    data.rate[g, column],
                    low[g, column],
                    high[g, column],
                    rows,
                    warning=_note(rows),
                )
        if reference is not None:
            _reference_comparisons(data, metric, reference, hidden, add, public_reason(min_cell))
    return out


def _reference_comparisons(
    data: Series, metric: str, reference: int, hidden: np.ndarray, add: Any, reason: str
) -> None:
    ref_x, ref_n = data.x[reference][None, :], data.n[reference][None, :]
    ratio_low, ratio_high = ratio_limits(data.x, data.n, ref_x, ref_n)
    diff_low, diff_high = difference_limits(data.x, data.n, ref_x, ref_n)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = data.rate / data.rate[reference][None, :]
        diff = data.rate - data.rate[reference][None, :]
    label_ref = data.labels[reference]
    for g, label in enumerate(data.labels):
        if g == reference:
            continue
        for column in range(data.x.shape[1]):
            for suffix, value, low, high in (
                ("ratio", ratio, ratio_low, ratio_high),
                ("diff", diff, diff_low, diff_high),
            ):
                name = f"{metric}_{suffix}"
                if hidden[g, column] or hidden[reference, column]:
                    add(label, column, name, None, suppressed=True, warning=reason)
                    continue
                rows = min(data.rows[g, column], data.rows[reference, column])
                notes = [f"vs {label_ref}"]
                if not np.isfinite(value[g, column]):
                    notes.append("undefined: reference rate is 0 or a denominator is empty")
                elif rows < SMALL_DENOMINATOR:
                    notes.append(f"denominator under {SMALL_DENOMINATOR}: interval is wide and unstable")
                add(
                    label,
                    column,
                    name,
                    value[g, column],
                    low[g, column],
                    high[g, column],
                    data.rows[g, column],
                    warning="; ".join(notes),
                )


def _series(rng: np.random.Generator, labels: list[str], periods: int) -> Series:
    n = rng.choice([0, 0, 3, 12, 29, 30, 80], (len(labels), periods)).astype(float)
    x = np.floor(n * rng.choice([0.0, 0.1, 0.5, 1.0], n.shape))
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, x / np.where(n > 0, n, 1.0), np.nan)
    return Series(labels, x, n, n.copy(), rate)


@pytest.mark.parametrize("seed", range(6))
def test_rows_equal_the_row_by_row_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels, periods = ["A", "B", "C é", "D"][: 2 + seed % 3], 3 + seed
    metrics = {"fpr": _series(rng, labels, periods), "fnr": _series(rng, labels, periods)}
    totals = rng.integers(0, 40, (len(labels), periods)).astype(float)
    pending = {"pending_truth_count": rng.integers(0, 5, totals.shape)}
    times: Sequence[str | None] = [f"2024-01-0{i + 1}" for i in range(periods)]
    hidden = rng.random(totals.shape) < 0.2
    for reference, extra, hide in (
        (seed % len(labels), pending, None),
        (None, None, hidden),
        (0, {}, hidden),
    ):
        rows = emit_rows("group", "period", times, totals, metrics, reference, 10, extra, hide)
        old = _reference_rows("group", "period", times, totals, metrics, reference, 10, extra, hide)
        assert list(rows) == old
        assert rows.arrow(PERIOD_SCHEMA).to_pylist() == old  # the Arrow table built from the buffers
        assert any(row["suppressed"] for row in old) and any(row["value"] is None for row in old)


def test_no_metric_gives_no_rows() -> None:
    assert list(emit_rows("reviewer_pool", "period", ["t"], np.ones((2, 1)) * 50, {}, None, 10)) == []


def test_text_columns_equal_pyarrows_own_conversion() -> None:
    """Texts gathered from their encoded vocabulary equal pyarrow's conversion of the same Python
    values: NULL, the empty text, several-byte characters, repeated and unused entries, in any order."""
    vocabulary = (None, "", "A", "é", "日本語 group", "vs A; undefined", "A", "unused")
    rng = np.random.default_rng(7)
    codes = rng.integers(0, len(vocabulary) - 1, 500)
    values = [vocabulary[code] for code in codes.tolist()]
    built = _string_array(Coded(codes, vocabulary))
    assert built.equals(pa.array(values, pa.string()))
    assert built.null_count == values.count(None) > 0
    assert _string_array(Coded(np.zeros(0, np.int64), vocabulary)).to_pylist() == []
