"""Counts become long-table rows: rates with Wilson intervals, ratios (MOVER-R) and differences (Newcombe)
to the reference, pending counts, and suppression of group-periods under the minimum cell."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from misflag.monitor._spec import MonitorSpec
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


def group_rows(
    spec: MonitorSpec,
    shown: list[str],
    times: list[str],
    group_series: dict[str, Any],
    reference: int,
    pending: dict[str, np.ndarray],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], np.ndarray]:
    """The groups' rows per period and pooled, and which periods any group withholds."""
    totals = pending["rows"]
    extra = {}
    if spec.truth is not None:
        extra["pending_truth_count"] = pending["pending_truth"]
    if len(spec.pipeline) > 1:
        extra["pending_review_count"] = pending["pending_review"]
    by_period = emit_rows("group", "period", times, totals, group_series, reference, spec.min_cell, extra)
    overall = pooled_rows(
        "group", totals, group_series, reference, spec.min_cell, extra, totals < spec.min_cell
    )
    return by_period, overall, np.asarray((totals < spec.min_cell).any(axis=0))


def pooled_rows(
    attribute: str,
    totals: np.ndarray,
    data: dict[str, Any],
    reference: int | None,
    min_cell: int,
    pending: dict[str, np.ndarray] | None,
    hidden: np.ndarray,
) -> list[dict[str, Any]]:
    """The whole span and the latest period as long-table rows (the result's main table).

    A label's suppressed periods are left out of its pooled figures, so pooled minus shown periods
    never recovers a suppressed one.
    """
    keep = ~hidden

    def part_sum(values: np.ndarray, part: slice) -> np.ndarray:
        return np.asarray((values * keep)[:, part].sum(1, keepdims=True), dtype=float)

    rows = []
    for stage, part in (("all periods", slice(None)), ("latest period", slice(-1, None))):
        summed = {}
        for m, s in data.items():
            x, n = part_sum(s.x, part), part_sum(s.n, part)
            with np.errstate(invalid="ignore", divide="ignore"):
                rate = np.where(n > 0, x / np.where(n > 0, n, 1.0), np.nan)
            summed[m] = Series(s.labels, x, n, part_sum(s.rows, part), rate)
        extra = {k: part_sum(v, part) for k, v in (pending or {}).items()}
        rows += emit_rows(
            attribute, stage, [None], part_sum(totals, part), summed, reference, min_cell, extra
        )
    return rows
