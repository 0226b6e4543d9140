"""Late labels under `--state`: daily runs re-read the last `late_periods` periods, so labels arriving up to
that late are counted exactly as a full run counts them; later ones are named in a warning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from misflag.errors import InputError
from misflag.monitor import monitor

from .conftest import START, make_log

SETTINGS: dict[str, Any] = dict(time="ts", group="grp", reference="A", truth="truth", flag="flag", min_cell=5)
LATE = 3


def _log_with_delays(days: int, most_late: int, seed: int) -> pd.DataFrame:
    """make_log's rows (group B's false positive rate triples from day 20) plus each label's arrival day."""
    log = make_log(days, 120, lambda g, d: 0.05 * (3 if g == "B" and d >= 20 else 1), seed=seed)
    decided = (pd.to_datetime(log["ts"]) - START).dt.days.to_numpy()
    delay = np.random.default_rng(seed).integers(0, most_late + 1, len(log))
    return log.assign(decided=decided, arrives=decided + delay)


def _as_of(log: pd.DataFrame, day: int) -> pd.DataFrame:
    """The log a run on the evening of `day` sees: rows decided so far, truth NULL where not yet arrived."""
    seen = log[log["decided"] <= day]
    truth = seen["truth"].astype("Int64").where(seen["arrives"] <= day)
    return seen.assign(truth=truth).drop(columns=["decided", "arrives"]).reset_index(drop=True)


def _answer(result: Any) -> tuple[Any, ...]:
    return (result.extras["periods"].to_pylist(), result.metadata["alarms"], result.rows())


def test_daily_state_runs_with_late_labels_equal_full_runs(tmp_path: Path) -> None:
    log = _log_with_delays(40, LATE, seed=3)
    state = tmp_path / "state.json"
    for day in range(15, 40):
        snapshot = _as_of(log, day)
        incremental = monitor(snapshot, state=state, late_periods=LATE, **SETTINGS)
        full = monitor(snapshot, late_periods=LATE, **SETTINGS)
        assert _answer(incremental) == _answer(full), day
        assert not any("arrived for periods before" in w for w in incremental.metadata["warnings"])
    # the change on day 20 is caught; alarms first raised in the last LATE + 1 periods are provisional
    alarms = full.metadata["alarms"]
    assert alarms and alarms[0]["group"] == "B"
    last = pd.Timestamp(full.metadata["periods"]["last"])
    for alarm in alarms:
        assert alarm["provisional"] == (pd.Timestamp(alarm["time"]) > last - pd.Timedelta(days=LATE + 1))


def test_labels_later_than_the_window_are_named_not_silently_dropped(tmp_path: Path) -> None:
    log = _log_with_delays(30, 0, seed=4)
    state = tmp_path / "state.json"
    snapshot = _as_of(log, 20)
    old = snapshot.index[snapshot["ts"] < "2024-01-10"][:7]
    monitor(snapshot.assign(truth=snapshot["truth"].mask(snapshot.index.isin(old))), state=state, **SETTINGS)
    result = monitor(snapshot, state=state, late_periods=0, **SETTINGS)  # the 7 labels arrive 10 days late
    warning = [w for w in result.metadata["warnings"] if "arrived for periods before" in w]
    assert warning and "7 truth label(s)" in warning[0] and "not counted" in warning[0]


def test_a_state_file_keeps_its_late_window(tmp_path: Path) -> None:
    log = _as_of(_log_with_delays(12, 0, seed=5), 11)
    state = tmp_path / "state.json"
    monitor(log, state=state, **SETTINGS)
    with pytest.raises(InputError, match="other"):
        monitor(log, state=state, late_periods=LATE, **SETTINGS)
    with pytest.raises(InputError, match="late_periods"):
        monitor(log, late_periods=-1, **SETTINGS)
