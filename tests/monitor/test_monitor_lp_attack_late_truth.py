"""An integer-programming reader over every daily `--state` output of `misflag monitor`, where truth labels
arrive late (issue 21, linked monitor releases; a design of its own, not the other attack tests' logs).

Four days; groups A (reference, 30 a day), B (25 a day, 7 on day 4) and C (20 a day), and a small group S
(0, 4, 6 and 3 decisions: listed, over --min-cell 10 in all, but under it every day); two stages, every
flag reviewed at once; each decision's truth arrives 0, 1 or 2 days after it (pending until then, which
`pending_truth_count` publishes). A `--state` run is made after each of the four days, and a fifth once
every label has arrived. The reader holds the five outputs and knows how they are linked: each run's
unknowns are whole counts per (day, group, algorithm flag, review, truth 0 / 1 / pending); a decision's
row is the same in every run that holds its day (so each (day, group, flag, review) adds up to the same
count), and labels only arrive (a later run's truth-0 and truth-1 counts are at least the earlier's).
Every published figure is an equation: each row's `n`, each rate's denominator and value x denominator
(`fpr`, `dismissal_rate`), each `pending_truth_count`, and the pooled rows over the periods of their label
that the output shows; the row totals where published. Each withheld count's least and most are solved
with scipy's HiGHS `milp`. The goal (docs/monitor.md): at least ceil(min_cell / 2) wide, or reaching 0.

The control is the same reader given what the naive rule would add, each group's rows over the whole log
(a pooled `n` that counts its withheld days): it pins B's thin day 4 to exactly 7. Without it, nothing
published bounds a withheld group-day from above (the row totals are withheld with it), so every one
reaches 0.
"""

from __future__ import annotations

from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from misflag.monitor import monitor
from tests.monitor._attacker import narrowed, whole_interval

MIN_CELL = 10
DAYS = ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07"]
SIZES = {"A": (30, 30, 30, 30), "B": (25, 25, 25, 7), "C": (20, 20, 20, 20), "S": (0, 4, 6, 3)}
GROUPS = list(SIZES)
#: (algorithm flag, review = final flag, truth): truth "P" is pending.
STATES = [(f, r, t) for t in (0, 1, "P") for f, r in ((0, 0), (1, 0), (1, 1))]
COUNTED: dict[str, tuple[set[Any], set[Any]]] = {
    "n": (set(), set(STATES)),  # (numerator, denominator): a count is its denominator alone
    "fpr": ({s for s in STATES if s[1] == 1 and s[2] == 0}, {s for s in STATES if s[2] == 0}),
    "dismissal_rate": ({s for s in STATES if s[0] == 1 and s[1] == 0}, {s for s in STATES if s[0] == 1}),
    "pending_truth_count": (set(), {s for s in STATES if s[2] == "P"}),
}
#: Each cell's cap: far above the log's 370 decisions.
CAP = 10**4


def _log() -> pd.DataFrame:
    """Every decision with its day, its truth and the day index its truth arrives."""
    rng = np.random.default_rng(21)
    rows = []
    for k, day in enumerate(DAYS):
        for group, sizes in SIZES.items():
            for i in range(sizes[k]):
                truth = int(rng.random() < 0.35)
                flag = int(rng.random() < (0.7 if truth else 0.25))
                review = int(flag and rng.random() < 0.6)
                rows.append(
                    {
                        "ts": f"{day}T{i % 24:02d}:30:00",
                        "grp": group,
                        "flag": flag,
                        "review": review,
                        "truth": truth,
                        "known_on": k + int(rng.integers(0, 3)),
                    }
                )
    return pd.DataFrame(rows)


def _as_of(log: pd.DataFrame, index: int) -> pd.DataFrame:
    """The log as it stands at the end of day `index`: its rows so far, truth only where it has arrived."""
    seen = log[log["ts"] < f"{DAYS[index]}T24"] if index < len(DAYS) else log
    seen = seen.copy()
    seen["truth"] = seen["truth"].where(seen["known_on"] <= index).astype("Int64")
    return seen.drop(columns="known_on").reset_index(drop=True)


def _runs(tmp_path: Path) -> list[Any]:
    state = tmp_path / "state.json"
    log = _log()
    return [
        monitor(
            _as_of(log, index),
            time="ts",
            group="grp",
            reference="A",
            truth="truth",
            stages=[("algorithm", "flag"), ("review", "review")],
            baseline_periods=2,
            late_periods=2,
            min_cell=MIN_CELL,
            state=state,
        )
        for index in range(len(DAYS) + 1)
    ]


class Reader:
    """Unknowns per (run, day, group, state); equations from every output; the links between runs."""

    def __init__(self, runs: int) -> None:
        self.cells = list(product(range(runs), DAYS, GROUPS, STATES))
        self.index = {cell: i for i, cell in enumerate(self.cells)}
        self.rows: list[tuple[list[int], list[float], float, float]] = []
        self.targets: dict[tuple[Any, ...], list[int]] = {}
        for run, day, group in product(range(runs), DAYS, GROUPS):
            if run + 1 < runs and DAYS.index(day) <= run:  # a day the run holds: all its rows
                for f, r in ((0, 0), (1, 0), (1, 1)):  # the same decisions in the next run
                    now = [self.index[(run, day, group, (f, r, t))] for t in (0, 1, "P")]
                    then = [self.index[(run + 1, day, group, (f, r, t))] for t in (0, 1, "P")]
                    self.rows.append((now + then, [1.0] * 3 + [-1.0] * 3, 0.0, 0.0))
                    for t in (0, 1):  # labels only arrive
                        later = [
                            self.index[(run + 1, day, group, (f, r, t))],
                            self.index[(run, day, group, (f, r, t))],
                        ]
                        self.rows.append((later, [1.0, -1.0], 0.0, np.inf))

    def columns(self, run: int, group: str, days: set[str], states: set[Any]) -> list[int]:
        return [self.index[(run, d, group, s)] for d in days for s in states]

    def equal(self, columns: list[int], total: float) -> None:
        self.rows.append((columns, [1.0] * len(columns), total, total))

    def read(self, run: int, group: str, days: set[str], metric: str, value: Any, denominator: Any) -> None:
        if metric not in COUNTED:
            return
        top, bottom = (self.columns(run, group, days, states) for states in COUNTED[metric])
        if value is None:
            if len(days) == 1:
                self.targets[(run, group, *days, metric, "denominator")] = bottom
                if top:
                    self.targets[(run, group, *days, metric, "numerator")] = top
            return
        if metric in ("n", "pending_truth_count"):
            self.equal(bottom, float(value))
            return
        self.equal(bottom, float(denominator))
        if denominator:
            self.equal(top, float(round(value * denominator)))

    def interval(self, columns: list[int]) -> tuple[float, float]:
        matrix = np.zeros((len(self.rows), len(self.cells)))
        low, high = np.zeros(len(self.rows)), np.zeros(len(self.rows))
        for k, (cols, weights, least, most) in enumerate(self.rows):
            matrix[k, cols] = weights
            low[k], high[k] = least, most
        return whole_interval(matrix, low, high, columns, CAP)

    def pinned(self) -> dict[tuple[Any, ...], tuple[float, float]]:
        return narrowed(self.targets, self.interval, MIN_CELL)


def _read(reader: Reader, run: int, result: Any) -> None:
    """Every figure of one output: per-period rows, pooled rows over the shown periods of their label,
    the row totals (every decision of the days the run counted)."""
    periods = result.extras["periods"].to_pylist()
    last = result.metadata["periods"]["last"][:10]
    held = {d for d in DAYS if d <= last}
    for day, group, state in product(DAYS, GROUPS, STATES):  # days after the run: nothing yet
        if day not in held:
            reader.equal([reader.index[(run, day, group, state)]], 0.0)
    shown: dict[str, set[str]] = {}
    listed = set()
    for row in periods:
        if row["attribute"] != "group":
            continue
        listed.add(row["group"])
        day = row["time"][:10]
        reader.read(run, row["group"], {day}, row["metric"], row["value"], row["denominator"])
        if row["metric"] == "n" and not row["suppressed"]:
            shown.setdefault(row["group"], set()).add(day)
    assert listed <= set(GROUPS)
    for row in result.table.to_pylist():
        if row["attribute"] != "group":
            continue
        days = shown.get(row["group"], set())
        days = days if row["stage"] == "all periods" else days & {last}
        if days:
            reader.read(run, row["group"], days, row["metric"], row["value"], row["denominator"])
    read_from = (result.metadata.get("state") or {}).get("read_from") or DAYS[0]
    for total, since in (
        (result.metadata["rows_read"], read_from[:10]),
        (result.metadata["input"]["rows"], DAYS[0]),
    ):
        if total is not None:
            every = [i for i, (r, d, _, _) in enumerate(reader.cells) if r == run and since <= d <= last]
            reader.equal(every, float(total))


def _true_cells(reader: Reader, runs: int) -> np.ndarray:
    """The counts each run really held, from the log."""
    counts = np.zeros(len(reader.cells))
    for run in range(runs):
        for row in _as_of(_log(), run).itertuples():
            truth = "P" if pd.isna(row.truth) else int(row.truth)
            counts[reader.index[(run, row.ts[:10], row.grp, (row.flag, row.review, truth))]] += 1
    return counts


def _reader(runs: list[Any]) -> Reader:
    reader = Reader(len(runs))
    for run, result in enumerate(runs):
        _read(reader, run, result)
    return reader


def test_five_daily_state_outputs_with_late_truth_pin_no_withheld_count(tmp_path: Path) -> None:
    runs = _runs(tmp_path)
    reader = _reader(runs)
    thin = {(g, d) for g in GROUPS for k, d in enumerate(DAYS) if 0 < SIZES[g][k] < MIN_CELL}
    withheld = {(t[1], t[2]) for t in reader.targets if t[3] == "n"}
    assert thin <= withheld  # every thin group-day is withheld in every run that holds it
    held = _true_cells(reader, len(runs))  # the model admits the truth (so it assumes nothing false)
    assert all(lo <= float(np.dot(held[c], w)) <= hi for c, w, lo, hi in reader.rows)
    assert reader.pinned() == {}


def test_control_the_naive_pooled_total_is_broken_by_the_same_reader(tmp_path: Path) -> None:
    runs = _runs(tmp_path)
    reader = _reader(runs)
    last = len(runs) - 1
    for group in GROUPS:  # the naive rule's pooled row: every decision of the group, withheld days too
        reader.equal(reader.columns(last, group, set(DAYS), set(STATES)), float(sum(SIZES[group])))
    pinned = reader.pinned()
    assert pinned[(last, "B", DAYS[3], "n", "denominator")] == (7.0, 7.0)
