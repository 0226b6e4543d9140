"""`monitor`: watch a timestamped decision log (or a ledger) for disparities leaving the band and for review
that stops dismissing algorithmic flags, with P(any false alarm over the horizon) <= alpha."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from misflag._text import shown
from misflag.engine import PendingClose, get_engine
from misflag.errors import InputError, literal
from misflag.io import check_before_engine, did_you_mean, load_input, name_list
from misflag.monitor._arrival import Evidence
from misflag.monitor._cells import Cells, as_datetimes, codes_of, factorize, grid_sum, recoded
from misflag.monitor._counts import (
    check_monitor,
    late_rows,
    metric_sums,
    pending_sums,
    period_codes,
    period_range,
    precheck_monitor,
    read_counts,
    reread_from,
)
from misflag.monitor._ledger import ledger_key_path, ledger_roles, ledger_table
from misflag.monitor._output import monitor_result
from misflag.monitor._rows import emit_rows, group_rows, pooled_rows
from misflag.monitor._spec import DISPARITY_METRICS, FALL_METRICS, MonitorSpec, register_path
from misflag.monitor._state import load_state, merge, save_state
from misflag.monitor._watch import Watch, count_tests, coverage_warnings, series, watch_disparity, watch_fall
from misflag.monitor._withhold import pools_withheld, withhold_floors
from misflag.result import AuditResult

Progress = Callable[[str, float], None]
POOL = "reviewer_pool"


def monitor(
    source: Any = None,
    *,
    time: str | None = None,
    group: str,
    reference: str,
    truth: str | None = None,
    flag: str | None = None,
    stages: Sequence[tuple[str, str]] = (),
    metrics: Sequence[str] = (),
    band: tuple[float, float] = (0.8, 1.25),
    alpha: float = 0.05,
    period: str = "day",
    weight: str | None = None,
    reviewer_pool: str | None = None,
    where: str | None = None,
    horizon: int = 365,
    baseline_periods: int = 30,
    min_cell: int = 10,
    late_periods: int = 0,
    evidence: str = "settled",
    release_register: str | Path | None = None,
    protect_releases: bool = False,
    state: str | Path | None = None,
    ledger: str | None = None,
    ledger_key: str | Path | None = None,
    engine: str = "duckdb",
    table: str | None = None,
    progress: Progress | None = None,
) -> AuditResult:
    """Monitor a decision log period by period; the result's `extras` hold the per-period table and alarms.

    `source` is what `misflag.io.load_input` reads (file, DuckDB/PostgreSQL table, data frame); with
    `ledger` (a ledger URL) the ledger's decision log is monitored, with its columns as defaults, read with
    the keys beside `ledger_key` (the ledger's signing key path; default: the ledger's own, `_ledger`).
    """
    if (source is None) == (ledger is None):
        raise InputError("give either a decision log ({source}) or {ledger} URL, not both or neither")
    key = ledger_key_path(ledger_key, ledger)
    if ledger is not None:
        time, truth, stages, reviewer_pool = ledger_roles(time, truth, flag, stages, reviewer_pool)
    if not time:
        raise InputError("{time} is required: a SQL expression giving each decision's date or timestamp")
    spec = MonitorSpec(
        time=time,
        group=group,
        reference=reference,
        truth=truth,
        flag=flag,
        stages=tuple((str(n), str(e)) for n, e in stages),
        metrics=tuple(metrics),
        band=band,
        alpha=alpha,
        period=period,
        weight=weight,
        reviewer_pool=reviewer_pool,
        where=where,
        horizon=horizon,
        baseline_periods=baseline_periods,
        min_cell=min_cell,
        late_periods=late_periods,
        evidence=evidence,
        release_register=register_path(release_register),
        protect_releases=protect_releases,
    )
    return run_monitor(
        spec,
        source,
        ledger=ledger,
        ledger_key=key,
        state=state,
        engine=engine,
        table=table,
        progress=progress,
    )


def run_monitor(
    spec: MonitorSpec,
    source: Any,
    *,
    ledger: str | None = None,
    ledger_key: Path | None = None,
    state: str | Path | None = None,
    engine: str = "duckdb",
    table: str | None = None,
    progress: Progress | None = None,
) -> AuditResult:
    """Run a monitor described by a spec (the settings-as-data form of `monitor`); with a release register,
    checked against the earlier releases of the same log and recorded (`_released`); `ledger_key` as
    `ledger_key_path` checked it."""
    precheck_monitor(spec)  # a refused expression costs its parse: no engine starts, no log is read
    if spec.registered:
        from misflag.monitor._released import run_registered

        rerun = partial(monitored, source=source, state=state, engine=engine, progress=progress)
        return run_registered(spec, source, rerun, ledger=ledger, table=table, state=state)
    return monitored(
        spec,
        frozenset(),
        source,
        ledger=ledger,
        ledger_key=ledger_key,
        state=state,
        engine=engine,
        table=table,
        progress=progress,
    )[0]


def monitored(
    spec: MonitorSpec,
    withheld_before: frozenset[str],
    source: Any,
    *,
    ledger: str | None = None,
    ledger_key: Path | None = None,
    state: str | Path | None = None,
    engine: str = "duckdb",
    table: str | None = None,
    progress: Progress | None = None,
) -> tuple[AuditResult, frozenset[str]]:
    """`run_monitor` without a register: the result, withholding the pools of `withheld_before`'s periods
    (ISO starts) too, as those the state file remembers, and the periods whose pools it withheld with
    rows (kept for later outputs: in the state file, and by `_released` in the release register)."""
    report = progress or (lambda step, fraction: None)
    report("reading input", 0.0)
    state_path = Path(state) if state is not None else None
    fingerprint = spec.counts_fingerprint()
    saved, watermark, previous, remembered = load_state(state_path, fingerprint, len(spec.pipeline))
    if spec.evidence == "arrival" and saved is not None and previous is None:  # a restart would look again
        raise InputError(f"state file {literal(str(state_path))} is damaged: its arrival evidence is missing")
    if not ledger:
        check_before_engine(engine, source, table, lambda columns: check_monitor(spec, columns))
    runner = get_engine(engine)
    try:
        info = load_input(runner, ledger_table(ledger, ledger_key) if ledger else source, table=table)
        checked = check_monitor(spec, info.columns)
        report("counting", 0.3)
        since = reread_from(watermark, spec)
        # a state run counts the whole log, as a full run does (one scan, where reading from `since` and
        # checking the older rows took two), and keeps the state's counts before `since`
        counted = read_counts(runner, spec, checked)
    except BaseException:
        runner.close()
        raise
    closing = PendingClose(runner)  # every read is done: the engine closes beside the detection
    try:
        fresh, late = counted, []
        if saved is not None and since is not None:
            fresh = counted.take(counted.period >= np.datetime64(since, "ns"))
            late = late_rows(spec, saved, counted, since)
        cells = merge(saved, since, fresh)
        if not len(cells) or cells.n.sum() == 0:
            raise InputError("no rows are left to monitor (is {where} filtering out everything?)")
        report("detecting", 0.7)
        result, evidence, withheld, hides_rows = _analyse(
            spec, cells, checked.pool is not None, previous, remembered | withheld_before
        )
        result.metadata["warnings"].extend(late)
        # row totals add up every withheld count: left out (None) where the output withholds rows, as the
        # decision audit does (tests/monitor/test_monitor_lp_attack_releases.py)
        result.metadata.update(
            input={
                "description": f"ledger {ledger}" if ledger else info.description,
                "sha256": info.sha256,
                "rows": None if hides_rows else info.rows,  # a --where that keeps every row adds them up too
            },
            rows_read=None if hides_rows else int(fresh.n.sum()),
            engine=engine,
            expressions={
                "time": checked.time,
                "group": checked.group,
                "stages": list(checked.stages),
                "truth": checked.truth,
                "weight": checked.weight,
                "where": checked.where,
            },
        )
        if state_path is not None:
            next_mark = save_state(state_path, fingerprint, cells, evidence, withheld)
            result.metadata["state"] = {
                "path": str(state_path),
                "read_from": _iso(since),
                "late_periods": spec.late_periods,
                "next_read_from": next_mark.isoformat(),
            }
    except BaseException:
        with suppress(Exception):  # the monitor's own error is the one to tell, not a failed close
            closing.wait()
        raise
    closing.wait()
    report("done", 1.0)
    return result, withheld


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _analyse(
    spec: MonitorSpec,
    cells: Cells,
    with_pools: bool,
    previous: Evidence | None,
    remembered: frozenset[str],
) -> tuple[AuditResult, Evidence | None, frozenset[str], bool]:
    """The result, the arrival evidence to keep, the periods whose pools stay withheld in later runs of
    the state file, and whether the output withholds any row."""
    stages = len(spec.pipeline)
    stamps = cells.period.view(np.int64)
    starts = period_range(int(stamps.min()), int(stamps.max()), spec.period)
    periods = as_datetimes(starts)
    names, which = factorize(cells.g)
    totals = np.bincount(which, weights=cells.n, minlength=len(names))
    visible = sorted(str(g) for g, n in zip(names, totals, strict=True) if n >= spec.min_cell)
    if spec.reference not in set(names):
        raise InputError(
            f"{{reference}} {literal(shown(spec.reference))} names no group of {{group}}"
            f"{did_you_mean(str(spec.reference), visible)} (groups: {name_list(visible)})"
        )
    if spec.reference not in visible:
        raise InputError(
            f"{{reference}} {literal(shown(spec.reference))} has fewer than {spec.min_cell} rows in all; choose another"
        )
    reference = visible.index(spec.reference)
    pools = _pool_labels(cells) if with_pools else {}
    watch = Watch(previous=previous)
    watch.tests = count_tests(spec, len(visible), len(pools))
    watch.alpha_each = spec.alpha / watch.tests
    watch.unsettled = spec.late_periods + 1
    is_reference = which == names.index(spec.reference)
    watch.warnings += coverage_warnings(cells.period, cells.n, is_reference, periods, starts, spec)
    when = period_codes(cells, starts)  # every grid below shares the cells' label and period positions
    groups, shape = recoded(which, names, visible), (len(visible), len(periods))
    times = [p.isoformat() for p in periods]
    pending = pending_sums(cells, stages, groups, when, shape)
    group_hidden = pending["rows"] < spec.min_cell
    watch.withheld["group"] = group_hidden
    hidden_names = [str(name) for name in names if str(name) not in set(visible)]
    unlisted = grid_sum(recoded(which, names, hidden_names), when, cells.n, (len(hidden_names), len(periods)))
    group_series = {}
    for metric in spec.chosen_metrics:
        data = series(metric_sums(cells, metric, groups, when, shape), visible)
        group_series[metric] = data
        if not data.rows.any():
            watch.warnings.append(f"{metric}: nobody is in its denominator yet (truth or review pending)")
        if metric in DISPARITY_METRICS:
            watch_disparity(spec, metric, data, reference, periods, watch)
        else:
            watch_fall(spec, metric, data, "group", periods, watch)
    by_period, overall = group_rows(spec, visible, times, group_series, reference, pending, group_hidden)
    withholds_rows = bool((group_hidden & (pending["rows"] > 0)).any() or unlisted.any())
    pool_periods: set[str] = set()
    if pools:
        pooled = cells.take(codes_of(cells.pool, list(pools)) >= 0)  # every digest is a pool
        labels, where = codes_of(pooled.pool, list(pools)), period_codes(pooled, starts)
        pool_shape = (len(pools), len(periods))
        pool_grid = grid_sum(labels, where, pooled.n, pool_shape)
        before = np.array([t in remembered for t in times], dtype=bool)
        period_hidden = group_hidden.any(axis=0) | unlisted.any(axis=0) | before
        pool_hidden = pools_withheld(pool_grid, spec.min_cell, period_hidden)
        watch.withheld[POOL] = pool_hidden
        with_rows = np.asarray((pool_hidden & (pool_grid > 0)).any(axis=0))
        withholds_rows = withholds_rows or bool(with_rows.any())
        pool_periods = {t for t, hidden in zip(times, with_rows.tolist(), strict=True) if hidden}
        pool_series = {
            metric: series(metric_sums(pooled, metric, labels, where, pool_shape), list(pools.values()))
            for metric in FALL_METRICS
            if metric in spec.chosen_metrics
        }
        for metric, data in pool_series.items():
            watch_fall(spec, metric, data, POOL, periods, watch)
        by_period += emit_rows(
            POOL, "period", times, pool_grid, pool_series, None, spec.min_cell, hidden=pool_hidden
        )
        overall += pooled_rows(POOL, pool_grid, pool_series, None, spec.min_cell, None, pool_hidden)
        withhold_floors(watch, POOL, list(pools.values()), pool_hidden, spec.baseline_periods)
    withhold_floors(watch, "group", visible, group_hidden, spec.baseline_periods)
    kept = watch.evidence if spec.evidence == "arrival" else None
    result = monitor_result(spec, by_period, overall, watch, periods, visible)
    return result, kept, frozenset(pool_periods), withholds_rows


def _pool_labels(cells: Cells) -> dict[str, str]:
    """Reviewer pools by digest -> 'pool 1', 'pool 2', ... in order of first appearance (then digest)."""
    present = np.array([p is not None for p in cells.pool], dtype=bool)
    digests, which = np.unique(cells.pool[present], return_inverse=True)
    firsts = np.full(len(digests), np.datetime64("2262-01-01", "ns"))
    np.minimum.at(firsts, which.reshape(-1), cells.period[present])
    ordered = sorted(zip(firsts.tolist(), digests.tolist(), strict=True))
    return {digest: f"pool {i + 1}" for i, (_, digest) in enumerate(ordered)}
