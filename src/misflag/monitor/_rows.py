"""Counts become long-table rows: rates with Wilson intervals, ratios (MOVER-R) and differences (Newcombe)
to the reference, pending counts, and suppression of group-periods under the minimum cell."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from misflag.monitor._watch import Series
from misflag.result import make_row
from misflag.stats import difference_limits, ratio_limits, wilson_limits

SMALL_DENOMINATOR = 30


def _note(denominator: float) -> str | None:
    if denominator == 0:
        return "undefined: nobody in the denominator"
    if denominator < SMALL_DENOMINATOR:
        return f"denominator under {SMALL_DENOMINATOR}: interval is wide and unstable"
    return None


def emit_rows(
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
                    warning=f"suppressed: fewer than {min_cell} rows",
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
                    add(label, column, metric, None, suppressed=True, warning="suppressed")
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
            _comparisons(data, metric, reference, hidden, add)
    return out


def _comparisons(data: Series, metric: str, reference: int, hidden: np.ndarray, add: Any) -> None:
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
                    add(label, column, name, None, suppressed=True, warning="suppressed")
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
