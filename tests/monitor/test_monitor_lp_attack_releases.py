"""The reader with a solver across `misflag monitor`'s outputs: row totals, and daily `--state` runs with late
reviews (issue 21, linked monitor releases).

Row totals: `metadata["rows_read"]` and `metadata["input"]["rows"]` add up every decision, withheld ones
included; on a log whose only withheld cell is one group-day, total minus the published `n` rows is that
cell. They are now left out (None) wherever the output withholds rows, as the decision audit does.

Late reviews: a reviewer pool is known once a flag is reviewed (as in the ledger, whose pools are the
reviewers' digests), so pools grow as reviews arrive. Day 3's 36 flags: pool 1 reviewed 20 by the first
run, pool 2 seven (under --min-cell 10, so the day's pools are withheld), three more by pool 2 arrive
before the second run, six stay pending. The groups are all published, so the first output gives the
pools' day total (the groups' dismissal denominators) and their dismissed total. A second output that
publishes the day's pools (pool 2 now at 10) bounds each earlier count from above (reviews only
arrive), and the integer program (scipy's HiGHS `milp`) pins pool 2's first-run count. The rule: a
period whose pools were withheld while its total was published stays withheld in every later output of
the same state file. The control is the same second output without the state file's memory (a full
run over the grown log), which the same reader breaks.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from misflag.errors import InputError
from misflag.monitor import monitor
from tests.monitor._logs import ROLES

MIN_CELL = 10
DAYS = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]
#: Day 3's flags in order (A's 12, B's 12, C's 12): who reviewed each by the first and by the second run
FIRST = {**dict.fromkeys(range(20), "p1"), **dict.fromkeys(range(20, 27), "p2")}
SECOND = {**FIRST, **dict.fromkeys(range(27, 30), "p2")}
#: The same where C's day 3 is thin and unflagged (A's and B's 24 flags): 14 and 6 by the first run
FIRST_THIN = {**dict.fromkeys(range(14), "p1"), **dict.fromkeys(range(14, 20), "p2")}
SECOND_THIN = {**FIRST_THIN, **dict.fromkeys(range(20, 24), "p2")}


def _log(reviews_by: dict[int, str], days: int, c_day3: int = 30) -> pd.DataFrame:
    """30 decisions per group and day, the first 12 flagged; a flag is dismissed when its index is a
    multiple of 3. Days 1, 2 and 4 are reviewed in full, alternately by p1 and p2; day 3 as `reviews_by`.
    With `c_day3` other than 30, C decided that many on day 3, none flagged."""
    rows = []
    for k, day in enumerate(DAYS[:days]):
        for g, group in enumerate("ABC"):
            thin = k == 2 and group == "C" and c_day3 != 30
            for i in range(c_day3 if k == 2 and group == "C" else 30):
                flag = int(i < 12 and not thin)
                index = 12 * g + i
                reviewer = reviews_by.get(index) if k == 2 else ("p1" if index % 2 else "p2")
                reviewed = flag and reviewer is not None
                rows.append(
                    {
                        "ts": f"{day}T{i % 24:02d}:00:00",
                        "grp": group,
                        "flag": flag,
                        "review": (0 if index % 3 == 0 else 1) if reviewed else (None if flag else 0),
                        "truth": int(i % 4 == 0),
                        "pool": reviewer if reviewed else None,
                    }
                )
    return pd.DataFrame(rows).astype({"review": "Int64"})


SETTINGS: dict[str, Any] = {
    **ROLES,
    "baseline_periods": 2,
    "min_cell": MIN_CELL,
    "late_periods": 1,
}


def _run(log: pd.DataFrame, state: Path | None = None) -> Any:
    return monitor(log, state=state, **SETTINGS)


def _day_rows(result: Any, attribute: str, day: str) -> list[dict[str, Any]]:
    rows = result.extras["periods"].to_pylist()
    return [r for r in rows if r["attribute"] == attribute and r["time"].startswith(day)]


def _dismissals(rows: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """label -> (dismissed, confirmed) of every published dismissal_rate row (none reviewed: 0 and 0)."""
    out = {}
    for r in rows:
        if r["metric"] == "dismissal_rate" and not r["suppressed"]:
            dismissed = round(r["value"] * r["denominator"]) if r["denominator"] else 0
            out[r["group"]] = (dismissed, int(r["denominator"]) - dismissed)
    return out


def _pool_intervals(first: Any, second: Any) -> dict[str, tuple[float, float]]:
    """Least and most reviewed flags of each pool on day 3 in the first output, given both outputs.

    Unknowns: dismissed and confirmed flags at the first run, per pool and per group withheld there.
    The pools' and the groups' totals are equal (every reviewed flag has a pool). Where the second output
    shows a pool's or a group's day, each of its counts bounds the first run's from above (a review, once
    made, stays)."""
    groups = _dismissals(_day_rows(first, "group", DAYS[2]))
    hidden = sorted({"A", "B", "C"} - set(groups))
    pools = ["pool 1", "pool 2"]
    later = {
        **_dismissals(_day_rows(second, "reviewer_pool", DAYS[2])),
        **_dismissals(_day_rows(second, "group", DAYS[2])),
    }
    labels = pools + hidden
    upper = np.full(2 * len(labels), np.inf)
    for k, label in enumerate(labels):
        if label in later:
            upper[2 * k : 2 * k + 2] = later[label]
    sign = [1.0] * len(pools) + [-1.0] * len(hidden)  # pools minus withheld groups = shown groups
    totals = [sum(counts[c] for counts in groups.values()) for c in (0, 1)]
    equations = LinearConstraint(
        np.array([[v if c == kind else 0.0 for v in sign for c in (0, 1)] for kind in (0, 1)]), totals, totals
    )
    size = len(upper)
    out = {}
    for k, pool in enumerate(pools):
        objective = np.zeros(size)
        objective[2 * k : 2 * k + 2] = 1.0
        ends = []
        for direction in (1.0, -1.0):
            found = milp(
                direction * objective,
                constraints=equations,
                integrality=np.ones(size),
                bounds=Bounds(0, upper),
            )
            assert found.status == 0, found.message
            ends.append(direction * found.fun)
        out[pool] = (ends[0], ends[1])
    return out


def _pinned(interval: tuple[float, float]) -> bool:
    return interval[0] > 0 and interval[1] - interval[0] < math.ceil(MIN_CELL / 2)


def test_a_later_output_without_the_state_memory_pins_an_earlier_withheld_pool(tmp_path: Path) -> None:
    first = _run(_log(FIRST, 3), tmp_path / "state.json")
    assert all(r["suppressed"] for r in _day_rows(first, "reviewer_pool", DAYS[2]))
    full = _run(_log(SECOND, 4))  # the grown log monitored afresh: day 3's pools are all over 10
    assert not any(r["suppressed"] for r in _day_rows(full, "reviewer_pool", DAYS[2]))
    intervals = _pool_intervals(first, full)
    # p2 reviewed 7 by the first run and p1 20 (whichever of them the output calls pool 1): both pinned
    assert sorted(sum(1 for who in FIRST.values() if who == p) for p in ("p1", "p2")) == [7, 20]
    assert sorted(intervals.values()) == [(7, 10), (17, 20)]
    assert all(_pinned(i) for i in intervals.values())


def test_a_period_withheld_for_a_thin_group_is_pinned_the_same_way(tmp_path: Path) -> None:
    """Day 3's pools withheld because a group (C, 4 decisions, none flagged) is thin: the groups' total
    is not published, but C's reviewed flags are bounded by the later output's (0), so the same reader
    pins both pools when the later output shows them (C grown to 12 by late rows, pool 2 to 10)."""
    first = _run(_log(FIRST_THIN, 3, c_day3=4), tmp_path / "state.json")
    assert all(r["suppressed"] for r in _day_rows(first, "group", DAYS[2]) if r["group"] == "C")
    full = _run(_log(SECOND_THIN, 4, c_day3=12))
    intervals = _pool_intervals(first, full)
    assert sorted(intervals.values()) == [(6, 10), (10, 14)] and all(_pinned(i) for i in intervals.values())
    state = tmp_path / "state.json"
    second = _run(_log(SECOND_THIN, 4, c_day3=12), state)  # the state run keeps them withheld
    assert not any(r["suppressed"] for r in _day_rows(second, "group", DAYS[2]))
    assert all(r["suppressed"] for r in _day_rows(second, "reviewer_pool", DAYS[2]))
    assert not any(_pinned(i) for i in _pool_intervals(first, second).values())


def test_a_state_run_keeps_the_pools_of_that_period_withheld(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = _run(_log(FIRST, 3), state)
    second = _run(_log(SECOND, 4), state)
    assert all(r["suppressed"] for r in _day_rows(second, "reviewer_pool", DAYS[2]))
    intervals = _pool_intervals(first, second)
    assert not any(_pinned(i) for i in intervals.values())
    assert all(i[0] == 0 for i in intervals.values())  # nothing bounds them but the day's total
    # the other days' pools are published as before, and the groups of day 3 too
    assert not any(r["suppressed"] for r in _day_rows(second, "reviewer_pool", DAYS[3]))
    assert not any(r["suppressed"] for r in _day_rows(second, "group", DAYS[2]))
    # the memory lives in the state file: a third run still withholds them
    third = _run(_log(SECOND, 4), state)
    assert all(r["suppressed"] for r in _day_rows(third, "reviewer_pool", DAYS[2]))


def _one_thin_cell() -> pd.DataFrame:
    """Three days of A, B and C (30 each) but C on day 3 with 4: the log's only withheld group-day."""
    log = _log(SECOND, 3)
    thin = (log["grp"] == "C") & log["ts"].str.startswith(DAYS[2])
    keep = ~thin | (log.groupby(thin).cumcount() < 4)
    return log[keep].reset_index(drop=True)


def test_row_totals_are_withheld_with_any_withheld_row() -> None:
    log = _one_thin_cell()
    result = _run(log)
    shown = sum(
        r["value"]
        for r in result.extras["periods"].to_pylist()
        if r["attribute"] == "group" and r["metric"] == "n" and not r["suppressed"]
    )
    # control: the totals as published before; total minus the published n rows is C's day 3, exactly
    assert len(log) - shown == ((log["grp"] == "C") & log["ts"].str.startswith(DAYS[2])).sum() == 4
    assert result.metadata["rows_read"] is None and result.metadata["input"]["rows"] is None
    # a --where that keeps every row: the input's rows are the same sum, and are withheld too
    filtered = monitor(log, **{**SETTINGS, "where": "grp <> 'Z'"})
    assert filtered.metadata["input"]["rows"] is None and filtered.metadata["rows_read"] is None
    # nothing withheld: the totals are published
    whole = _run(_log(SECOND, 2))
    assert whole.metadata["rows_read"] == whole.metadata["input"]["rows"] == 180


def test_a_damaged_memory_is_refused_in_one_line(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    _run(_log(FIRST, 3), state)
    data = json.loads(state.read_text())
    assert data["withheld_pool_periods"] == [f"{DAYS[2]}T00:00:00"]
    for bad, message in (
        ("2024-01-03", "must be a list of period starts"),
        (["not a time"], "withheld_pool_periods 1 must be an ISO 8601 timestamp"),
        ([f"{DAYS[2]}T00:00:00+01:00"], "without a UTC offset"),
    ):
        state.write_text(json.dumps({**data, "withheld_pool_periods": bad}))
        with pytest.raises(InputError, match="is damaged") as caught:
            _run(_log(SECOND, 4), state)
        assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_memory_dropped_by_hand_is_refused_not_forgotten(tmp_path: Path) -> None:
    """The operator deletes `withheld_pool_periods` from the state file (or keeps one written before it
    existed). Read as "nothing withheld", the next run republished day 3's pools, and the reader above
    pinned the first run's pool counts again (7 to 7-10, 20 to 17-20, as in the control, measured on the
    tree before the fix); now the file is refused in one line, and a state
    with nothing withheld says so (an empty list), so that no file lacks the key."""
    state = tmp_path / "state.json"
    _run(_log(FIRST, 3), state)
    data = json.loads(state.read_text())
    del data["withheld_pool_periods"]
    state.write_text(json.dumps(data))
    with pytest.raises(InputError, match="withheld_pool_periods") as caught:
        _run(_log(SECOND, 4), state)
    assert "is damaged" in str(caught.value) and "\n" not in str(caught.value)
    clean = tmp_path / "clean.json"
    _run(_log(SECOND, 2), clean)  # two full days: nothing withheld
    assert json.loads(clean.read_text())["withheld_pool_periods"] == []
    assert not any(r["suppressed"] for r in _run(_log(SECOND, 2), clean).extras["periods"].to_pylist())


def _published(result: Any) -> tuple[Any, ...]:
    """Everything an output publishes but its input's digest: rows, alarms, floors, warnings, totals."""
    meta = result.metadata
    kept = ("alarms", "floors", "warnings", "rows_read", "comparisons")
    return (
        result.extras["periods"].to_pylist(),
        result.table.to_pylist(),
        [meta[k] for k in kept],
        meta["input"]["rows"],
        result.summary,
    )


def test_a_withheld_group_day_needs_no_memory() -> None:
    """The first output is the same whether C decided 0 or 9 on day 3 (all unflagged): nothing in it
    depends on that count, so the later output's 12 bounds it to 0-12, an interval that reaches 0."""
    outputs = {c: _published(_run(_log(FIRST_THIN, 3, c_day3=c))) for c in range(MIN_CELL)}
    assert all(output == outputs[4] for output in outputs.values())
