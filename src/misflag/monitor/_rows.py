"""Counts become long-table rows: rates with Wilson intervals, ratios (MOVER-R) and differences (Newcombe)
to the reference, pending counts, and suppression of group-periods under the minimum cell."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from math import isfinite
from typing import Any

import numpy as np
import pyarrow as pa

from misflag._withheld import public_reason
from misflag.monitor._spec import MonitorSpec
from misflag.monitor._watch import Series
from misflag.result import COLUMNS
from misflag.stats import difference_limits, ratio_limits, wilson_limits

SMALL_DENOMINATOR = 30
SMALL_NOTE = f"denominator under {SMALL_DENOMINATOR}: interval is wide and unstable"


#: The per-period table's columns: the period's start, then the long table's.
FIELDS = ("time", *COLUMNS)
#: The fields held as numpy chunks, by type; the rest are texts.
_NUMBERS: dict[str, type] = {
    "value": float,
    "ci_low": float,
    "ci_high": float,
    "denominator": float,
    "suppressed": bool,
}


@dataclass(frozen=True)
class Coded:
    """A grid of texts as positions in a short vocabulary: a table of thousands of rows holds a few
    dozen distinct texts (labels, periods, metrics, warnings), so rows carry integers and each text is
    encoded once."""

    codes: np.ndarray  # int64, broadcastable to the rows' grid
    vocabulary: tuple[str | None, ...]

    def __getitem__(self, index: Any) -> Coded:
        return Coded(self.codes[index], self.vocabulary)


class Rows:
    """Long-table rows held column by column, appended block by block: texts as codes into each block's
    vocabulary, numbers and flags as numpy chunks (NaN for a missing number).

    The per-period table has a row per label, period and figure (8,395 for five groups over a year), so
    its rows are built as whole columns from the count grids rather than one dict per row, and its Arrow
    table from buffers: the numbers' own, and the texts' gathered from their encoded vocabulary.
    Iterating gives the rows as dicts (what `rows_to_table` reads), with numbers that are not finite as
    None, as `misflag.result.make_row` makes them.
    """

    def __init__(self) -> None:
        self.texts: dict[str, list[Coded]] = {name: [] for name in FIELDS if name not in _NUMBERS}
        self.numbers: dict[str, list[np.ndarray]] = {name: [] for name in _NUMBERS}

    def __len__(self) -> int:
        return sum(len(chunk.codes) for chunk in self.texts["metric"])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        columns = [self.column(name) for name in FIELDS]
        return (dict(zip(FIELDS, row, strict=True)) for row in zip(*columns, strict=True))

    def __iadd__(self, other: Rows) -> Rows:
        for name, chunks in other.texts.items():
            self.texts[name] += chunks
        for name, values in other.numbers.items():
            self.numbers[name] += values
        return self

    def add(self, keep: np.ndarray, **fields: Any) -> None:
        """Append the cells of `keep` (C order) of grids that broadcast to its shape (texts as `Coded`)."""
        for name in FIELDS:
            field = fields[name]
            if name in _NUMBERS:
                self.numbers[name].append(np.broadcast_to(field, keep.shape)[keep].astype(_NUMBERS[name]))
            else:
                self.texts[name].append(
                    Coded(np.broadcast_to(field.codes, keep.shape)[keep], field.vocabulary)
                )

    def _joined(self, name: str) -> np.ndarray:
        return np.concatenate(self.numbers[name]) if self.numbers[name] else np.zeros(0, _NUMBERS[name])

    def _coded(self, name: str) -> Coded:
        """A text field's blocks as one `Coded` (their vocabularies one after the other)."""
        chunks = self.texts[name]
        starts = np.cumsum([0] + [len(chunk.vocabulary) for chunk in chunks])
        codes = [chunk.codes + start for chunk, start in zip(chunks, starts.tolist(), strict=False)]
        vocabulary = tuple(text for chunk in chunks for text in chunk.vocabulary)
        return Coded(np.concatenate(codes) if codes else np.zeros(0, np.int64), vocabulary)

    def column(self, name: str) -> list[Any]:
        """One field as Python values (None for a missing text or a number that is not finite)."""
        if name not in _NUMBERS:
            return _values(self._coded(name))
        values = self._joined(name).tolist()
        return values if _NUMBERS[name] is bool else [v if isfinite(v) else None for v in values]

    def arrow(self, schema: pa.Schema) -> pa.Table:
        """The rows as an Arrow table of `schema` (fields named as FIELDS), from buffers."""
        columns = []
        for field in schema:
            if field.name not in _NUMBERS:
                columns.append(_string_array(self._coded(field.name)))
                continue
            values = self._joined(field.name)
            valid = np.isfinite(values) if _NUMBERS[field.name] is float else np.ones(len(values), bool)
            data = (
                np.packbits(values, bitorder="little")
                if values.dtype == bool
                else np.where(valid, values, 0.0)
            )
            bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
            nulls = len(values) - int(valid.sum())
            columns.append(
                pa.Array.from_buffers(field.type, len(values), [bitmap, pa.py_buffer(data)], null_count=nulls)
            )
        return pa.Table.from_arrays(columns, schema=schema)


def _values(coded: Coded) -> list[str | None]:
    """The texts of every row."""
    vocabulary = np.empty(len(coded.vocabulary), dtype=object)
    vocabulary[:] = coded.vocabulary
    return list(vocabulary[coded.codes].tolist())


def _string_array(coded: Coded) -> pa.Array:
    """An Arrow string array (None as null) from codes: each distinct text is encoded once and the rows'
    bytes joined from those (a tenth of the time of encoding every row's text, and of numpy's gather).
    Not Arrow's own `take`: it loads pyarrow.compute, which no monitor run imports (test_monitor_cli)."""
    encoded = [(text or "").encode() for text in coded.vocabulary]
    sizes = np.array([len(text) for text in encoded], dtype=np.int64)
    offsets = np.zeros(len(coded.codes) + 1, dtype=np.int64)
    np.cumsum(sizes[coded.codes], out=offsets[1:])
    if offsets[-1] >= 2**31:  # past a string array's 32-bit offsets
        return pa.array(_values(coded), pa.string())
    data = b"".join([encoded[code] for code in coded.codes.tolist()])
    valid = np.array([text is not None for text in coded.vocabulary], dtype=bool)[coded.codes]
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    buffers = [bitmap, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)]
    return pa.Array.from_buffers(
        pa.string(), len(coded.codes), buffers, null_count=len(valid) - int(valid.sum())
    )


def _texts(*choices: tuple[np.ndarray | bool, str | None], shape: tuple[int, ...]) -> Coded:
    """A grid of texts: the first choice whose condition holds, else None."""
    codes = np.zeros(shape, dtype=np.int64)
    for code, (condition, _) in reversed(list(enumerate(choices, start=1))):
        codes[np.broadcast_to(condition, shape)] = code
    return Coded(codes, (None, *(text for _, text in choices)))


def _labels(values: Sequence[Any], shape: tuple[int, ...], axis: int) -> Coded:
    """A grid holding values[i] along `axis` (labels along axis 0, periods along axis 1)."""
    column = np.arange(len(values), dtype=np.int64)
    codes = np.broadcast_to(np.expand_dims(column, [a for a in range(len(shape)) if a != axis]), shape)
    return Coded(codes, tuple(values))


def _constant(text: str) -> Coded:
    """The same text in every row."""
    return Coded(np.zeros((), dtype=np.int64), (text,))


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
) -> Rows:
    """Rows for every label x column of `totals` (labels, columns): one column per period, or one pooled.

    A label's column with fewer than `min_cell` rows (or marked in `hidden`) is suppressed whole; ratios and differences are also
    suppressed where the reference's column is, so no suppressed rate can be recovered from a ratio. Every
    withheld row carries the one `public_reason`: a reason naming its rule would tell which are small.
    Order: per label and column its count and pending counts, then per metric its rates, then its ratios and
    differences per other label, column and kind.
    """
    labels = next(iter(metrics.values())).labels if metrics else []
    hidden = totals < min_cell if hidden is None else hidden | (totals < min_cell)
    out = Rows()
    if not labels:  # no metric watched for these labels (a pool without a fall metric)
        return out
    shape = (len(labels), totals.shape[1])
    common = {"attribute": _constant(attribute), "stage": _constant(stage)}
    label_grid, time_grid = _labels(labels, shape, 0), _labels(times, shape, 1)
    names = ["n", *(pending or {})]
    counts = np.stack([totals, *(pending or {}).values()], axis=-1).astype(float)  # (labels, columns, 1 + P)
    cube = (*shape, len(names))
    shown = ~hidden[..., None]
    out.add(
        shown | (np.arange(len(names)) == 0),  # a suppressed cell keeps only its count row
        time=time_grid[..., None],
        group=label_grid[..., None],
        metric=_labels(names, cube, 2),
        value=np.where(shown, counts, np.nan),
        ci_low=np.array(np.nan),
        ci_high=np.array(np.nan),
        denominator=np.where(shown, totals[..., None], np.nan),
        suppressed=~shown,
        warning=_texts((~shown, public_reason(min_cell)), shape=cube),
        **common,
    )
    for metric, data in metrics.items():
        low, high = wilson_limits(data.x, data.n)
        out.add(
            np.ones(shape, dtype=bool),
            time=time_grid,
            group=label_grid,
            metric=_constant(metric),
            value=np.where(hidden, np.nan, data.rate),
            ci_low=np.where(hidden, np.nan, low),
            ci_high=np.where(hidden, np.nan, high),
            denominator=np.where(hidden, np.nan, data.rows),
            suppressed=hidden,
            warning=_texts(
                (hidden, public_reason(min_cell)),
                (data.rows == 0, "undefined: nobody in the denominator"),
                (data.rows < SMALL_DENOMINATOR, SMALL_NOTE),
                shape=shape,
            ),
            **common,
        )
        if reference is not None:
            _comparisons(out, data, metric, reference, hidden, time_grid, common, public_reason(min_cell))
    return out


def _comparisons(
    out: Rows,
    data: Series,
    metric: str,
    reference: int,
    hidden: np.ndarray,
    time_grid: Coded,
    common: dict[str, Coded],
    reason: str,
) -> None:
    ref_x, ref_n = data.x[reference][None, :], data.n[reference][None, :]
    ratio_low, ratio_high = ratio_limits(data.x, data.n, ref_x, ref_n)
    diff_low, diff_high = difference_limits(data.x, data.n, ref_x, ref_n)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = data.rate / data.rate[reference][None, :]
        diff = data.rate - data.rate[reference][None, :]
    others = np.arange(len(data.labels)) != reference
    cube = (int(others.sum()), data.x.shape[1], 2)  # other labels, columns, (ratio, diff)

    def pick(first: np.ndarray, second: np.ndarray) -> np.ndarray:
        return np.stack([first[others], second[others]], axis=-1)

    value = pick(ratio, diff)
    withheld = (hidden[others] | hidden[reference][None, :])[..., None]
    rows = np.minimum(data.rows[others], data.rows[reference][None, :])[..., None]
    label_ref = data.labels[reference]
    out.add(
        np.ones(cube, dtype=bool),
        time=time_grid[others][..., None],
        group=_labels([g for g, other in zip(data.labels, others, strict=True) if other], cube, 0),
        metric=_labels([f"{metric}_ratio", f"{metric}_diff"], cube, 2),
        value=np.where(withheld, np.nan, value),
        ci_low=np.where(withheld, np.nan, pick(ratio_low, diff_low)),
        ci_high=np.where(withheld, np.nan, pick(ratio_high, diff_high)),
        denominator=np.where(withheld, np.nan, data.rows[others][..., None]),
        suppressed=np.broadcast_to(withheld, cube),
        warning=_texts(
            (withheld, reason),
            (
                ~np.isfinite(value),
                f"vs {label_ref}; undefined: reference rate is 0 or a denominator is empty",
            ),
            (
                rows < SMALL_DENOMINATOR,
                f"vs {label_ref}; {SMALL_NOTE}",
            ),
            (True, f"vs {label_ref}"),
            shape=cube,
        ),
        **common,
    )


def group_rows(
    spec: MonitorSpec,
    shown: list[str],
    times: list[str],
    group_series: dict[str, Any],
    reference: int,
    pending: dict[str, np.ndarray],
    hidden: np.ndarray,
) -> tuple[Rows, Rows]:
    """The groups' rows per period and pooled; `hidden` (groups, periods): the group-periods withheld
    (under the minimum cell, or withheld by an earlier output of the state file)."""
    totals = pending["rows"]
    extra = {}
    if spec.truth is not None:
        extra["pending_truth_count"] = pending["pending_truth"]
    if len(spec.pipeline) > 1:
        extra["pending_review_count"] = pending["pending_review"]
    by_period = emit_rows(
        "group", "period", times, totals, group_series, reference, spec.min_cell, extra, hidden
    )
    overall = pooled_rows("group", totals, group_series, reference, spec.min_cell, extra, hidden)
    return by_period, overall


def pooled_rows(
    attribute: str,
    totals: np.ndarray,
    data: dict[str, Any],
    reference: int | None,
    min_cell: int,
    pending: dict[str, np.ndarray] | None,
    hidden: np.ndarray,
) -> Rows:
    """The whole span and the latest period as long-table rows (the result's main table).

    A label's suppressed periods are left out of its pooled figures, so pooled minus shown periods
    never recovers a suppressed one.
    """
    keep = ~hidden

    def part_sum(values: np.ndarray, part: slice) -> np.ndarray:
        return np.asarray((values * keep)[:, part].sum(1, keepdims=True), dtype=float)

    rows = Rows()
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
