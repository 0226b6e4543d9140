"""The monitor's count table as numpy arrays, and the sums over it that the statistics need.

One entry per distinct (period, group, pool, stage flags, truth, weight) with its row count `n`. Periods
are numpy datetime64[ns] (the span 1678-2261 that monitoring supports), groups and pool digests Python
strings (None: no pool), flags, truth and weights float64 (NaN: NULL). Columns are read from Arrow's
buffers: pyarrow's `to_numpy` imports pandas, a third of a second and about 100 MiB on every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from misflag._arrow import buffer_values


@dataclass(frozen=True)
class Cells:
    """The count table: equal-length arrays, one entry per cell."""

    period: np.ndarray  # datetime64[ns]
    g: np.ndarray  # object: str
    pool: np.ndarray  # object: str or None
    stages: tuple[np.ndarray, ...]  # float64, NaN = NULL (pending)
    t: np.ndarray  # float64, NaN = NULL (truth pending)
    w: np.ndarray  # float64
    n: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.n)

    @property
    def first(self) -> np.ndarray:
        return self.stages[0]

    @property
    def final(self) -> np.ndarray:
        return self.stages[-1]

    def columns(self) -> dict[str, np.ndarray]:
        """Every column by the name the SQL and the state file give it, in their order."""
        flags = {f"s{i}": values for i, values in enumerate(self.stages)}
        return {
            "period": self.period,
            "g": self.g,
            "pool": self.pool,
            **flags,
            "t": self.t,
            "w": self.w,
            "n": self.n,
        }

    def take(self, index: np.ndarray) -> Cells:
        """The cells at `index` (a mask or positions), in that order."""
        return Cells(
            self.period[index],
            self.g[index],
            self.pool[index],
            tuple(values[index] for values in self.stages),
            self.t[index],
            self.w[index],
            self.n[index],
        )

    def summed(self) -> Cells:
        """Equal cells merged (their rows added), sorted by every key with NULLs last."""
        keys = [values for name, values in self.columns().items() if name != "n"]
        codes = [_sort_codes(values) for values in keys]
        order = np.lexsort(codes[::-1])
        if not len(order):
            return self
        changed = np.zeros(len(order), dtype=bool)
        changed[0] = True
        for code in codes:
            ordered = code[order]
            changed[1:] |= ordered[1:] != ordered[:-1]
        starts = np.flatnonzero(changed)
        merged = self.take(order[starts])
        return replace(merged, n=np.add.reduceat(self.n[order], starts))


def concat(parts: Sequence[Cells]) -> Cells:
    """Cells of several tables one after the other."""
    return Cells(
        np.concatenate([p.period for p in parts]),
        np.concatenate([p.g for p in parts]),
        np.concatenate([p.pool for p in parts]),
        tuple(np.concatenate(values) for values in zip(*(p.stages for p in parts), strict=True)),
        np.concatenate([p.t for p in parts]),
        np.concatenate([p.w for p in parts]),
        np.concatenate([p.n for p in parts]),
    )


def _sort_codes(values: np.ndarray) -> np.ndarray:
    """Each value's rank among the distinct values, NULL (None or NaN) ranked last."""
    if values.dtype != object:
        return np.unique(values, return_inverse=True)[1].reshape(-1)
    missing = _missing(values)
    codes = np.empty(len(values), dtype=np.int64)
    uniques, inverse = np.unique(values[~missing], return_inverse=True)
    codes[~missing] = inverse.reshape(-1)
    codes[missing] = len(uniques)
    return codes


def fixed_width(column: pa.ChunkedArray, kind: pa.DataType, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """A column of a fixed-width Arrow type read from its buffers: (values, NULL mask). Chunks of another
    type are cast first (which loads pyarrow.compute, ~0.2 s; the engines' own types need no cast)."""
    values: list[np.ndarray] = [np.zeros(0, dtype=dtype)]
    nulls: list[np.ndarray] = [np.zeros(0, dtype=bool)]
    for chunk in column.chunks:
        chunk_values, chunk_nulls = buffer_values(chunk if chunk.type == kind else chunk.cast(kind), dtype)
        values.append(chunk_values)
        nulls.append(chunk_nulls)
    return np.concatenate(values), np.concatenate(nulls)


#: Nanoseconds per unit of an Arrow timestamp.
_NANOSECONDS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


def nanoseconds(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, bool]:
    """A timestamp column as nanoseconds since 1970 (UTC for a zoned one, as Spark labels naive times):
    (values, NULL mask, whether every time fits datetime64[ns], 1677-2262; if not, values are void)."""
    kind = column.type if pa.types.is_timestamp(column.type) else pa.timestamp("us")
    values, nulls = fixed_width(column, kind, np.int64)
    scale = _NANOSECONDS[kind.unit]
    fits = not np.any(np.abs(values[~nulls]) > (2**63 - 1) // scale)
    return (values * scale if fits else values), nulls, fits


def floats(column: pa.ChunkedArray) -> np.ndarray:
    """A numeric column as float64, NULL as NaN."""
    values, nulls = fixed_width(column, pa.float64(), np.float64)
    return np.where(nulls, np.nan, values)


def texts(column: pa.ChunkedArray) -> np.ndarray:
    """A text column as an object array of str (None for NULL)."""
    out = np.empty(len(column), dtype=object)
    out[:] = column.to_pylist()
    return out


def datetimes(values: Sequence[datetime]) -> np.ndarray:
    """Python datetimes as datetime64[ns]."""
    return np.array(values, dtype="datetime64[ns]").reshape(-1)


def as_datetimes(periods: np.ndarray) -> list[datetime]:
    """datetime64 period starts as Python datetimes (to the microsecond: period starts are whole days)."""
    return list(periods.astype("datetime64[us]").tolist())


def codes_of(values: np.ndarray, labels: Sequence[object]) -> np.ndarray:
    """Each value's position in `labels` (-1 for a value not there, None included)."""
    position = {label: i for i, label in enumerate(labels)}
    missing = _missing(values)
    uniques, inverse = np.unique(np.where(missing, "", values).astype(str), return_inverse=True)
    mapped = np.array([position.get(u, -1) for u in uniques.tolist()], dtype=np.int64)
    codes = mapped[inverse.reshape(-1)] if len(values) else np.zeros(0, dtype=np.int64)
    return np.where(missing, -1, codes)


def factorize(values: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """The distinct values of an object array of texts (no None), sorted, and each value's position
    among them: `np.unique(values, return_inverse=True)`, by a lookup per value instead of sorting
    every value's text (a quarter of the time on the count table's groups)."""
    listed = values.tolist()
    names = sorted(set(listed))
    position = {name: i for i, name in enumerate(names)}
    return names, np.fromiter(map(position.__getitem__, listed), dtype=np.int64, count=len(listed))


def recoded(which: np.ndarray, names: Sequence[object], labels: Sequence[object]) -> np.ndarray:
    """Positions among `names` (as `factorize` gives them) as positions in `labels` (-1 for a name not
    there): `codes_of` over the same values, without reading them again."""
    position = {label: i for i, label in enumerate(labels)}
    return np.array([position.get(name, -1) for name in names], dtype=np.int64)[which]


def _missing(values: np.ndarray) -> np.ndarray:
    """Where an object array holds None."""
    return np.array([v is None for v in values], dtype=bool)


def grid_sum(
    labels: np.ndarray, periods: np.ndarray, values: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """Sums of `values` per (label, period) on the full grid; cells at -1 (a label or period not on the
    grid) are left out. Exact for whole numbers (row counts) below 2**53."""
    keep = (labels >= 0) & (periods >= 0)
    flat = labels[keep] * shape[1] + periods[keep]
    return np.bincount(flat, weights=values[keep], minlength=shape[0] * shape[1]).reshape(shape)


def compensated_grid_sum(
    labels: np.ndarray, periods: np.ndarray, values: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """`grid_sum` with Kahan's compensated summation in cell order, for weighted sums: every grid entry's
    cells are added one at a time (all entries at once), exactly as pandas' groupby sum (the monitor's
    summation before) adds them, so sums of many unequal weights keep their last digits."""
    keep = np.flatnonzero((labels >= 0) & (periods >= 0))
    flat = labels[keep] * shape[1] + periods[keep]
    sort = np.argsort(flat, kind="stable")
    order, ordered = keep[sort], flat[sort]
    entries, starts, sizes = np.unique(ordered, return_index=True, return_counts=True)
    total = np.zeros(shape[0] * shape[1])
    compensation = np.zeros(len(entries))
    running = np.zeros(len(entries))
    for k in range(int(sizes.max()) if len(sizes) else 0):
        active = np.flatnonzero(sizes > k)
        y = values[order[starts[active] + k]] - compensation[active]
        t = running[active] + y
        fixed = t - running[active] - y
        compensation[active] = np.where(np.isnan(fixed), 0.0, fixed)
        running[active] = t
    total[entries] = running
    return total.reshape(shape)
