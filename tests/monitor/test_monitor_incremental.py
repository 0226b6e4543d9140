"""`state`: a scheduled run over a growing log reads only new rows and gives exactly the full run's answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from misflag.errors import InputError
from misflag.monitor import monitor

from .conftest import make_log

SETTINGS: dict[str, Any] = dict(
    time="ts",
    group="grp",
    reference="A",
    truth="truth",
    stages=[("algorithm", "flag"), ("review", "review")],
    metrics=["fpr", "dismissal_rate"],
    reviewer_pool="pool",
    baseline_periods=10,
)


def _growing_log() -> pd.DataFrame:
    return make_log(
        75,
        150,
        lambda g, d: 0.05 * (3 if g == "B" and d >= 40 else 1),
        dismissal=lambda g, d: 0.4 if d < 50 else 0.1,
    )


def _answer(
    result: object,
) -> tuple[list[dict[str, object]], list[dict[str, object]], list[dict[str, object]]]:
    return (result.extras["periods"].to_pylist(), result.metadata["alarms"], result.rows())  # type: ignore[attr-defined]


def test_incremental_runs_equal_a_full_run(tmp_path: Path) -> None:
    log = _growing_log()
    state = tmp_path / "state.json"
    read = []
    # the log grows: each run sees everything so far (the last day of a run may still be filling up)
    for cut in ("2024-01-20T12:00:00", "2024-02-25T06:00:00", "2024-03-16T00:00:00"):
        part = log[log["ts"] < cut].reset_index(drop=True)
        incremental = monitor(part, state=state, **SETTINGS)
        full = monitor(part, **SETTINGS)
        assert _answer(incremental) == _answer(full)
        read.append(incremental.metadata["rows_read"])
    assert read[0] == (log["ts"] < "2024-01-20T12:00:00").sum()
    # later runs read only the newest period seen before and what came after it
    assert read[1] == ((log["ts"] >= "2024-01-20") & (log["ts"] < "2024-02-25T06:00:00")).sum()
    assert read[2] == ((log["ts"] >= "2024-02-25") & (log["ts"] < "2024-03-16")).sum()
    assert full.metadata["alarms"]


def test_state_holds_counts_only_never_reviewer_names(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    monitor(_growing_log(), state=state, **SETTINGS)
    text = state.read_text()
    assert "alice" not in text and "bob" not in text
    assert json.loads(text)["format"] == "misflag-monitor-state/1"


def test_state_from_other_settings_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    log = _growing_log()
    monitor(log, state=state, **SETTINGS)
    with pytest.raises(InputError, match="other time/group"):
        monitor(log, state=state, **{**SETTINGS, "truth": "1 - truth"})
