"""One SQL aggregate reduces the decision log to counts: period x group x pool x stage flags x truth x weight.

Everything after this (rates, intervals, e-values, alarms) works on the counts, never on rows again, so a
state file can keep them and a scheduled run reads only rows of the newest period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from misflag.engine import Engine, quote_identifier
from misflag.errors import InputError, literal
from misflag.io import check_expression
from misflag.monitor._spec import MonitorSpec

#: Label of rows whose group expression is NULL (as in decision audits).
MISSING_GROUP = "(missing)"

#: Columns of the count table, in order (s0..sK follow `pool`).
KEYS = ("period", "time_null", "g", "pool")
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
    single = spec.flag is not None

    def check(text: str | None, option: str) -> str | None:
        return check_expression(text, columns, option) if text else None

    return CheckedMonitor(
        time=check_expression(spec.time, columns, "{time}"),
        group=check_expression(spec.group, columns, "{group}"),
        stages=tuple(
            check_expression(expr, columns, "{flag}" if single else f"{{stages}} {literal(name)}")
            for name, expr in spec.pipeline
        ),
        truth=check(spec.truth, "{truth}"),
        weight=check(spec.weight, "{weight}"),
        pool=check(spec.reviewer_pool, "{reviewer_pool}"),
        where=check(spec.where, "{where}"),
    )


def count_sql(
    spec: MonitorSpec, checked: CheckedMonitor, since: datetime | None, table: str = "input"
) -> str:
    """The monitor's one aggregate query. `since` (from a state file, never from the user) skips old rows."""
    stamp = f"TRY_CAST(({checked.time}) AS TIMESTAMP)"
    items = [
        f"date_trunc('{spec.period}', {stamp}) AS period",
        f"(({checked.time}) IS NULL) AS time_null",
        f"COALESCE(CAST(({checked.group}) AS VARCHAR), '{MISSING_GROUP}') AS g",
        f"sha256(CAST(({checked.pool}) AS VARCHAR)) AS pool"
        if checked.pool
        else "CAST(NULL AS VARCHAR) AS pool",
    ]
    items += [f"TRY_CAST(({expr}) AS DOUBLE) AS s{i}" for i, expr in enumerate(checked.stages)]
    items.append(
        f"TRY_CAST(({checked.truth}) AS DOUBLE) AS t" if checked.truth else "CAST(NULL AS DOUBLE) AS t"
    )
    items.append(
        f"TRY_CAST(({checked.weight}) AS DOUBLE) AS w" if checked.weight else "CAST(1 AS DOUBLE) AS w"
    )
    items.append("COUNT(*) AS n")
    filters = [f"({checked.where})"] if checked.where else []
    if since is not None:
        filters.append(f"({stamp} >= TIMESTAMP '{since.isoformat(sep=' ')}' OR {stamp} IS NULL)")
    where = f"WHERE {' AND '.join(filters)}" if filters else ""
    positions = ", ".join(str(i + 1) for i in range(len(items) - 1))
    return f"SELECT {', '.join(items)} FROM {quote_identifier(table)} {where} GROUP BY {positions}"


def read_counts(
    engine: Engine, spec: MonitorSpec, checked: CheckedMonitor, since: datetime | None
) -> pd.DataFrame:
    """Run the count query and check times, flags, truth and weights (InputError naming the problem)."""
    frame = engine.sql(count_sql(spec, checked, since)).to_pandas()
    frame["n"] = frame["n"].astype(np.int64)
    numeric = [c for c in frame.columns if c.startswith("s") or c in ("t", "w")]
    frame[numeric] = frame[numeric].astype(float)
    if since is None and frame["n"].sum() == 0:
        raise InputError("no rows are left to monitor (is {where} filtering out everything?)")
    _check_times(frame)
    stages = [f"s{i}" for i in range(len(checked.stages))]
    for i, (name, _) in enumerate(spec.pipeline):
        option = "{flag}" if spec.flag is not None else f"{{stages}} {literal(name)}"
        pending_allowed = i == len(stages) - 1 and len(stages) > 1
        _check_binary(frame, f"s{i}", option, allow_missing=pending_allowed)
    _check_binary(frame, "t", "{truth}", allow_missing=True)
    known = frame["t"].notna()
    bad_weight = known & ~(frame["w"] > 0)
    if bad_weight.any():
        rows = int(frame.loc[bad_weight, "n"].sum())
        raise InputError(
            f"{{weight}} must be a positive number wherever truth is known; {rows:,} row(s) are not"
        )
    frame["w"] = frame["w"].where(known | frame["w"].gt(0), 1.0)
    period = pd.to_datetime(frame["period"])
    if period.dt.tz is not None:  # Spark hands naive timestamps to Arrow labelled as UTC
        period = period.dt.tz_convert("UTC").dt.tz_localize(None)
    try:  # placeholder dates (0001-01-01, 9999-12-31) would make millions of empty periods
        frame["period"] = period.astype("datetime64[ns]")
    except (pd.errors.OutOfBoundsDatetime, OverflowError) as error:
        raise InputError(_OUT_OF_RANGE) from error
    return frame.drop(columns="time_null")


def _check_times(frame: pd.DataFrame) -> None:
    unparsed = frame["period"].isna()
    if not unparsed.any():
        return
    missing = int(frame.loc[unparsed & frame["time_null"], "n"].sum())
    bad = int(frame.loc[unparsed & ~frame["time_null"], "n"].sum())
    if bad:
        raise InputError(
            f"{{time}} does not give a date or timestamp in {bad:,} row(s); write it as ISO 8601 "
            "(2024-05-01 or 2024-05-01T13:45:00) or convert it in the expression (e.g. to_timestamp(epoch))"
        )
    raise InputError(
        f"{{time}} is NULL in {missing:,} row(s); every decision needs a time (filter with {{where}})"
    )


def _check_binary(frame: pd.DataFrame, column: str, option: str, allow_missing: bool) -> None:
    values = frame[column]
    missing = values.isna()
    if missing.any() and not allow_missing:
        rows = int(frame.loc[missing, "n"].sum())
        raise InputError(f"{option} is NULL or not a number in {rows:,} row(s); it must be 0/1 or true/false")
    bad = ~missing & ~values.isin([0.0, 1.0])
    if bad.any():
        rows = int(frame.loc[bad, "n"].sum())
        raise InputError(
            f"{option} must be 0/1 or true/false; found the value {values[bad].iloc[0]:g} in {rows:,} row(s)"
        )


def period_range(first: pd.Timestamp, last: pd.Timestamp, period: str) -> pd.DatetimeIndex:
    """Every period start from first to last (day, Monday-starting week, or month), empty ones included."""
    freq = {"day": "D", "week": "W-MON", "month": "MS"}[period]
    return pd.date_range(first, last, freq=freq)


def metric_counts(cells: pd.DataFrame, metric: str, stages: int, by: str) -> pd.DataFrame:
    """Per (`by`, period): numerator and denominator rows, weighted sums and the effective sample size.

    With weights (inverse inclusion probabilities of an audit sample), the rate is the weighted ratio and
    the counts fed to intervals and e-values are Kish's effective n and the matching numerator.
    """
    final, first = cells[f"s{stages - 1}"], cells["s0"]
    truth, decided = cells["t"], final.notna()
    if metric == "fpr":
        den, num, weighted = (truth == 0) & decided, (truth == 0) & (final == 1), True
    elif metric == "fnr":
        den, num, weighted = (truth == 1) & decided, (truth == 1) & (final == 0), True
    elif metric == "selection_rate":
        den, num, weighted = decided, final == 1, False
    else:  # dismissal_rate: algorithmic flags that review cleared, among flags reviewed
        den, num, weighted = (first == 1) & decided, (first == 1) & (final == 0), False
    w = cells["w"] if weighted else pd.Series(1.0, index=cells.index)
    top = float(w.max()) if len(w) else 1.0
    if weighted and np.isfinite(top) and top > 0:
        w = w / top  # rates and Kish's n are scale-free; this keeps w * w from overflowing
    n = cells["n"]
    frame = pd.DataFrame(
        {
            by: cells[by],
            "period": cells["period"],
            "x": n * num,
            "rows": n * den,
            "xw": n * w * num,
            "nw": n * w * den,
            "w2": n * w * w * den,
        }
    )
    sums = frame.groupby([by, "period"], sort=True).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        n_eff = np.where(sums["w2"] > 0, sums["nw"] ** 2 / sums["w2"].where(sums["w2"] > 0, 1.0), 0.0)
        rate = np.where(sums["nw"] > 0, sums["xw"] / sums["nw"].where(sums["nw"] > 0, 1.0), np.nan)
    sums["n_eff"] = n_eff
    sums["x_eff"] = np.nan_to_num(rate * n_eff)
    sums["rate"] = rate
    return sums


def pending_counts(cells: pd.DataFrame, stages: int, by: str) -> pd.DataFrame:
    """Per (`by`, period): rows whose truth is still NULL, and algorithmic flags awaiting review."""
    frame = pd.DataFrame(
        {
            by: cells[by],
            "period": cells["period"],
            "pending_truth": cells["n"] * cells["t"].isna(),
            "pending_review": cells["n"] * ((cells["s0"] == 1) & cells[f"s{stages - 1}"].isna())
            if stages > 1
            else 0,
            "rows": cells["n"],
        }
    )
    return frame.groupby([by, "period"], sort=True).sum()


def reread_from(watermark: datetime | None, spec: MonitorSpec) -> datetime | None:
    """Where a state run starts reading: the newest period seen, or `late_periods` periods before it, so
    labels (and reviews) that arrive up to that many periods late replace the counts they change."""
    if watermark is None:
        return None
    earliest = datetime(1678, 1, 1)
    mark = pd.Timestamp(watermark)
    months = {"day": 0, "week": 0, "month": spec.late_periods}[spec.period]
    days = {"day": spec.late_periods, "week": 7 * spec.late_periods, "month": 0}[spec.period]
    if days > (mark - pd.Timestamp(earliest)).days or months > 12 * (mark.year - earliest.year):
        return earliest  # further back than any time monitoring supports: re-read everything
    return (mark - pd.DateOffset(days=days, months=months)).to_pydatetime()


def late_rows(
    engine: Engine, spec: MonitorSpec, checked: CheckedMonitor, saved: pd.DataFrame, since: datetime
) -> str | None:
    """A warning when rows, labels or reviews arrived for periods a state run no longer reads (None if not).

    One aggregate over the time, truth and final-stage columns of rows before `since`, compared with the
    state's counts of the same periods: a state run cannot count them, so the output must say so.
    """
    stamp = f"TRY_CAST(({checked.time}) AS TIMESTAMP)"
    final = checked.stages[-1]
    truth = f"COUNT(TRY_CAST(({checked.truth}) AS DOUBLE))" if checked.truth else "0"
    filters = [f"{stamp} < TIMESTAMP '{since.isoformat(sep=' ')}'"]
    if checked.where:
        filters.insert(0, f"({checked.where})")
    query = (
        f"SELECT COUNT(*) AS n, {truth} AS truth, COUNT(TRY_CAST(({final}) AS DOUBLE)) AS final "
        f"FROM {quote_identifier('input')} WHERE {' AND '.join(filters)}"
    )
    now = engine.sql(query).to_pylist()[0]
    old = saved[saved["period"] < pd.Timestamp(since)]
    final_column = f"s{len(checked.stages) - 1}"
    before = {
        "n": int(old["n"].sum()),
        "truth": int(old.loc[old["t"].notna(), "n"].sum()) if checked.truth else 0,
        "final": int(old.loc[old[final_column].notna(), "n"].sum()),
    }
    grown = {key: int(now[key] or 0) - before[key] for key in before}
    if not any(value > 0 for value in grown.values()):
        return None
    return (
        f"{grown['n']:,} row(s), {grown['truth']:,} truth label(s) and {grown['final']:,} final decision(s) "
        f"arrived for periods before {since.date()} that this state run no longer reads (more than "
        f"{spec.late_periods} {spec.period}(s) late); they are not counted. Give a larger --late-periods "
        "with a new state file; a full rerun counts them but is a second path outside the guarantee"
    )
