"""Arrival state compaction: stretches of looks below log(1 / alpha) are stored as one look.

The promise (docs/monitor.md, "Incremental runs"): a compacted state gives byte for byte the output the
full path of looks gives, on every run, including when a group appears later (raising every threshold).
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from misflag.monitor import monitor
from misflag.monitor._arrival import Look, compacted, episodes

from .conftest import START
from .test_monitor_arrival import SETTINGS
from .test_monitor_late_labels import _as_of, _log_with_delays

FLOOR = -math.log(0.05)  # SETTINGS keep the default alpha


def _by_hand(looks: list[Look], floor: float) -> list[Look]:
    """Independent rule: group consecutive looks by 'below the floor'; keep a below group's last look."""
    out: list[Look] = []
    for below, group in itertools.groupby(looks, key=lambda look: look[1] < floor):
        stretch = list(group)
        out.extend(stretch[-1:] if below else stretch)
    return out


def test_compaction_by_hand() -> None:
    looks = [("d1", 0.5, "d1"), ("d2", 1.0, "d1"), ("d3", 3.5, "d1"), ("d4", 4.0, "d2"), ("d5", 0.1, "d5")]
    assert compacted(looks, 3.0) == [
        ("d2", 1.0, "d1"),
        ("d3", 3.5, "d1"),
        ("d4", 4.0, "d2"),
        ("d5", 0.1, "d5"),
    ]
    assert compacted([], 3.0) == []
    assert compacted(looks, -1.0) == looks  # nothing is below: nothing goes


def test_compaction_keeps_every_episode_for_every_threshold_at_or_above_the_floor() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        size = int(rng.integers(0, 60))
        values = rng.normal(FLOOR, 1.5, size)
        values[rng.random(size) < 0.1] = FLOOR  # exactly on the floor: kept, it may be an alarm
        looks = [(f"t{i}", float(v), f"s{i}") for i, v in enumerate(values)]
        cut = int(rng.integers(0, size + 1))
        once = compacted(looks, FLOOR)
        assert once == _by_hand(looks, FLOOR)
        # run after run: compacting what was stored plus the new looks equals compacting all of them
        assert compacted(compacted(looks[:cut], FLOOR) + looks[cut:], FLOOR) == once
        for threshold in (FLOOR, FLOOR + math.log(2), FLOOR + math.log(6), FLOOR + 2.5):
            assert episodes(once, threshold) == episodes(looks, threshold)


def _answer(result: Any) -> bytes:
    """Everything a run outputs, as bytes: the period table, alarms, summary rows and warnings."""
    parts = (
        result.extras["periods"].to_pylist(),
        result.metadata["alarms"],
        result.rows(),
        result.metadata["warnings"],
    )
    return json.dumps(parts, default=str, sort_keys=True).encode()


def _looks(state: Path) -> int:
    return sum(len(v) for v in json.loads(state.read_text())["evidence"]["path"].values())


@pytest.mark.parametrize("late_group", [False, True])
def test_compacted_state_gives_byte_identical_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, late_group: bool
) -> None:
    log = _log_with_delays(45, 4, seed=8)  # group B's false positive rate triples from day 20: alarms
    if late_group:  # group C appears on day 25: every comparison's share of alpha falls from then on
        log = log[(log["grp"] != "C") | (log["decided"] >= 25)]
    compact, full = tmp_path / "compact.json", tmp_path / "full.json"
    alarms = 0
    for day in range(10, 45):
        snapshot = _as_of(log, day)
        kept = monitor(snapshot, state=compact, late_periods=6, evidence="arrival", **SETTINGS)
        with monkeypatch.context() as patch:
            patch.setattr("misflag.monitor._watch.compacted", lambda looks, floor: list(looks))
            every = monitor(snapshot, state=full, late_periods=6, evidence="arrival", **SETTINGS)
        assert _answer(kept) == _answer(every), day
        alarms = len(kept.metadata["alarms"])
    assert alarms  # the change is caught, so looks above the floor were kept and used
    stored, uncompacted = _looks(compact), _looks(full)
    full_path = json.loads(full.read_text())["evidence"]["path"]
    assert stored == sum(len(_by_hand([tuple(x) for x in v], FLOOR)) for v in full_path.values())
    assert stored < uncompacted / 2
    assert pd.Timestamp(kept.metadata["alarms"][0]["time"]) >= START + pd.Timedelta(days=20)
