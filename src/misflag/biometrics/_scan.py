"""The SQL side of a biometric audit: one profile query, one histogram aggregate, narrow bin look-ups.

Every count comes from the histogram of scores per (group, group of each sample, genuine) and bin, with
one extra key per given threshold (score >= T), so counts at given thresholds are exact. Where a
threshold must be found (a target FMR) or an exact crossing (the EER), only the rows of the few bins
involved are read back: the bin of a score is monotone in the score, so every row of a higher bin is
above every row of a lower one, and counts stay exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from misflag._arrow import NUMPY_DTYPES, buffer_values
from misflag.biometrics._span import score_span
from misflag.biometrics._spec import BiometricSpec
from misflag.engine import Engine
from misflag.errors import InputError
from misflag.io import check_expression, precheck_expression

MISSING_GROUP = "(missing)"
#: Most distinct (group, sample groups, genuine) keys an audit holds (each gets a row of bins).
MAX_KEYS = 4000
#: Most histogram cells (keys x bins) held in memory.
MAX_CELLS = 20_000_000
#: The name the key table is registered under for the exact-threshold read.
KEY_TABLE = "misflag_keys"
#: Runs of wanted bins are read as one range across gaps holding at most 1/MERGE_SHARE of the comparisons
#: and MERGE_ROWS rows in all (memory: 16 bytes a row): at 10M comparisons, six ranges merged into two
#: read back 275,000 rows instead of 142,000 and cost 0.086 s of CPU instead of 0.105 (all merged into
#: one, 980,000 rows, 0.103 s).
MERGE_SHARE = 64
MERGE_ROWS = 250_000


@dataclass(frozen=True)
class Checked:
    """The spec's expressions after parsing and column checks, in misflag SQL."""

    score: str
    genuine: str
    group: str | None
    where: str | None
    group_a: str | None
    group_b: str | None
    subject_a: str | None
    subject_b: str | None

    @property
    def key_names(self) -> list[str]:
        """Key columns of the histogram besides genuine: g, then ga and gb when given."""
        return (["g"] if self.group else []) + (["ga", "gb"] if self.group_a else [])


def check(spec: BiometricSpec, columns: tuple[str, ...]) -> Checked:
    """Parse every expression of the spec against the input's columns (ExpressionError otherwise)."""
    return _each_expression(spec, lambda text, option: check_expression(text, columns, option))


def precheck(spec: BiometricSpec) -> None:
    """Every expression's parse, allowlist and cost, with no input: run before the engine starts and the
    input is read, so a refused expression costs its parse, not an engine's start; `check` adds the
    column names."""
    _each_expression(spec, precheck_expression)


def _each_expression(spec: BiometricSpec, check_one: Callable[[str, str], str]) -> Checked:
    """`check_one(text, option)` over every expression the spec gives, in the order of its options."""

    def optional(text: str | None, option: str) -> str | None:
        return check_one(text, option) if text is not None else None

    return Checked(
        score=check_one(spec.score, "{score}"),
        genuine=check_one(spec.genuine, "{genuine}"),
        group=optional(spec.group, "{group}"),
        where=optional(spec.where, "{where}"),
        group_a=optional(spec.group_a, "{group_a}"),
        group_b=optional(spec.group_b, "{group_b}"),
        subject_a=optional(spec.subject_a, "{subject_a}"),
        subject_b=optional(spec.subject_b, "{subject_b}"),
    )


def base_sql(
    spec: BiometricSpec,
    checked: Checked,
    *,
    raw: bool = False,
    subjects: bool = False,
    raw_genuine: bool = False,
    subject_text: bool = True,
) -> str:
    """The comparisons as (keys, y, s): s is the score, negated for distances so a match is s >= T.

    `raw_genuine` leaves y as the input's value (cast to a number after an aggregate has grouped on it).
    With `subjects`, sa and sb are the subject ids, as text unless `subject_text` is False (both of one
    type already, see `subject_types_match`: hashing text per comparison is most of a clustered audit).
    """
    items = [f"({checked.group}) AS g"] if checked.group else []
    if checked.group_a:
        items += [f"({checked.group_a}) AS ga", f"({checked.group_b}) AS gb"]
    items.append(
        f"({checked.genuine}) AS y" if raw_genuine else f"TRY_CAST(({checked.genuine}) AS DOUBLE) AS y"
    )
    sign = "-" if spec.distance else ""
    items.append(f"{sign}TRY_CAST(({checked.score}) AS DOUBLE) AS s")
    if raw:
        items.append(f"({checked.score}) AS raw")
    if subjects and subject_text:
        items += [
            f"CAST(({checked.subject_a}) AS VARCHAR) AS sa",
            f"CAST(({checked.subject_b}) AS VARCHAR) AS sb",
        ]
    elif subjects:
        items += [f"({checked.subject_a}) AS sa", f"({checked.subject_b}) AS sb"]
    where = f" WHERE ({checked.where})" if checked.where else ""
    return f"SELECT {', '.join(items)} FROM input{where}"


def label(value: Any) -> str:
    """A group label as text; NULL becomes an explicit '(missing)' group."""
    return MISSING_GROUP if value is None else str(value)


@dataclass
class Profile:
    """Per key: raw key values, genuine flag and comparisons."""

    keys: list[tuple[Any, ...]]  # raw (keys..., y) per key id
    y: np.ndarray
    n: np.ndarray
    #: the key columns as the engine typed them, with each key's id `k`: joined to rows read back later
    table: pa.Table | None = None


@dataclass
class Histogram:
    """Counts per key and bin (NULL scores apart), and exact counts at or above each given threshold."""

    counts: np.ndarray  # (keys, bins)
    given: np.ndarray  # (keys, given thresholds): rows with s >= T
    lo: float
    scale: float  # bins per score unit

    @property
    def bins(self) -> int:
        return int(self.counts.shape[1])

    def bin_sql(self) -> str:
        """The bin of s, written once so every query bins identically (NULL for NULL s; the top edge,
        s = max, in the last bin). One CASE on the position, not LEAST over a NULL check: 10% faster."""
        position = f"((s - ({self.lo!r})) * {self.scale!r})"
        last = self.bins - 1
        return f"CASE WHEN {position} >= {last} THEN {last} ELSE CAST(FLOOR({position}) AS BIGINT) END"

    def edges(self) -> np.ndarray:
        """Lower edge of each bin in internal score units (for curves only)."""
        return self.lo + np.arange(self.bins) / self.scale


def _values(array: pa.Array, null: float) -> np.ndarray:
    """One primitive numeric Arrow array as numpy, NULL as `null`, read from its buffers (read-only, no
    copy unless there are NULLs).

    Neither `to_numpy` nor `pyarrow.compute` (`fill_null` builds a `pa.scalar`): both import pandas, a
    fifth to half a second and ~100 MiB of every audit.
    """
    values, nulls = buffer_values(array)
    if array.null_count:
        values = values.astype(np.float64) if np.isnan(null) and values.dtype.kind != "f" else values.copy()
        values[nulls] = null
    return values


def floats(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A numeric column as float64, NULL as NaN, read from its buffers (another type: cast by Arrow)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    if any(chunk.type not in NUMPY_DTYPES for chunk in chunks):  # e.g. a decimal from another engine
        import pyarrow.compute as pc

        chunks = [pc.cast(chunk, pa.float64()) for chunk in chunks]
    parts = [_values(chunk, np.nan).astype(np.float64, copy=False) for chunk in chunks if len(chunk)]
    return np.concatenate(parts) if parts else np.zeros(0)


def score_type(engine: Engine, checked: Checked) -> pa.DataType:
    """The score expression's type as the engine gives it (no row read): the scan and the comparisons
    (`_score_type.stored_type`) both read it from this one query."""
    return engine.sql(f"SELECT ({checked.score}) AS raw FROM input LIMIT 0").schema.field("raw").type


def scan(
    engine: Engine, spec: BiometricSpec, checked: Checked, thresholds: list[float], kind: pa.DataType
) -> tuple[Profile, Histogram]:
    """The one aggregate: counts per key, bin and (score >= T) for each given internal threshold T;
    `kind` is the score's type (`score_type`): a numeric one needs no check that each value is a number.

    InputError for scores that are not numbers, genuine flags that are not 0/1, and too many groups.
    """
    lo, scale = score_span(engine, spec, base_sql(spec, checked), kind)
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    names = [*checked.key_names, "y"]
    hist = Histogram(np.zeros((0, spec.bins)), np.zeros((0, len(thresholds))), lo, scale)
    flags = [f"CAST(s >= {t!r} AS INT) AS f{j}" for j, t in enumerate(thresholds)]
    bad = [] if numeric else ["CAST(raw IS NOT NULL AND s IS NULL AS INT) AS bad"]
    items = [*names, f"{hist.bin_sql()} AS bin", *flags, *bad]
    positions = ", ".join(str(i + 1) for i in range(len(items)))
    outer = [*checked.key_names, "TRY_CAST(y AS DOUBLE) AS y", "bin", *(f"f{j}" for j in range(len(flags)))]
    source = base_sql(spec, checked, raw=not numeric, raw_genuine=True)
    table = engine.sql(  # grouped on the genuine flag as given: the cast runs on the groups, not every row
        f"SELECT {', '.join([*outer, *('bad' for _ in bad), 'n'])} FROM ("
        f"SELECT {', '.join(items)}, COUNT(*) AS n FROM ({source}) GROUP BY {positions})"
    )
    count = floats(table.column("n"))
    failed = np.nan_to_num(floats(table.column("bad"))) > 0 if bad else None
    if failed is not None and (broken := int(count[failed].sum())):
        raise InputError(f"{{score}} is not a number in {broken:,} row(s)")
    options = {"g": "{group}", "ga": "{group_a}", "gb": "{group_b}"}
    for name in checked.key_names:  # a list, a struct or DuckDB's BIGNUM (bytes) is no group name
        kind = table.column(name).type
        storage = kind.storage_type if isinstance(kind, pa.BaseExtensionType) else kind
        if pa.types.is_nested(storage) or pa.types.is_binary(storage) or pa.types.is_large_binary(storage):
            raise InputError(
                f"{options[name]} gives values of type {kind}, not one text or number per row; "
                "cast it, e.g. CAST(... AS VARCHAR)"
            )
    columns = {name: table.column(name).to_pylist() for name in names}
    for name in checked.key_names:  # y is never NaN here: the check below refuses it
        if pa.types.is_floating(table.column(name).type):
            columns[name] = [_one_nan(value) for value in columns[name]]
    _check_genuine(spec, columns["y"], count)
    row_keys = list(zip(*columns.values(), strict=True))
    keys = sorted(set(row_keys), key=lambda key: tuple(map(str, key)))
    if len(keys) > MAX_KEYS:
        raise InputError(f"the groups have {len(keys):,} combinations; an audit holds at most {MAX_KEYS:,}")
    if len(keys) * spec.bins > MAX_CELLS:
        raise InputError(
            f"{len(keys):,} group combinations x {spec.bins:,} bins is too many; lower {{bins}} to "
            f"{max(10, MAX_CELLS // len(keys)):,} or fewer"
        )
    flags_y = np.asarray([key[-1] for key in keys], dtype=float)
    lookup = {key: i for i, key in enumerate(keys)}
    ids = np.fromiter(map(lookup.__getitem__, row_keys), dtype=np.int32, count=len(row_keys))
    bins = floats(table.column("bin"))
    scored = ~np.isnan(bins)
    cells = ids[scored] * spec.bins + bins[scored].astype(np.int64)
    hist.counts = np.bincount(cells, count[scored], len(keys) * spec.bins).reshape(len(keys), spec.bins)
    hist.given = np.zeros((len(keys), len(thresholds)))
    for j in range(len(thresholds)):
        hit = np.nan_to_num(floats(table.column(f"f{j}")))
        hist.given[:, j] = np.bincount(ids, count * hit, len(keys))
    n = np.bincount(ids, count, len(keys)).astype(np.int64)
    with_score = hist.counts.sum(axis=1).astype(np.int64)
    if not spec.search and (with_score < n).any():
        raise InputError(
            f"{{score}} is NULL in {int((n - with_score).sum()):,} row(s); every comparison needs a score"
        )
    return Profile(keys, flags_y.astype(np.int8), n, _key_table(table.select(names), ids)), hist


_NAN = float("nan")


def _one_nan(value: Any) -> Any:
    """One NaN object for every NaN group value: tuples holding it are then equal (NaN != NaN, but a
    tuple compares its items by identity first), so a NaN group is one key, as the engine grouped it."""
    return _NAN if isinstance(value, float) and value != value else value


def _key_table(table: pa.Table, ids: np.ndarray) -> pa.Table:
    """One row per key id (its first row in `table`, types as the engine gave them) and the id as `k`.

    Slices and buffers only: `take` and `pa.array` would load pyarrow.compute and pandas.
    """
    key_ids, first = np.unique(ids, return_index=True)  # each id once, ascending, with its first row
    picked = (
        pa.concat_tables([table.slice(row, 1) for row in first.tolist()]) if ids.size else table.slice(0, 0)
    )
    key_ids = key_ids.astype(np.int32, copy=False)
    column = pa.Array.from_buffers(pa.int32(), len(key_ids), [None, pa.py_buffer(key_ids)])
    return picked.append_column("k", column)


def _check_genuine(spec: BiometricSpec, values: list[Any], count: np.ndarray) -> None:
    option = "{genuine}"
    raw = np.asarray([np.nan if v is None else v for v in values], dtype=float)
    if np.isnan(raw).any():
        rows = int(count[np.isnan(raw)].sum())
        raise InputError(f"{option} is NULL or not a number in {rows:,} row(s); it must be 0/1 or true/false")
    odd = (raw != 0) & (raw != 1)
    if odd.any():
        raise InputError(
            f"{option} must be 0/1 or true/false; found the value {raw[odd][0]:g} in {int(count[odd].sum()):,} row(s)"
        )


def bin_rows(
    engine: Engine, spec: BiometricSpec, checked: Checked, prof: Profile, hist: Histogram, bins: set[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(key id, bin, s) of every comparison in the given bins: the rows an exact threshold needs.

    The scan filters on score ranges a little wider than the bins (cheap), then keeps the rows whose bin,
    computed by the same expression as the histogram's, is wanted. Wanted bins are read as runs, merged
    across gaps holding, all together, at most 1/MERGE_SHARE of the comparisons and MERGE_ROWS rows (the
    histogram counts them): an OR term less for every row of the file costs more than reading back those
    rows and dropping them here.
    """
    if not bins:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32), np.zeros(0)
    names = [*checked.key_names, "y"]
    slack = 1e-9 * max(1.0, abs(hist.lo), hist.bins / hist.scale)
    per_bin = hist.counts.sum(axis=0)
    budget = min(per_bin.sum() / MERGE_SHARE, MERGE_ROWS)  # rows of merged gaps, read back to be dropped
    runs: list[list[int]] = []
    for b in sorted(bins):
        gap = per_bin[runs[-1][1] + 1 : b].sum() if runs else budget + 1  # 0 for adjacent bins
        if gap <= budget:
            runs[-1][1] = b
            budget -= gap
        else:
            runs.append([b, b])
    ranges = " OR ".join(
        f"(s >= {hist.lo + first / hist.scale - slack!r} AND s <= {hist.lo + (last + 1) / hist.scale + slack!r})"
        for first, last in runs
    )
    assert prof.table is not None
    engine.register_arrow(KEY_TABLE, prof.table)
    joined = " AND ".join(f"r.{name} IS NOT DISTINCT FROM k.{name}" for name in names)
    table = engine.sql(  # key ids by a join on the few keys: no text column comes back, none is encoded here
        f"SELECT k.k AS k, CAST(r.bin AS INTEGER) AS bin, r.s AS s FROM (SELECT {', '.join(names)}, "
        f"{hist.bin_sql()} AS bin, s FROM ({base_sql(spec, checked)}) WHERE {ranges}) AS r "
        f"LEFT JOIN {KEY_TABLE} AS k ON {joined}"
    )
    # column by column, each dropped once read: at 100M comparisons these are millions of rows
    scores = floats(table.column("s"))
    table = table.drop_columns(["s"])
    found = _integers(table.column("bin"))
    ids = _integers(table.column("k"))
    del table
    if ids.size and ids.min() < 0:  # every row's key is in the key table, which the scan made from them
        raise InputError("a group value could not be matched to its group; filter it out with {where}")
    # the merged gaps, and the slack (rows a hair outside), dropped by position: a boolean mask that
    # alternates at random row by row copies 281,000 rows 8 times slower (6 vs 0.8 ms for the three)
    keep = np.flatnonzero(bin_mask(hist.bins, bins)[found])
    if keep.size == found.size:
        return ids, found, scores
    return ids[keep], found[keep], scores[keep]


def bin_mask(bins: int, wanted: Iterable[int]) -> np.ndarray:
    """A lookup table, True at the wanted bins: `bin_mask(...)[row_bins]` is `np.isin(row_bins, wanted)`
    for bins in range(bins), about 5x faster on the 128,000 rows a 10M-row audit reads back (0.7 vs 3.3 ms)."""
    mask = np.zeros(bins, dtype=bool)
    mask[list(wanted)] = True
    return mask


def _integers(column: pa.ChunkedArray) -> np.ndarray:
    """An integer column without NULLs as numpy (int32 from the SQL above)."""
    parts = [_values(chunk, -1) for chunk in column.chunks if len(chunk)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
