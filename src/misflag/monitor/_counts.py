"""One SQL aggregate reduces the decision log to counts: period x group x pool x stage flags x truth x weight.

Everything after this (rates, intervals, e-values, alarms) works on the counts, never on rows again, so a
state file can keep them and a scheduled run reads only rows of the newest period.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from misflag.engine import Engine, quote_identifier
from misflag.errors import InputError, literal
from misflag.io import check_expression, precheck_expression
from misflag.monitor._cells import (
    Cells,
    as_datetimes,
    compensated_grid_sum,
    fixed_width,
    floats,
    grid_sum,
    nanoseconds,
    texts,
)
from misflag.monitor._spec import MonitorSpec

#: Label of rows whose group expression is NULL (as in decision audits).
MISSING_GROUP = "(missing)"

_OUT_OF_RANGE = (
    "{time} gives dates outside the years 1678-2261 that monitoring supports; "
    "check for placeholder dates such as 0001-01-01 or 9999-12-31 (filter them with {where})"
)


@dataclass(frozen=True)
class CheckedMonitor:
    """The spec's expressions after parsing and column checks, in misflag SQL."""

    time: str
    group: str
    stages: tuple[str, ...]
    truth: str | None
    weight: str | None
    pool: str | None
    where: str | None


def check_monitor(spec: MonitorSpec, columns: tuple[str, ...]) -> CheckedMonitor:
    """Parse every expression against the input's columns (ExpressionError naming the option otherwise)."""
    return _each_expression(spec, lambda text, option: check_expression(text, columns, option))


def precheck_monitor(spec: MonitorSpec) -> None:
    """Every expression's parse, allowlist and cost, with no input: run before the engine starts and the
    log is read, so a refused expression costs its parse, not an engine's start; `check_monitor` adds the
    column names."""
    _each_expression(spec, precheck_expression)


def _each_expression(spec: MonitorSpec, check_one: Callable[[str, str], str]) -> CheckedMonitor:
    """`check_one(text, option)` over every expression the spec gives, in the order of its options."""
    single = spec.flag is not None

    def check(text: str | None, option: str) -> str | None:
        return check_one(text, option) if text else None

    return CheckedMonitor(
        time=check_one(spec.time, "{time}"),
        group=check_one(spec.group, "{group}"),
        stages=tuple(
            check_one(expr, "{flag}" if single else f"{{stages}} {literal(name)}")
            for name, expr in spec.pipeline
        ),
        truth=check(spec.truth, "{truth}"),
        weight=check(spec.weight, "{weight}"),
        pool=check(spec.reviewer_pool, "{reviewer_pool}"),
        where=check(spec.where, "{where}"),
    )


def count_sql(spec: MonitorSpec, checked: CheckedMonitor, table: str = "input") -> str:
    """The monitor's aggregate query over every row (a state run too: its older periods are compared with
    the state, `late_rows`).

    Two levels: the rows are grouped by the period and the raw values of every other expression (what a
    bare GROUP BY costs), and only the few cells that leaves are cast, hashed and grouped again, so the
    casts and the SHA-256 of reviewer pools run once per cell rather than once per row. Cells come out
    sorted by every key, NULLs last, whatever the engine's threads did.
    """
    stamp = f"TRY_CAST(({checked.time}) AS TIMESTAMP)"
    day = spec.period == "day"  # a DATE groups faster than a truncated TIMESTAMP
    inner = {
        "period": f"CAST({stamp} AS DATE)" if day else f"date_trunc('{spec.period}', {stamp})",
        "g": f"({checked.group})",
    }
    outer = {
        "period": "CAST(period AS TIMESTAMP)" if day else "period",
        "g": f"COALESCE(CAST(g AS VARCHAR), '{MISSING_GROUP}')",
    }
    optional = [
        ("pool", checked.pool, "sha256(CAST(pool AS VARCHAR))", "CAST(NULL AS VARCHAR)"),
        *((f"s{i}", expr, f"TRY_CAST(s{i} AS DOUBLE)", "") for i, expr in enumerate(checked.stages)),
        ("t", checked.truth, "TRY_CAST(t AS DOUBLE)", "CAST(NULL AS DOUBLE)"),
        ("w", checked.weight, "TRY_CAST(w AS DOUBLE)", "CAST(1 AS DOUBLE)"),
    ]
    for name, expression, cast, constant in optional:
        if expression:
            inner[name] = f"({expression})"
        outer[name] = cast if expression else constant
    inner_items = [f"{item} AS {name}" for name, item in inner.items()]
    # rows whose time is NULL: COUNT(*) - COUNT(time) (a tenth of the scan's CPU less than summing a CASE)
    inner_items += ["COUNT(*) AS n", f"COUNT(*) - COUNT(({checked.time})) AS n_null"]
    filters = [f"({checked.where})"] if checked.where else []
    where = f"WHERE {' AND '.join(filters)}" if filters else ""
    keys = ", ".join(str(i + 1) for i in range(len(inner)))
    cells = f"SELECT {', '.join(inner_items)} FROM {quote_identifier(table)} {where} GROUP BY {keys}"
    outer_items = [f"{item} AS {name}" for name, item in outer.items()]
    outer_items += ["CAST(SUM(n) AS BIGINT) AS n", "CAST(SUM(n_null) AS BIGINT) AS n_null"]
    positions = range(1, len(outer) + 1)
    return (
        f"SELECT {', '.join(outer_items)} FROM ({cells}) AS cells GROUP BY {', '.join(map(str, positions))} "
        f"ORDER BY {', '.join(f'{i} NULLS LAST' for i in positions)}"
    )


def read_counts(engine: Engine, spec: MonitorSpec, checked: CheckedMonitor) -> Cells:
    """Run the count query over every row (a state run too: `late_rows` compares the older periods) and
    check times, flags, truth and weights (InputError naming the problem)."""
    table = engine.sql(count_sql(spec, checked))
    n = fixed_width(table["n"], pa.int64(), np.int64)[0]
    if n.sum() == 0:
        raise InputError("no rows are left to monitor (is {where} filtering out everything?)")
    stamps, unparsed, fits = nanoseconds(table["period"])
    _check_times(unparsed, table["n_null"], n)
    stages = tuple(floats(table[f"s{i}"]) for i in range(len(checked.stages)))
    for i, (name, _) in enumerate(spec.pipeline):
        option = "{flag}" if spec.flag is not None else f"{{stages}} {literal(name)}"
        pending_allowed = i == len(stages) - 1 and len(stages) > 1
        _check_binary(stages[i], n, option, allow_missing=pending_allowed)
    truth, weight = floats(table["t"]), floats(table["w"])
    _check_binary(truth, n, "{truth}", allow_missing=True)
    known = ~np.isnan(truth)
    bad_weight = known & ~(weight > 0)
    if bad_weight.any():
        rows = int(n[bad_weight].sum())
        raise InputError(
            f"{{weight}} must be a positive number wherever truth is known; {rows:,} row(s) are not"
        )
    if not fits:  # placeholder dates (0001-01-01, 9999-12-31) would make millions of empty periods
        raise InputError(_OUT_OF_RANGE)
    return Cells(
        period=stamps.view("datetime64[ns]"),
        g=texts(table["g"]),
        pool=texts(table["pool"]),
        stages=stages,
        t=truth,
        w=np.where(known | (weight > 0), weight, 1.0),
        n=n,
    )


def _check_times(unparsed: np.ndarray, nulls: pa.ChunkedArray, n: np.ndarray) -> None:
    """Cells without a period: rows whose time is NULL (`nulls` of `n`) or is not a time."""
    if not unparsed.any():
        return
    null = fixed_width(nulls, pa.int64(), np.int64)[0]
    missing = int(null[unparsed].sum())
    bad = int((n - null)[unparsed].sum())
    if bad:
        raise InputError(
            f"{{time}} does not give a date or timestamp in {bad:,} row(s); write it as ISO 8601 "
            "(2024-05-01 or 2024-05-01T13:45:00) or convert it in the expression (e.g. to_timestamp(epoch))"
        )
    raise InputError(
        f"{{time}} is NULL in {missing:,} row(s); every decision needs a time (filter with {{where}})"
    )


def _check_binary(values: np.ndarray, n: np.ndarray, option: str, allow_missing: bool) -> None:
    missing = np.isnan(values)
    if missing.any() and not allow_missing:
        rows = int(n[missing].sum())
        raise InputError(f"{option} is NULL or not a number in {rows:,} row(s); it must be 0/1 or true/false")
    bad = ~missing & (values != 0) & (values != 1)
    if bad.any():
        rows = int(n[bad].sum())
        raise InputError(
            f"{option} must be 0/1 or true/false; found the value {values[bad][0]:g} in {rows:,} row(s)"
        )


_DAY = 86_400 * 10**9  # nanoseconds
_EPOCH = datetime(1970, 1, 1)


def period_range(first: int, last: int, period: str) -> np.ndarray:
    """Every period start from first to last (nanoseconds since 1970; day, Monday-starting week, or
    month), empty ones included, as datetime64[ns]; a start off the calendar (only a hand-edited state has
    one) rolls forward to the next one, keeping its time of day, as pandas' date_range did."""
    day, clock = divmod(first, _DAY)
    if period == "month":
        start = _EPOCH + timedelta(days=day)
        end = _EPOCH + timedelta(days=last // _DAY)
        months = range(12 * start.year + start.month - 1 + (start.day != 1), 12 * end.year + end.month)
        starts = np.array(
            [(datetime(m // 12, m % 12 + 1, 1) - _EPOCH).days * _DAY + clock for m in months], dtype=np.int64
        )
    else:
        step = _DAY if period == "day" else 7 * _DAY
        if period == "week":  # 1970-01-01 was a Thursday: Monday is 0
            first += (7 - (day + 3) % 7) % 7 * _DAY
        starts = first + step * np.arange(max((last - first) // step + 1, 0), dtype=np.int64)
    return starts[starts <= last].view("datetime64[ns]")


def period_codes(cells: Cells, periods: np.ndarray) -> np.ndarray:
    """Each cell's position in `periods` (-1 for a start not among them)."""
    found = np.minimum(np.searchsorted(periods, cells.period), len(periods) - 1)
    return np.where(periods[found] == cells.period, found, -1)


def metric_sums(
    cells: Cells, metric: str, labels: np.ndarray, periods: np.ndarray, shape: tuple[int, int]
) -> dict[str, np.ndarray]:
    """Per label x period (`labels`, `periods`: each cell's grid position): denominator rows and the
    weighted numerator, denominator and squared-weight sums.

    With weights (inverse inclusion probabilities of an audit sample), the rate is the weighted ratio and
    the counts fed to intervals and e-values are Kish's effective n and the matching numerator.
    """
    final, first, truth = cells.final, cells.first, cells.t
    decided = ~np.isnan(final)
    if metric == "fpr":
        den, num, weighted = (truth == 0) & decided, (truth == 0) & (final == 1), True
    elif metric == "fnr":
        den, num, weighted = (truth == 1) & decided, (truth == 1) & (final == 0), True
    elif metric == "selection_rate":
        den, num, weighted = decided, final == 1, False
    else:  # dismissal_rate: algorithmic flags that review cleared, among flags reviewed
        den, num, weighted = (first == 1) & decided, (first == 1) & (final == 0), False
    w = cells.w if weighted else np.ones(len(cells))
    top = float(w.max()) if len(w) else 1.0
    if weighted and np.isfinite(top) and top > 0:
        w = w / top  # rates and Kish's n are scale-free; this keeps w * w from overflowing
    n = cells.n
    plain = not (w != 1.0).any()  # whole numbers: any order of summation is exact
    add = grid_sum if plain else compensated_grid_sum
    return {
        "rows": grid_sum(labels, periods, n * den, shape),
        "xw": add(labels, periods, n * w * num, shape),
        "nw": add(labels, periods, n * w * den, shape),
        "w2": add(labels, periods, n * w * w * den, shape),
    }


def pending_sums(
    cells: Cells, stages: int, labels: np.ndarray, periods: np.ndarray, shape: tuple[int, int]
) -> dict[str, np.ndarray]:
    """Per label x period: all rows, rows whose truth is still NULL, and algorithmic flags awaiting review."""
    review = (cells.first == 1) & np.isnan(cells.final) if stages > 1 else np.zeros(len(cells), dtype=bool)
    return {
        "rows": grid_sum(labels, periods, cells.n, shape),
        "pending_truth": grid_sum(labels, periods, cells.n * np.isnan(cells.t), shape),
        "pending_review": grid_sum(labels, periods, cells.n * review, shape),
    }


def reread_from(watermark: datetime | None, spec: MonitorSpec) -> datetime | None:
    """Where a state run starts reading: the newest period seen, or `late_periods` periods before it, so
    labels (and reviews) that arrive up to that many periods late replace the counts they change."""
    if watermark is None:
        return None
    earliest = datetime(1678, 1, 1)
    months = {"day": 0, "week": 0, "month": spec.late_periods}[spec.period]
    days = {"day": spec.late_periods, "week": 7 * spec.late_periods, "month": 0}[spec.period]
    if days > (watermark - earliest).days or months > 12 * (watermark.year - earliest.year):
        return earliest  # further back than any time monitoring supports: re-read everything
    year, month = divmod(12 * watermark.year + watermark.month - 1 - months, 12)
    day = min(watermark.day, calendar.monthrange(year, month + 1)[1])  # 31 March less a month: 29 February
    return watermark.replace(year=year, month=month + 1, day=day) - timedelta(days=days)


def late_rows(spec: MonitorSpec, saved: Cells, counted: Cells, since: datetime) -> list[str]:
    """Warnings for periods a state run no longer reads, from the log's counts of them (`counted`, what a
    full run counts) against the state's: rows, labels or reviews that arrived for them (late), and
    period-groups where the log no longer holds what the state counted (rows removed, labels, decisions,
    pools or weights changed, or the state of another log). Empty when they match.

    Per period and group: counts that only grew (rows, and the truth and final stage's non-NULL values,
    with their new 1s among the new values) are late arrivals; any other difference is a change.
    tests/security/test_adversary_monitor_state.py swaps, prunes and corrects.
    """
    edge = np.datetime64(since, "ns")
    older, kept = counted.take(counted.period < edge), saved.take(saved.period < edge)
    if _equal(older, kept):  # the usual case, in array time: nothing arrived late, nothing changed
        return []
    now, before = _by_period_group(older), _by_period_group(kept)
    grown = {"n": 0, "truth": 0, "final": 0}
    changed = 0
    for key in now.keys() | before.keys():
        (log, log_cells), (old, old_cells) = now.get(key, _NONE), before.get(key, _NONE)
        step = [a - b for a, b in zip(log, old, strict=True)]
        for i, field in enumerate(grown):
            grown[field] += max(step[2 * i], 0)  # n, truth, final at 0, 2, 4; their 1s at 3, 5
        only_grew = all(value >= 0 for value in step[::2]) and all(
            0 <= step[ones] <= step[ones - 1] for ones in (3, 5)
        )
        changed += not only_grew or (not any(step) and log_cells != old_cells)
    warnings = []
    if any(grown.values()):
        warnings.append(
            f"{grown['n']:,} row(s), {grown['truth']:,} truth label(s) and {grown['final']:,} final decision(s) "
            f"arrived for periods before {since.date()} that this state run no longer reads (more than "
            f"{spec.late_periods} {spec.period}(s) late); they are not counted. Give a larger --late-periods "
            "with a new state file; a full rerun counts them but is a second path outside the guarantee"
        )
    if changed:
        warnings.append(
            f"the log does not match the state file in {changed:,} group-period(s) before {since.date()}: "
            "rows were removed or labels, decisions, pools or weights changed there since the state counted "
            "them, or the state is another log's; this run keeps the state's counts of them. Start a new "
            "state file for a changed log; a full rerun counts it as it is but is a second path outside the "
            "guarantee"
        )
    return warnings


def _equal(a: Cells, b: Cells) -> bool:
    """Whether two count tables hold the same cells in the same order (NULL equal to NULL): the count
    query's order and `Cells.summed`'s are both every key ascending, NULLs last (where they differed, the
    caller's comparison per period and group would still be right, only slower)."""
    if len(a) != len(b):
        return False
    return all(
        np.array_equal(x, y, equal_nan=x.dtype.kind == "f")
        for x, y in zip(a.columns().values(), b.columns().values(), strict=True)
    )


_Summary = tuple[tuple[int, ...], list[tuple[object, ...]]]
#: A period-group neither side has: no rows, no cells.
_NONE: _Summary = ((0, 0, 0, 0, 0, 0), [])


def _by_period_group(cells: Cells) -> dict[tuple[datetime, str], _Summary]:
    """Per (period, group): rows, rows whose truth is known and those that are 1, the same for the final
    stage (with a 0 between so positions pair up), and the group's cells (NULL and NaN as None)."""
    out: dict[tuple[datetime, str], tuple[list[int], list[tuple[object, ...]]]] = {}
    columns = cells.columns()
    truth, final = np.nan_to_num(cells.t, nan=-1.0).tolist(), np.nan_to_num(cells.final, nan=-1.0).tolist()
    plain = [values.tolist() for name, values in columns.items() if name not in ("period", "g")]
    rows = zip(as_datetimes(cells.period), cells.g.tolist(), truth, final, *plain, strict=True)
    for period, g, t, f, *cell in rows:
        n = cell[-1]
        counts, kept = out.setdefault((period, g), ([0] * 6, []))
        for i, add in enumerate((n, 0, n * (t >= 0), n * (t == 1), n * (f >= 0), n * (f == 1))):
            counts[i] += add
        kept.append(tuple(None if value != value else value for value in cell))  # NaN: None
    return {key: (tuple(counts), sorted(kept, key=repr)) for key, (counts, kept) in out.items()}
