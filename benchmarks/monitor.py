"""Simulations of `misflag monitor`: false alarms, detection delay and late labels (speed: monitor_speed.py).

    python benchmarks/monitor.py false-alarms [--horizons 1000]   # P(any false alarm over 365 periods)
    python benchmarks/monitor.py delays [--runs 200]              # detection delay vs change size and volume
    python benchmarks/monitor.py late-labels [--horizons 500] [--window 7]
    python benchmarks/monitor.py state-growth [--days 365] [--windows 5,20]

false-alarms: 5 groups (4 compared with the reference, both sides of the band: 8 detectors, alpha / 8
each), 365 daily periods, counts drawn from the binomial law; with equal rates and with rates exactly at
the band's high edge (the hardest null). The share of horizons with any alarm must be at most alpha: the
script prints the count, alpha's binomial acceptance bound (P < 0.001 of exceeding it if the true share
were alpha) and PASS/FAIL. delays: a change of the false positive rate ratio after 200 stable periods;
median and 90th percentile delay (periods) and the share detected within the horizon, with the docs'
first-order prediction log(H K / alpha_each) / D.
late-labels: daily runs while labels arrive late: `--state --late-periods W` (settled alarms), daily
`--state --evidence arrival` runs (misflag.monitor._arrival) and daily full reruns, on the same horizons.
state-growth: one year of daily `misflag.monitor.monitor(..., state=..., evidence="arrival")` calls (the real
API, in this process) on a log with late labels; the state file's size and each run's CPU time at chosen days,
for each `--late-periods` (design in `state_growth`'s docstring).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from misflag.monitor._detect import ALTERNATIVES, band_log_evalues, predicted_rate, sr_statistic

HORIZON, GROUPS, BAND, ALPHA = 365, 5, (0.8, 1.25), 0.05


def _alarmed(rng: np.random.Generator, runs: int, n: int, rate: float, ratio: np.ndarray) -> np.ndarray:
    """First alarm period per run (-1 for none) over 4 groups x 2 sides; `ratio` (periods,) of group 1."""
    shape = (runs, HORIZON)
    sizes = np.full(shape, n)
    alpha_each = ALPHA / (2 * (GROUPS - 1))
    reference = rng.binomial(n, rate, shape)
    predicted = predicted_rate(reference, sizes)
    first = np.full(runs, HORIZON)
    for group in range(GROUPS - 1):
        counts = rng.binomial(n, np.clip(rate * (ratio if group == 0 else 1.0), 0, 1), shape)
        for c, upper in ((BAND[1], True), (BAND[0], False)):
            alarm = sr_statistic(
                band_log_evalues(counts, sizes, reference, sizes, predicted, c, upper), alpha_each, HORIZON
            ).alarm
            first = np.minimum(first, np.where(alarm.any(axis=1), alarm.argmax(axis=1), HORIZON))
    return np.where(first < HORIZON, first, -1)


def false_alarms(horizons: int) -> None:
    rng = np.random.default_rng(2024)
    bound = int(stats.binom.ppf(0.999, horizons, ALPHA))
    print(
        f"{horizons} horizons of {HORIZON} periods, {GROUPS} groups, alpha {ALPHA}; accept if count <= {bound}"
    )
    for n, rate, edge in (
        (100, 0.05, 1.0),
        (1000, 0.05, 1.0),
        (300, 0.3, 1.0),
        (1000, 0.05, BAND[1]),
        (100, 0.3, BAND[1]),
    ):
        start = time.perf_counter()
        count = int((_alarmed(rng, horizons, n, rate, np.full(HORIZON, edge)) >= 0).sum())
        verdict = "PASS" if count <= bound else "FAIL"
        print(
            f"  n={n:5d} rate={rate:.2f} ratio={edge:.2f}: {count:4d} horizons with a false alarm "
            f"({count / horizons:.4f}) {verdict}  [{time.perf_counter() - start:.1f} s]"
        )


#: Label delays in periods: geometric with mean 4 (P(d) = 0.2 x 0.8^d); delays of LAGS or more arrive at LAGS.
LAGS, DELAY_P = 20, 0.2


def _labelled(rng: np.random.Generator, runs: int, n: int, rate: float, ratio: np.ndarray) -> np.ndarray:
    """Counts as of each lag: (groups, 2 [x, n], runs, periods, LAGS + 1) of negatives whose label arrived
    within k periods, for k = 0..LAGS. Whether a label arrives late does not depend on the truth."""
    shares = DELAY_P * (1 - DELAY_P) ** np.arange(LAGS)
    shares = np.append(shares, 1 - shares.sum())
    out = np.empty((GROUPS, 2, runs, HORIZON, LAGS + 1), dtype=np.int32)
    for group in range(GROUPS):
        scale = ratio if group == 1 else 1.0
        flagged = rng.binomial(n, np.clip(rate * scale, 0, 1), (runs, HORIZON))
        x = rng.multinomial(flagged, shares)
        rest = rng.multinomial(n - flagged, shares)
        out[group, 0] = np.cumsum(x, axis=-1)
        out[group, 1] = np.cumsum(x + rest, axis=-1)
    return out


def _first_alarm(x: np.ndarray, n: np.ndarray, detectors: list[tuple[int, float, bool]]) -> np.ndarray:
    """First alarm period per run over the given (group, edge, upper) detectors against group 0."""
    alarm = _alarms(x, n, detectors)
    return np.where(alarm.any(axis=1), alarm.argmax(axis=1), x.shape[-1])


def _alarms(x: np.ndarray, n: np.ndarray, detectors: list[tuple[int, float, bool]]) -> np.ndarray:
    """(runs, periods): whether any of the given (group, edge, upper) detectors against group 0 is at or
    above its threshold at each period."""
    alpha_each = ALPHA / (2 * (GROUPS - 1))
    predicted = predicted_rate(x[0], n[0])
    alarm = np.zeros(x.shape[1:], dtype=bool)
    for group, c, upper in detectors:
        log_e = band_log_evalues(x[group], n[group], x[0], n[0], predicted, c, upper)
        alarm |= sr_statistic(log_e, alpha_each, HORIZON).alarm
    return alarm


def _sr_steps(log_r: np.ndarray, log_e: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Shiryaev-Roberts recursion of misflag.monitor._detect.sr_statistic from period `start` on, given its
    state `log_r` (K, runs) before that period: (log statistic per period (runs, steps), state after)."""
    kinds, steps = log_e.shape[0], log_e.shape[-1]
    out = np.empty((log_e.shape[1], steps))
    for k in range(steps):
        t = start + k
        log_r = log_e[..., k] + np.logaddexp(log_r, -np.log(HORIZON) if t < HORIZON else -np.inf)
        unstarted = np.log((HORIZON - t - 1) / HORIZON) if t + 1 < HORIZON else -np.inf
        out[:, k] = np.logaddexp(np.logaddexp.reduce(log_r, axis=0) - np.log(kinds), unstarted)
    return out, log_r


def _arrival_first_alarm(
    counts: np.ndarray, detectors: list[tuple[int, float, bool]], earlier_rule: bool = False
) -> np.ndarray:
    """First alarm run per horizon of daily `--state --late-periods LAGS --evidence arrival` runs, as
    misflag.monitor._arrival computes them: at run r each period's labels not yet used give one e-value
    once both the group and the reference have new ones (alternative from the reference's rate over the 7
    periods before, from the labels used so far), a period's log e-value is the sum of its pieces, and run r
    looks at the Shiryaev-Roberts statistic after each period's pieces (later periods still holding earlier
    runs' evidence), up to periods r - 1 and r. Periods older than LAGS are final, so the recursion is kept
    up to them. `earlier_rule`: the rule before looks between pieces (alternatives from all labels counted
    at run r, looks at periods r - 1 and r only)."""
    alpha_each = ALPHA / (2 * (GROUPS - 1))
    runs, kinds = counts.shape[2], len(ALTERNATIVES)
    first = np.full(runs, HORIZON)
    for group, c, upper in detectors:
        mine = np.full(runs, HORIZON)
        summed = np.zeros((kinds, runs, HORIZON))
        used = np.zeros((2, 2, runs, HORIZON))  # (group/reference, x/n, runs, periods)
        settled = np.full((kinds, runs), -np.inf)  # recursion state before period `done`
        done = 0
        for run in range(HORIZON):
            periods = np.arange(max(run - LAGS, 0), run + 1)
            lag = run - periods
            now = counts[[group, 0]][:, :, :, periods, lag].astype(float)  # (2, 2, runs, periods)
            delta = now - used[:, :, :, periods]
            delta = np.where((delta[0, 1] > 0) & (delta[1, 1] > 0), delta, 0.0)
            used[:, :, :, periods] += delta
            if earlier_rule:
                known = counts[0][:, :, np.arange(run + 1), np.minimum(run - np.arange(run + 1), LAGS)]
            else:
                known = used[1, :, :, : run + 1]
            predicted = predicted_rate(known[0], known[1])[:, periods]
            before = summed[:, :, periods]
            summed[:, :, periods] += band_log_evalues(
                delta[0, 0], delta[0, 1], delta[1, 0], delta[1, 1], predicted, c, upper
            )
            while done < run - LAGS:  # period `done` is final: fold it into the kept recursion
                _, settled = _sr_steps(settled, summed[..., done : done + 1], done)
                done += 1
            looked = _looks(settled, before, summed[:, :, periods], done)
            if earlier_rule:
                looked = looked[:, -2:]
            alarm = (looked >= -np.log(alpha_each)).any(axis=1)
            mine = np.where((mine == HORIZON) & alarm, run, mine)
        first = np.minimum(first, mine)
    return first


def _looks(settled: np.ndarray, before: np.ndarray, after: np.ndarray, start: int) -> np.ndarray:
    """(runs, W): the Shiryaev-Roberts statistic at the newest period once this run's pieces of periods
    start..start + i are in and later periods hold the evidence of earlier runs, for each i (the newest
    period had none before). `settled` (K, runs) is the recursion state before `start`; `before` and `after`
    (K, runs, W) are the summed log e-values of periods start.. before and after this run's pieces."""
    kinds, width = after.shape[0], after.shape[-1]
    order = np.arange(width)
    mixed = np.where((order[None, :] <= order[:, None])[:, None, None, :], after[None], before[None])
    from_start = np.cumsum(mixed[..., ::-1], axis=-1)[..., ::-1]  # (W looks, K, runs, W starts)
    weights = np.where(start + order < HORIZON, -np.log(HORIZON), -np.inf)
    log_r = np.logaddexp(np.logaddexp.reduce(from_start + weights, axis=-1), settled + from_start[..., 0])
    end = start + width - 1
    unstarted = np.log((HORIZON - end - 1) / HORIZON) if end + 1 < HORIZON else -np.inf
    return np.logaddexp(np.logaddexp.reduce(log_r, axis=1) - np.log(kinds), unstarted).T


def late_labels(horizons: int, window: int, rerun_null: bool) -> None:
    """Daily runs with late labels: `--state --late-periods W` (alarms settled W periods after their
    period) against daily full reruns (every run recomputes every period from the labels known so far)."""
    rng = np.random.default_rng(7)
    every = [(g, c, upper) for g in range(1, GROUPS) for c, upper in ((BAND[1], True), (BAND[0], False))]
    bound = int(stats.binom.ppf(0.999, horizons, ALPHA))
    print(
        f"{horizons} horizons of {HORIZON} daily periods, {GROUPS} groups, 100 negatives per group per period,"
    )
    print(f"rate 5%, label delays geometric with mean {(1 - DELAY_P) / DELAY_P:g} periods; alpha {ALPHA}")
    print("| case | procedure | horizons with an alarm | median first alarm (run) | 90th pct |")
    print("|---|---|---|---|---|")
    cases = (
        ("no change (null), equal rates", 1.0, 1.0, HORIZON),
        ("no change (null), ratio 1.25 (band edge)", BAND[1], BAND[1], HORIZON),
        ("ratio 2 from day 200", 1.0, 2.0, 200),
    )
    for case, before, ratio, change in cases:
        start = time.perf_counter()
        path = np.where(np.arange(HORIZON) >= change, ratio, before)
        counts = _labelled(rng, horizons, 100, 0.05, path)
        detectors = every if change == HORIZON else [(1, BAND[1], True)]
        results = {}
        for late in (0, window):  # daily state runs settle period t at run t + late + 1, with those labels
            lag = late + 1
            first = _first_alarm(counts[:, 0, :, :, lag], counts[:, 1, :, :, lag], detectors)
            results[f"--state --late-periods {late}"] = np.where(first + lag < HORIZON, first + lag, HORIZON)
        arrival = f"--state --late-periods {LAGS} --evidence arrival"
        results[arrival] = _arrival_first_alarm(counts, detectors)
        if change < HORIZON:
            results[f"{arrival}, earlier rule"] = _arrival_first_alarm(counts, detectors, earlier_rule=True)
        looks = {
            "daily full reruns": LAGS,
            f"--state --late-periods {window}, provisional alarms too": window + 1,
        }
        if change == HORIZON and not rerun_null:  # 8 detectors x 365 recomputations: minutes per 100 horizons
            looks = {}
        for name, most in looks.items():
            seen, newest = np.full(horizons, HORIZON), np.full(horizons, HORIZON)
            for run in range(
                HORIZON
            ):  # run on the evening of period `run`: period i has labels of lag run - i
                lags = np.minimum(run - np.arange(run + 1), most)
                x = np.take_along_axis(counts[:, 0, :, : run + 1, :], lags[None, None, :, None], axis=-1)[
                    ..., 0
                ]
                n = np.take_along_axis(counts[:, 1, :, : run + 1, :], lags[None, None, :, None], axis=-1)[
                    ..., 0
                ]
                alarm = _alarms(x, n, detectors)
                seen = np.where((seen == HORIZON) & alarm.any(axis=1), run, seen)
                newest = np.where((newest == HORIZON) & alarm[:, -2:].any(axis=1), run, newest)
            results[name] = seen
            if name == "daily full reruns":  # the looks arrival runs took before looks between pieces
                results[f"{name}, alarms at the two newest periods only"] = newest
        for name, first in results.items():
            hit = first < HORIZON
            delay = first[hit] - change if change < HORIZON else first[hit]
            median = f"{np.median(delay):.0f}" if hit.any() else "-"
            high = f"{np.percentile(delay, 90):.0f}" if hit.any() else "-"
            verdict = (
                f" ({'PASS' if hit.sum() <= bound else 'FAIL'}: <= {bound})" if change == HORIZON else ""
            )
            print(
                f"| {case} | {name} | {hit.sum()} ({hit.mean():.3f}){verdict} | {median} | {high} |",
                flush=True,
            )
        if change < HORIZON and "daily full reruns" in results:
            for name in (arrival, f"{arrival}, earlier rule"):
                _paired(name, results[name], results["daily full reruns"], rng)
        print(f"<!-- {case}: {time.perf_counter() - start:.0f} s -->", flush=True)


def _paired(name: str, arrival: np.ndarray, reruns: np.ndarray, rng: np.random.Generator) -> None:
    """Arrival-order runs (`name`) against daily full reruns on the same horizons: the difference of the
    median first alarms, the mean paired difference, and their 95% percentile intervals over 2,000
    bootstrap resamples of horizons."""
    picks = rng.integers(0, arrival.size, (2000, arrival.size))
    differences = np.median(arrival[picks], axis=1) - np.median(reruns[picks], axis=1)
    low, high = np.percentile(differences, [2.5, 97.5])
    mean_low, mean_high = np.percentile(np.mean(arrival[picks] - reruns[picks], axis=1), [2.5, 97.5])
    print(
        f"<!-- median first alarm, {name} minus daily full reruns: {np.median(arrival) - np.median(reruns):g} "
        f"periods (95% bootstrap interval {low:g} to {high:g}); mean {np.mean(arrival - reruns):.2f} "
        f"({mean_low:.2f} to {mean_high:.2f}) -->",
        flush=True,
    )


def predicted_delay(n: float, rate: float, ratio: float) -> float:
    """The docs' first-order delay: log(H K / alpha_each) / D, D the best alternative's E[log e] per period."""
    c, alpha_each = BAND[1], ALPHA / (2 * (GROUPS - 1))
    drifts = []
    for step in ALTERNATIVES:
        ta, tb, pa = c * step * rate, rate, ratio * rate

        def slope(p: float, ta: float = ta, tb: float = tb) -> float:
            return n * (ta / p - c * (1 - ta) / (1 - c * p)) + n * (tb / p - (1 - tb) / (1 - p))

        p = optimize.brentq(slope, 1e-12, min(1, 1 / c) - 1e-12)
        drifts.append(
            n
            * (
                pa * math.log(ta / (c * p))
                + (1 - pa) * math.log((1 - ta) / (1 - c * p))
                + tb * math.log(tb / p)
                + (1 - tb) * math.log((1 - tb) / (1 - p))
            )
        )
    drift = max(drifts)
    return math.log(HORIZON * len(ALTERNATIVES) / alpha_each) / drift if drift > 0 else math.inf


def delays(runs: int) -> None:
    rng = np.random.default_rng(7)
    change, rate = 200, 0.05
    print(
        f"false positive rate {rate:.0%} in the reference; change of group 1's ratio at period {change}; "
        f"{runs} runs; delay in periods"
    )
    print("| ratio after | negatives per group per period | median delay | 90th pct | detected | predicted |")
    print("|---|---|---|---|---|---|")
    for ratio in (1.5, 2.0, 3.0):
        for n in (100, 300, 1000, 3000):
            path = np.where(np.arange(HORIZON) >= change, ratio, 1.0)
            first = _alarmed(rng, runs, n, rate, path)
            late = first[first >= change] - change
            early = int(((first >= 0) & (first < change)).sum())
            median = f"{np.median(late):.0f}" if late.size else "-"
            p90 = f"{np.percentile(late, 90):.0f}" if late.size > runs * 0.9 else "> horizon"
            note = f" ({early} early)" if early else ""
            print(
                f"| {ratio:g} | {n:,} | {median} | {p90} | {late.size / runs:.0%}{note} | "
                f"{predicted_delay(n, rate, ratio):.1f} |"
            )


#: state-growth's log: groups and their shares of each day's decisions, flag and truth rates.
GROWTH_GROUPS, GROWTH_SHARES = ("A", "B", "C"), (0.5, 0.3, 0.2)
GROWTH_FLAGGED, GROWTH_WARRANTED, GROWTH_MEAN_DELAY = 0.2, 0.5, 4.0


def _growth_log(days: int, seed: int) -> pd.DataFrame:
    """`days` days of decisions: 100 to 1,000 a day (uniform), groups A (reference) / B / C in shares
    .5/.3/.2, 20% flagged; truth 1 for half the flagged and 10% of the others (same rates in every group:
    no change); each label arrives a geometric number of days after its decision (mean 4: P(d) = .2 x .8^d,
    so 0.9% arrive more than 20 days late), independently of the truth."""
    rng = np.random.default_rng(seed)
    per_day = rng.integers(100, 1001, days)
    decided = np.repeat(np.arange(days), per_day)
    flag = rng.random(decided.size) < GROWTH_FLAGGED
    truth = rng.random(decided.size) < np.where(flag, GROWTH_WARRANTED, 0.1)
    delay = rng.geometric(1 / (1 + GROWTH_MEAN_DELAY), decided.size) - 1
    return pd.DataFrame(
        {
            "ts": pd.Timestamp("2025-01-01") + pd.to_timedelta(decided, unit="D"),
            "grp": rng.choice(GROWTH_GROUPS, decided.size, p=GROWTH_SHARES),
            "flag": flag.astype(np.int8),
            "truth": truth.astype(np.int8),
            "decided": decided,
            "arrives": decided + delay,
        }
    )


def _snapshot(log: pd.DataFrame, day: int) -> pd.DataFrame:
    """What a run on the evening of `day` reads: decisions so far, truth NULL where the label is not in."""
    seen = log[log["decided"] <= day]
    truth = seen["truth"].astype("Int8").where(seen["arrives"] <= day)
    return seen.assign(truth=truth).drop(columns=["decided", "arrives"]).reset_index(drop=True)


def state_growth(days: int, windows: list[int], marks: list[int], evidence: str) -> None:
    """One daily API run per day with `--state`, for each `--late-periods` in `windows`: the state file's
    size, the evidence's stored looks and the run's CPU time (this process, every thread) at `marks`."""
    from misflag.monitor import monitor

    log = _growth_log(days, seed=24)
    print(
        f"{days} daily runs of misflag.monitor.monitor(state=..., evidence={evidence!r}) on a log of "
        f"{len(log):,} decisions (100-1,000 a day), groups A/B/C, metric fpr, labels a geometric mean "
        f"{GROWTH_MEAN_DELAY:g} days late; load average {os.getloadavg()[0]:.1f} at the start"
    )
    print(
        "| --late-periods | day | state file | looks stored | run CPU (s) | median CPU of the last 10 runs (s) |"
    )
    print("|---|---|---|---|---|---|")
    for window in windows:
        cpu: list[float] = []
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            state = Path(folder) / "state.json"
            for day in range(days):
                snapshot = _snapshot(log, day)
                begin = time.process_time()
                monitor(
                    snapshot,
                    time="ts",
                    group="grp",
                    reference="A",
                    truth="truth",
                    flag="flag",
                    period="day",
                    late_periods=window,
                    evidence=evidence,
                    state=state,
                )
                cpu.append(time.process_time() - begin)
                if day + 1 in marks:
                    saved = json.loads(state.read_text(encoding="utf-8"))
                    looks = sum(len(v) for v in saved.get("evidence", {}).get("path", {}).values())
                    print(
                        f"| {window} | {day + 1} | {state.stat().st_size / 1e6:.2f} MB | {looks:,} | "
                        f"{cpu[-1]:.3f} | {statistics.median(cpu[-10:]):.3f} |",
                        flush=True,
                    )
        print(
            f"<!-- --late-periods {window}: {time.perf_counter() - started:.0f} s wall, "
            f"{sum(cpu):.0f} s CPU in the runs, load average {os.getloadavg()[0]:.1f} -->",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("task", choices=("false-alarms", "delays", "late-labels", "state-growth"))
    parser.add_argument("--days", type=int, default=365, help="state-growth: daily runs")
    parser.add_argument(
        "--windows", default="5,20", help="state-growth: --late-periods values, comma-separated"
    )
    parser.add_argument(
        "--evidence", choices=("arrival", "settled"), default="arrival", help="state-growth: --evidence"
    )
    parser.add_argument("--window", type=int, default=7, help="late-labels: --late-periods of the state runs")
    parser.add_argument(
        "--rerun-null",
        action="store_true",
        help="late-labels: also simulate daily full reruns without a change",
    )
    parser.add_argument("--horizons", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    if args.task == "false-alarms":
        false_alarms(args.horizons)
    elif args.task == "delays":
        delays(args.runs)
    elif args.task == "state-growth":
        marks = sorted({mark for mark in (30, 90, 180, 365) if mark <= args.days} | {args.days})
        state_growth(args.days, [int(w) for w in args.windows.split(",")], marks, args.evidence)
    else:
        late_labels(args.horizons, args.window, args.rerun_null)


if __name__ == "__main__":
    main()
