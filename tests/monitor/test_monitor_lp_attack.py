"""The LP attacker on `misflag monitor`'s withheld group-periods and reviewer-pool periods (issue 21's goal).

A hand-built log: four days, groups A (reference), B and C of 30 decisions a day, reviewer pools p1 and
p2; on day 2 a group D of 3 decisions (under --min-cell 10 in all, so never listed), on day 3 a third
pool p3 reviews 3 of A's decisions, on day 4 C has 4 decisions, 3 of them flagged. The reader takes every published figure
(per period and pooled, groups and pools: `n`, each rate's denominator, value x denominator as its
numerator) as an equation on whole counts of decisions per (day, group, pool, algorithm flag, review,
truth); groups not listed are one unknown group "other"; every decision has a reviewer pool (a team is
assigned to every case, as in this log); a pooled row adds the periods whose per-period rows of its label
are shown (the documented rule); a listed pool holds at least one decision. Each withheld count's least
and most values are solved with scipy's HiGHS `milp` (integers). The goal (docs/disclosure.md): at least
ceil(min_cell / 2) wide, or reaching 0.

The control is the naive rule (withhold exactly the cells under --min-cell, publish everything else),
computed from the log with pandas: the same reader recovers p3's 3 decisions of day 3 and D's 3 of day 2
(the pools' day total minus the groups'), as it did from the monitor's output before pools were withheld
with them (commit of this test).
"""

from __future__ import annotations

from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta

from misflag._withheld import public_reason
from misflag.monitor import monitor
from tests.monitor._attacker import narrowed, whole_interval
from tests.monitor._logs import ROLES

MIN_CELL = 10
#: Each cell's cap in the model: far above the log's 367 decisions (a figure no published one caps).
UNBOUNDED = 10**5
DAYS = [f"2024-01-0{d}" for d in range(1, 5)]
GROUPS = ["A", "B", "C", "other"]
#: (algorithm flag, review = final flag, truth): review clears or confirms an algorithmic flag.
STATES = [(f, r, t) for t in (0, 1) for f, r in ((0, 0), (1, 0), (1, 1))]
#: Which states a figure counts: (numerator, denominator); `n` counts every state.
COUNTED: dict[str, tuple[set[tuple[int, int, int]], set[tuple[int, int, int]]]] = {
    "n": (set(STATES), set(STATES)),
    "fpr": ({s for s in STATES if s[1] == 1 and s[2] == 0}, {s for s in STATES if s[2] == 0}),
    "dismissal_rate": ({s for s in STATES if s[0] == 1 and s[1] == 0}, {s for s in STATES if s[0] == 1}),
}


def _log() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    frames = []
    for day in DAYS:
        for group, size in (
            ("A", 30),
            ("B", 30),
            ("C", 4 if day == DAYS[3] else 30),
            ("D", 3 if day == DAYS[1] else 0),
        ):
            truth = rng.random(size) < 0.3
            flag = np.where(truth, rng.random(size) < 0.7, rng.random(size) < 0.2)
            if group == "C" and day == DAYS[3]:
                flag[:3] = True  # C's thin day has flags to review (for the floor's attack)
            review = np.where(flag, rng.random(size) >= 0.4, False)
            pool = np.where(np.arange(size) % 2 == 0, "p1", "p2").astype(object)
            if day == DAYS[2] and group == "A":
                pool[:3] = "p3"
            hours = np.arange(size) % 24
            frames.append(
                pd.DataFrame(
                    {
                        "ts": [f"{day}T{h:02d}:00:00" for h in hours],
                        "grp": group,
                        "flag": flag.astype(int),
                        "review": review.astype(int),
                        "truth": truth.astype(int),
                        "pool": pool,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


class Reader:
    """Every published figure as an equation on whole counts per (day, group, pool, state)."""

    def __init__(self, pools: list[str]) -> None:
        self.pools = pools
        self.cells = list(product(DAYS, GROUPS, pools, STATES))
        self.equal: list[tuple[list[int], list[float], float]] = []
        for day in set(DAYS) - {DAYS[1]}:  # outside knowledge: no unlisted group decided that day
            other = self.columns("group", "other", {day}, set(STATES))
            self.equal.append((other, [1.0] * len(other), 0.0))
        self.at_least: list[list[int]] = []
        self.targets: dict[tuple[Any, ...], list[int]] = {}

    def columns(
        self, attribute: str, label: str, days: set[str], states: set[tuple[int, int, int]]
    ) -> list[int]:
        position = 1 if attribute == "group" else 2
        return [
            i
            for i, cell in enumerate(self.cells)
            if cell[0] in days and cell[position] == label and cell[3] in states
        ]

    def read(
        self, attribute: str, label: str, days: set[str], metric: str, value: Any, denominator: Any
    ) -> None:
        """One published figure of `label` over `days`; `value` None: withheld (a target per period)."""
        if metric not in COUNTED:
            return
        top, bottom = (self.columns(attribute, label, days, states) for states in COUNTED[metric])
        if value is None:
            if len(days) == 1:
                self.targets[(attribute, label, *days, metric, "denominator")] = bottom
                if metric != "n":
                    self.targets[(attribute, label, *days, metric, "numerator")] = top
            return
        if metric == "n":
            self.equal.append((bottom, [1.0] * len(bottom), float(value)))
            return
        self.equal.append((bottom, [1.0] * len(bottom), float(denominator)))
        self.equal.append((top, [1.0] * len(top), float(round(value * denominator))))

    def interval(self, columns: list[int]) -> tuple[float, float]:
        """Least and most of the summed cells, in whole counts (HiGHS branch and bound)."""
        size = len(self.cells)
        matrix = np.zeros((len(self.equal) + len(self.at_least), size))
        low = np.zeros(len(matrix))
        high = np.zeros(len(matrix))
        for k, (cols, weights, total) in enumerate(self.equal):
            matrix[k, cols] = weights
            low[k] = high[k] = total
        for k, cols in enumerate(self.at_least, start=len(self.equal)):
            matrix[k, cols] = 1.0
            low[k], high[k] = 1.0, np.inf
        # a cap far above any count, so "no cap" is a number
        return whole_interval(matrix, low, high, columns, UNBOUNDED)

    def pinned(self) -> dict[tuple[Any, ...], tuple[float, float]]:
        """Withheld counts narrower than ceil(min_cell / 2) that do not reach 0, with their intervals."""
        return narrowed(self.targets, self.interval, MIN_CELL)


def _run(log: pd.DataFrame, baseline_periods: int, state: Path | None = None) -> Any:
    """The monitor as the tests publish it: groups with A as reference, two stages, reviewer pools."""
    return monitor(log, **ROLES, baseline_periods=baseline_periods, min_cell=MIN_CELL, state=state)


def _read_output(reader: Reader, result: Any) -> list[dict[str, Any]]:
    """Every figure of one output as equations: per-period rows, pooled rows (over the periods of their
    label it shows; `latest period` is the output's last day) and the metadata's row totals."""
    periods = result.extras["periods"].to_pylist()
    last = result.metadata["periods"]["last"][:10]
    shown: dict[tuple[str, str], set[str]] = {}
    for row in periods:
        day = row["time"][:10]
        reader.read(row["attribute"], row["group"], {day}, row["metric"], row["value"], row["denominator"])
        if row["metric"] == "n" and not row["suppressed"]:
            shown.setdefault((row["attribute"], row["group"]), set()).add(day)
    for row in result.table.to_pylist():
        days = shown.get((row["attribute"], row["group"]), set())
        days = days if row["stage"] == "all periods" else days & {last}
        if days:
            reader.read(row["attribute"], row["group"], days, row["metric"], row["value"], row["denominator"])
    first = (result.metadata.get("state") or {}).get("read_from") or DAYS[0]  # a state run reads from there
    for total, since in (
        (result.metadata["rows_read"], first[:10]),
        (result.metadata["input"]["rows"], DAYS[0]),
    ):
        if total is not None:  # every decision of the days counted
            every = [i for i, cell in enumerate(reader.cells) if since <= cell[0] <= last]
            reader.equal.append((every, [1.0] * len(every), float(total)))
    return periods


def _monitor_reader(log: pd.DataFrame) -> tuple[Reader, list[dict[str, Any]]]:
    result = _run(log, baseline_periods=2)
    periods = result.extras["periods"].to_pylist()
    reader = Reader(sorted({r["group"] for r in periods if r["attribute"] == "reviewer_pool"}))
    _read_output(reader, result)
    for pool in reader.pools:
        reader.at_least.append(reader.columns("reviewer_pool", pool, set(DAYS), set(STATES)))
    return reader, periods


def _naive_reader(log: pd.DataFrame) -> Reader:
    """The naive rule's publication, from the log itself: every (attribute, label, day) of at least
    min_cell decisions is published whole, nothing else is."""
    labelled = log.assign(
        day=log["ts"].str[:10], pool=log["pool"].map({"p1": "pool 1", "p2": "pool 2", "p3": "pool 3"})
    )
    labelled["grp"] = labelled["grp"].where(labelled["grp"] != "D", "other")
    reader = Reader(["pool 1", "pool 2", "pool 3"])
    for attribute, column in (("group", "grp"), ("reviewer_pool", "pool")):
        for (label, day), part in labelled.groupby([column, "day"]):
            if label == "other":
                continue
            if len(part) < MIN_CELL:
                for metric in COUNTED:
                    reader.read(attribute, label, {day}, metric, None, None)
                continue
            reader.read(attribute, label, {day}, "n", len(part), None)
            negatives = part[part["truth"] == 0]
            reader.read(attribute, label, {day}, "fpr", negatives["review"].mean(), len(negatives))
            flagged = part[part["flag"] == 1]
            reader.read(attribute, label, {day}, "dismissal_rate", 1 - flagged["review"].mean(), len(flagged))
    return reader


def _other(reader: Reader, day: str) -> list[int]:
    return reader.columns("group", "other", {day}, set(STATES))


def test_naive_suppression_is_broken_by_the_same_reader() -> None:
    log = _log()
    reader = _naive_reader(log)
    pinned = reader.pinned()
    third = log[log["pool"] == "p3"]  # pool 3 reviewed 3 of A's decisions on day 3, nothing else
    assert (
        pinned[("reviewer_pool", "pool 3", DAYS[2], "n", "denominator")] == (len(third), len(third)) == (3, 3)
    )
    flagged = int(third["flag"].sum())
    assert pinned[("reviewer_pool", "pool 3", DAYS[2], "dismissal_rate", "denominator")] == (flagged, flagged)
    # and that a group too small to be listed decided on day 2 (the pools' day minus the groups')
    assert reader.interval(_other(reader, DAYS[1]))[0] == (log["grp"] == "D").sum() == 3


def test_no_withheld_monitor_count_is_pinned() -> None:
    log = _log()
    reader, periods = _monitor_reader(log)
    for day in DAYS:
        reader.targets[("group", "other", day, "n", "denominator")] = _other(reader, day)
    # the three small cells of the log are withheld, and each is a target
    assert ("group", "C", DAYS[3], "n", "denominator") in reader.targets
    assert ("reviewer_pool", "pool 3", DAYS[2], "n", "denominator") in reader.targets
    assert reader.pinned() == {}
    assert reader.interval(_other(reader, DAYS[1]))[0] == 0  # the naive rule's 3 (control above)
    # one public reason for every withheld figure, whichever rule withheld it
    withheld = {r["warning"] for r in periods if r["suppressed"]}
    assert withheld == {public_reason(MIN_CELL)}


@pytest.mark.parametrize("day", [DAYS[1], DAYS[2], DAYS[3]])
def test_every_pool_is_withheld_in_a_period_with_a_withheld_cell(day: str) -> None:
    _, periods = _monitor_reader(_log())
    pools = [r for r in periods if r["attribute"] == "reviewer_pool" and r["time"].startswith(day)]
    assert pools and all(r["suppressed"] for r in pools)
    # day 1 has no small cell: pools 1 and 2 (p1 and p2, first seen that day) are published
    first = [
        r
        for r in periods
        if r["attribute"] == "reviewer_pool" and r["time"].startswith(DAYS[0]) and r["group"] != "pool 3"
    ]
    assert len(first) == 4 and not any(r["suppressed"] for r in first)  # n, dismissal_rate each


def _floor_candidates(result: Any, attribute: str, label: str, day: str) -> set[int]:
    """Withheld dismissal denominators of `label` on `day` that give the published floor, found by trying
    every (dismissed, reviewed) pair up to 200 reviewed with scipy's beta quantile (Clopper-Pearson's
    lower bound); the other baseline days' counts are read from their published rows."""
    periods = result.extras["periods"].to_pylist()
    shown = [
        r
        for r in periods
        if r["attribute"] == attribute
        and r["group"] == label
        and r["metric"] == "dismissal_rate"
        and not r["suppressed"]
        and r["time"][:10] != day
    ]
    assert len(shown) == len(DAYS) - 1
    x_shown = sum(round(r["value"] * r["denominator"]) for r in shown)
    n_shown = sum(r["denominator"] for r in shown)
    floors = {(f["attribute"], f["group"]): f["floor"] for f in result.metadata["floors"]}
    if (attribute, label) not in floors:
        return set()
    low = result.metadata["spec"]["band"][0]
    n_hidden = np.repeat(np.arange(201), 201)
    x_hidden = np.tile(np.arange(201), 201)
    possible = x_hidden <= n_hidden
    x, n = x_shown + x_hidden[possible], n_shown + n_hidden[possible]
    bound = np.where(x > 0, beta.ppf(result.metadata["alpha_each"] / 2, np.maximum(x, 1), n - x + 1), 0.0)
    match = np.isclose(low * bound, floors[(attribute, label)], rtol=1e-12, atol=0)
    return set(n_hidden[possible][match].tolist())


def test_a_dismissal_floor_gives_back_no_withheld_baseline_period() -> None:
    """metadata["floors"] publishes band-low x the baseline's Clopper-Pearson bound, a function of the
    baseline's counts withheld periods included: with C's day 4 (4 decisions) in its baseline, trying
    every count that fits the floor pinned C's withheld reviewed flags. A floor is published only where its
    baseline has no withheld period."""
    log = _log()
    result = _run(log, baseline_periods=len(DAYS))
    assert _floor_candidates(result, "group", "C", DAYS[3]) == set()
    # control: B's baseline has no withheld day; its floor is published, and the same search finds B's
    # day-4 reviewed flags (counted from the log) among the counts that fit it
    published = {(f["attribute"], f["group"]) for f in result.metadata["floors"]}
    assert ("group", "B") in published and ("group", "C") not in published
    reviewed = int(((log["grp"] == "B") & log["ts"].str.startswith(DAYS[3]) & (log["flag"] == 1)).sum())
    assert reviewed in _floor_candidates(result, "group", "B", DAYS[3])


def test_daily_state_runs_together_pin_no_withheld_count(tmp_path: Path) -> None:
    """The log published day by day: a --state run after each day, the reader holding all four outputs
    at once (each the counts of the days it read; no label arrives late here, so a day's counts are the
    same in every output that reads it)."""
    log = _log()
    state = tmp_path / "state.json"
    outputs = [_run(log[log["ts"] < f"{day}T99"], 2, state) for day in DAYS]
    pools = sorted(
        {
            r["group"]
            for out in outputs
            for r in out.extras["periods"].to_pylist()
            if r["attribute"] == "reviewer_pool"
        }
    )
    reader = Reader(pools)
    for output in outputs:
        _read_output(reader, output)
    for pool in pools:
        reader.at_least.append(reader.columns("reviewer_pool", pool, set(DAYS), set(STATES)))
    for day in DAYS:
        reader.targets[("group", "other", day, "n", "denominator")] = _other(reader, day)
    assert ("group", "C", DAYS[3], "n", "denominator") in reader.targets
    assert reader.pinned() == {}
    # the first output, day 1 alone, withholds nothing: its row totals are published (and read above)
    assert outputs[0].metadata["rows_read"] == (log["ts"] < DAYS[1]).sum()
    assert all(out.metadata["rows_read"] is None for out in outputs[1:])
