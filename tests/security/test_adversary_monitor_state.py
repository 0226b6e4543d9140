"""Adversary against `misflag monitor --state`: a state file swapped from another log, or a log whose
history changed under it (rows removed, labels corrected) in periods the run no longer re-reads.

Each must be noticed (a warning naming the mismatch; before, the late-rows check compared one total and
only warned when it grew, so all three ran silently on the state's counts); the control (the state of the
same log) says nothing, and the swapped state raises an alarm the log's own full run does not (the attack
is real)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from misflag.monitor import monitor
from tests.monitor.conftest import make_log
from tests.monitor.test_monitor_lp_attack_releases import (
    DAYS,
    FIRST,
    SECOND,
    _day_rows,
    _log,
    _pinned,
    _pool_intervals,
    _run,
)

SETTINGS: dict[str, Any] = dict(time="ts", group="grp", reference="A", truth="truth", flag="flag", min_cell=5)


def _logs() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two logs of the same columns and days: B's false positive rate is 5% in one, 30% in the other."""
    calm = make_log(30, 150, lambda g, d: 0.05, seed=1)
    hot = make_log(30, 150, lambda g, d: 0.30 if g == "B" else 0.05, seed=2)
    return calm, hot


def _mismatch(result: Any) -> list[str]:
    return [w for w in result.metadata["warnings"] if "does not match the state file" in w]


def test_control_the_same_logs_state_says_nothing(tmp_path: Path) -> None:
    calm, _ = _logs()
    state = tmp_path / "s.json"
    monitor(calm[calm["ts"] < "2024-01-20"], state=state, **SETTINGS)
    result = monitor(calm, state=state, **SETTINGS)
    assert not _mismatch(result) and not result.metadata["warnings"]
    assert result.metadata["alarms"] == monitor(calm, **SETTINGS).metadata["alarms"]


def test_a_state_swapped_from_another_log_is_noticed(tmp_path: Path) -> None:
    calm, hot = _logs()
    state = tmp_path / "s.json"
    monitor(hot[hot["ts"] < "2024-01-20"], state=state, **SETTINGS)  # the other log's state
    result = monitor(calm, state=state, **SETTINGS)
    # the attack is real: the calm log raises no alarm, the swapped state reports the hot log's
    assert not monitor(calm, **SETTINGS).metadata["alarms"]
    assert result.metadata["alarms"]
    assert _mismatch(result), result.metadata["warnings"]


def test_rows_removed_from_periods_no_longer_read_are_noticed(tmp_path: Path) -> None:
    calm, _ = _logs()
    state = tmp_path / "s.json"
    monitor(calm[calm["ts"] < "2024-01-20"], state=state, **SETTINGS)
    pruned = calm[~((calm["grp"] == "B") & (calm["ts"] < "2024-01-10"))]  # 9 of B's days removed
    (warning,) = _mismatch(monitor(pruned, state=state, **SETTINGS))
    assert "in 9 group-period(s) before 2024-01-19" in warning


def test_labels_corrected_in_periods_no_longer_read_are_noticed(tmp_path: Path) -> None:
    """A correction flips a label (0 -> 1): the label count is unchanged, so the late-rows check (a count
    of labels) says nothing, yet a full run over the same rows counts 40 fewer truth-0 rows of B."""
    calm, _ = _logs()
    state = tmp_path / "s.json"
    monitor(calm[calm["ts"] < "2024-01-20"], state=state, **SETTINGS)
    flip = calm.index[(calm["grp"] == "B") & (calm["ts"] < "2024-01-10") & (calm["truth"] == 0)][:40]
    corrected = calm.assign(truth=calm["truth"].where(~calm.index.isin(flip), 1))
    result = monitor(corrected, state=state, **SETTINGS)
    full = monitor(corrected, **SETTINGS)
    assert result.extras["periods"].to_pylist() != full.extras["periods"].to_pylist()
    assert _mismatch(result), result.metadata["warnings"]


def test_a_label_moved_between_two_rows_of_a_group_day_is_noticed(tmp_path: Path) -> None:
    """A flagged row's label goes 0 -> 1 and an unflagged row's 1 -> 0 on the same day and group: the
    day's rows, labels and 1s are unchanged, so only the cells (flag x truth) tell; B's false positives
    of that day fall by one in a full run."""
    calm, _ = _logs()
    state = tmp_path / "s.json"
    monitor(calm[calm["ts"] < "2024-01-20"], state=state, **SETTINGS)
    day = (calm["grp"] == "B") & calm["ts"].str.startswith("2024-01-05")
    up = calm.index[day & (calm["flag"] == 1) & (calm["truth"] == 0)][0]
    down = calm.index[day & (calm["flag"] == 0) & (calm["truth"] == 1)][0]
    moved = calm.assign(
        truth=calm["truth"].where(~calm.index.isin([up, down]), calm["truth"].map({0: 1, 1: 0}))
    )
    (warning,) = _mismatch(monitor(moved, state=state, **SETTINGS))
    assert "in 1 group-period(s)" in warning


def test_a_state_restored_from_a_backup_forgets_what_later_outputs_withheld(tmp_path: Path) -> None:
    """A documented gap without a release register, kept as a test (docs/monitor.md, "Disclosure
    control"): run 1 withholds day 3's pools (thin) and records it; the state copied before run 1 is restored, and run 2 (day 3's pools now
    over --min-cell) publishes them: the integer reader of test_monitor_lp_attack_releases.py pins the
    pools' run-1 counts (7 and 20) to 7-10 and 17-20. The control, run 2 on the state run 1 left, keeps
    them withheld and pins nothing. No check can tell a restored copy from a state whose job skipped days;
    a release register closes it (test_adversary_monitor_register_withheld.py), this run has none."""
    state, backup = tmp_path / "state.json", tmp_path / "backup.json"
    _run(_log(FIRST, 2), state)
    shutil.copyfile(state, backup)
    first = _run(_log(FIRST, 3), state)
    assert all(r["suppressed"] for r in _day_rows(first, "reviewer_pool", DAYS[2]))
    kept = _run(_log(SECOND, 4), state)
    assert not any(_pinned(i) for i in _pool_intervals(first, kept).values())
    shutil.copyfile(backup, state)
    restored = _run(_log(SECOND, 4), state)
    assert sorted(_pool_intervals(first, restored).values()) == [(7, 10), (17, 20)]
