"""Adversary against the monitor's release register (`--release-register`, `--protect-releases`): a later
release of the same log under the same settings that forgets what an earlier one withheld.

Run 1 (with `--state`) withholds day 3's reviewer pools (pool 2 reviewed 7 flags, under --min-cell 10).
Run 2 of the grown log (pool 2 at 10), with the same register and settings, either restores the state
file copied before run 1 or has none (a full run). The register recorded the withheld pool-periods but
did not apply them: run 2 published day 3's pools, and the integer reader of
tests/monitor/test_monitor_lp_attack_releases.py pinned run 1's counts (20 and 7, by construction) to
17-20 and 7-10. Run 2 must now withhold them again; the control (the same runs without a register)
still pins them, so the attack is real.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from misflag.monitor import monitor
from tests.monitor.test_monitor_lp_attack_releases import (
    DAYS,
    FIRST,
    SECOND,
    SETTINGS,
    _day_rows,
    _log,
    _pinned,
    _pool_intervals,
)

#: Run 1's day-3 counts as the log is built (pool 1 reviewed flags 0-19, pool 2 flags 20-26), and the
#: intervals the reader gets where run 2 publishes the pools (pool 2 grew by 3 before run 2).
PINNED = [(7, 10), (17, 20)]


def _run(log: pd.DataFrame, where: Path, state: Path | None, register: dict[str, Any]) -> Any:
    """One monitor run of `log` written to the same path (one log growing in place)."""
    log.to_csv(where, index=False)
    return monitor(str(where), state=state, **SETTINGS, **register)


def _registers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """A register the user names, and the one --protect-releases keeps in misflag's data directory."""
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path / "data"))
    return {"file": {"release_register": tmp_path / "register.json"}, "protect": {"protect_releases": True}}


def _withheld_day3(result: Any) -> bool:
    rows = _day_rows(result, "reviewer_pool", DAYS[2])
    return bool(rows) and all(r["suppressed"] for r in rows)


@pytest.mark.parametrize("kind", ["file", "protect"])
def test_a_restored_state_keeps_what_the_register_says_was_withheld(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    register = _registers(tmp_path, monkeypatch)[kind]
    log, state, backup = tmp_path / "log.csv", tmp_path / "state.json", tmp_path / "backup.json"
    _run(_log(FIRST, 2), log, state, register)
    shutil.copyfile(state, backup)
    first = _run(_log(FIRST, 3), log, state, register)
    assert _withheld_day3(first)
    shutil.copyfile(backup, state)
    restored = _run(_log(SECOND, 4), log, state, register)
    assert _withheld_day3(restored)
    assert not any(_pinned(i) for i in _pool_intervals(first, restored).values())
    # only day 3 is withheld again: day 4's pools (15 flags each, reviewed in full) are published
    assert not any(r["suppressed"] for r in _day_rows(restored, "reviewer_pool", DAYS[3]))
    # and the restored state remembers day 3 from now on (a next run without the register keeps it)
    assert json.loads(state.read_text())["withheld_pool_periods"] == [f"{DAYS[2]}T00:00:00"]


@pytest.mark.parametrize("kind", ["file", "protect"])
def test_a_full_run_keeps_what_the_register_says_was_withheld(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    register = _registers(tmp_path, monkeypatch)[kind]
    log = tmp_path / "log.csv"
    first = _run(_log(FIRST, 3), log, tmp_path / "state.json", register)
    assert _withheld_day3(first)
    full = _run(_log(SECOND, 4), log, None, register)
    assert _withheld_day3(full)
    assert not any(_pinned(i) for i in _pool_intervals(first, full).values())


def test_without_a_register_the_same_runs_pin_the_withheld_pools(tmp_path: Path) -> None:
    """The control: the restored state and the full run, with no register, publish day 3's pools."""
    log, state, backup = tmp_path / "log.csv", tmp_path / "state.json", tmp_path / "backup.json"
    _run(_log(FIRST, 2), log, state, {})
    shutil.copyfile(state, backup)
    first = _run(_log(FIRST, 3), log, state, {})
    shutil.copyfile(backup, state)
    restored = _run(_log(SECOND, 4), log, state, {})
    full = _run(_log(SECOND, 4), log, None, {})
    assert sorted(_pool_intervals(first, restored).values()) == PINNED
    assert sorted(_pool_intervals(first, full).values()) == PINNED


def test_a_release_recorded_without_its_pool_periods_withholds_every_pool_period_it_withheld(
    tmp_path: Path,
) -> None:
    """A register written before the pool periods were kept: its `withheld` cells stand in for them."""
    where = tmp_path / "register.json"
    register = {"release_register": where}
    log = tmp_path / "log.csv"
    first = _run(_log(FIRST, 3), log, tmp_path / "state.json", register)
    data = json.loads(where.read_text())
    for release in data["releases"]:
        assert release["metadata"].pop("withheld_pool_periods") == [f"{DAYS[2]}T00:00:00"]
    where.write_text(json.dumps(data))
    full = _run(_log(SECOND, 4), log, None, register)
    assert _withheld_day3(full)
    assert not any(_pinned(i) for i in _pool_intervals(first, full).values())
