"""The attack of test_monitor_lp_attack_periods replayed through the release register (issue 21 for the
monitor): the same hand-built log, now a CSV file (a release is keyed by its input's sha256).

Without a register (the control) a day output and a week output of the log give C's withheld January 3
back (4 decisions, counted here from the log), as in the periods test. With `release_register`, the
second output of a pair under other settings (`--period` day/week/month, `--where "flag = 0"`) is refused
in one line naming the first release and the setting that differs; the register is left as it was, so
the reader holds the first output alone, which pins nothing. The same settings are always allowed, and
publish what an unregistered run publishes; two outputs that withhold nothing are both allowed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from misflag.disclosure import ReleaseRegister
from misflag.monitor import ReleaseRefused, monitor
from tests.monitor.test_monitor_lp_attack_periods import MIN_CELL, ROLES, STATES, Reader, _count, _log

SETTINGS: dict[str, Any] = {**ROLES, "baseline_periods": 2, "min_cell": MIN_CELL}
UNFLAGGED = {s for s in STATES if s[0] == 0}


@pytest.fixture(scope="module")
def log_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path]:
    log = _log()
    path = tmp_path_factory.mktemp("log") / "log.csv"
    log.to_csv(path, index=False)
    return log, path


def _run(path: Path, period: str, where: str | None = None, **register: Any) -> Any:
    return monitor(str(path), **SETTINGS, period=period, where=where, **register)


def test_control_without_the_register_the_pair_gives_the_withheld_day_back(
    log_file: tuple[pd.DataFrame, Path],
) -> None:
    log, path = log_file
    reader = Reader()
    reader.read(_run(path, "day"), "day")
    reader.read(_run(path, "week"), "week")
    people = ("day", "C", "2024-01-03", "n", "denominator")
    assert reader.pinned({people})[people] == (_count(log, "C", {dt.date(2024, 1, 3)}),) * 2 == (4, 4)


@pytest.mark.parametrize(
    ("first", "second", "differs"),
    [
        (("day", None), ("week", None), "period 'day' (now 'week')"),
        (("week", None), ("day", None), "period 'week' (now 'day')"),
        (("week", None), ("month", None), "period 'week' (now 'month')"),  # the month withholds nothing
        (("month", None), ("week", None), "period 'month' (now 'week')"),  # refused once the week is run
        (("day", None), ("day", "flag = 0"), "where None (now 'flag = 0')"),
        (("day", "flag = 0"), ("day", None), "where 'flag = 0' (now None)"),
    ],
)
def test_a_second_release_under_other_settings_is_refused(
    log_file: tuple[pd.DataFrame, Path],
    tmp_path: Path,
    first: tuple[str, str | None],
    second: tuple[str, str | None],
    differs: str,
) -> None:
    _, path = log_file
    register = tmp_path / "releases.json"
    published = _run(path, *first, release_register=register)
    before = register.read_bytes()
    with pytest.raises(ReleaseRefused) as caught:
        _run(path, *second, release_register=register)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("earlier release '1: monitor by grp, per ")
    assert differs in message and "could give withheld counts back" in message
    assert register.read_bytes() == before
    # what a reader holds is the first output alone: it pins nothing
    reader = Reader()
    reader.read(published, first[0], UNFLAGGED if first[1] else None)
    assert reader.pinned() == {}


def test_the_same_settings_continue_and_publish_what_an_unregistered_run_does(
    log_file: tuple[pd.DataFrame, Path], tmp_path: Path
) -> None:
    log, path = log_file
    register = tmp_path / "releases.json"
    plain = _run(path, "week")
    outputs = [_run(path, "week", release_register=register) for _ in range(2)]
    for number, output in enumerate(outputs, 1):
        assert output.extras["periods"].equals(plain.extras["periods"]) and output.table.equals(plain.table)
        assert output.metadata["release"] == f"{number}: monitor by grp, per week"
        assert output.metadata["spec"]["protect_releases"] is True
        assert output.metadata["spec"]["release_register"] is None  # the register's path is never published
    releases = ReleaseRegister(register).releases
    assert [r["name"] for r in releases] == ["1: monitor by grp, per week", "2: monitor by grp, per week"]
    # what each withheld, as counted from the log: the group-weeks (Mondays) with 1 to 9 decisions
    weeks = pd.to_datetime(log["ts"]).dt.to_period("W-SUN").dt.start_time
    sizes = log.groupby([log["grp"], weeks]).size()
    thin = [["group", g, w.isoformat()] for (g, w), n in sizes.items() if 0 < n < MIN_CELL]
    assert thin == [["group", "D", "2024-01-08T00:00:00"]]
    assert all(r["metadata"]["withheld"] == thin for r in releases)


@pytest.mark.parametrize("named", [True, False])
def test_a_state_run_of_the_grown_log_continues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, named: bool
) -> None:
    """The next day's run: the log has grown (a new digest), the state file and the settings are the same
    (through a named register, or `--protect-releases`' register of the log's path)."""
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path / "data"))
    log = _log()
    path, state, register = tmp_path / "log.csv", tmp_path / "state.json", tmp_path / "releases.json"
    options: dict[str, Any] = {"release_register": register} if named else {"protect_releases": True}
    log[log["ts"] < "2024-01-08"].to_csv(path, index=False)
    _run(path, "day", state=state, **options)
    log.to_csv(path, index=False)
    grown = _run(path, "day", state=state, **options)
    assert grown.metadata["periods"]["count"] == 14
    if not named:  # the path's register: the one whose name is not a digest
        (register,) = (tmp_path / "data" / "releases").glob("path-*.json")
    assert len({r["sha256"] for r in ReleaseRegister(register).releases}) == 2
    assert grown.metadata["release"] == "2: monitor by grp, per day"


def _grown_pair(tmp_path: Path, **register: Any) -> Any:
    """The first week's day output, then the week output of the log grown to two weeks (a new digest),
    through the same register: the week output where it is published (None where it is refused)."""
    log, path = _log(), tmp_path / "log.csv"
    log[log["ts"] < "2024-01-08"].to_csv(path, index=False)
    day = _run(path, "day", **register)
    log.to_csv(path, index=False)
    try:
        week = _run(path, "week", **register)
    except ReleaseRefused as refused:
        assert "of another version of this log (or another log)" in str(refused)
        assert "period 'day' (now 'week')" in str(refused)
        return None
    reader = Reader()
    reader.read(day, "day")
    reader.read(week, "week")
    return reader.pinned()


def test_a_grown_log_under_other_settings_is_refused_by_a_named_register(tmp_path: Path) -> None:
    """A register the user names links every monitor release it holds, whatever its digest."""
    assert _grown_pair(tmp_path, release_register=tmp_path / "releases.json") is None


def test_control_a_grown_log_without_protection_gives_the_withheld_day_back(tmp_path: Path) -> None:
    """Without a register, the day output of the first week and the week output of the grown log pin
    C's January 3 (4 decisions, counted from the log)."""
    people = ("day", "C", "2024-01-03", "n", "denominator")
    pinned = _grown_pair(tmp_path)
    assert pinned[people] == (_count(_log(), "C", {dt.date(2024, 1, 3)}),) * 2 == (4, 4)


def test_a_grown_log_under_other_settings_is_refused_with_protect_releases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--protect-releases` also keeps a register of the log's path: the week output of the grown log
    (a new digest, the same path) is refused, naming the day output of the earlier version."""
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path / "data"))
    assert _grown_pair(tmp_path, protect_releases=True) is None


def test_protect_releases_links_the_same_bytes_at_another_path(
    log_file: tuple[pd.DataFrame, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The digest's register is still checked: a copy of the log elsewhere is the same log."""
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path / "data"))
    _, path = log_file
    copy = tmp_path / "copy.csv"
    copy.write_bytes(path.read_bytes())
    _run(path, "day", protect_releases=True)
    refusal = r"of this log was published with period 'day' \(now 'week'\)"
    with pytest.raises(ReleaseRefused, match=refusal):
        _run(copy, "week", protect_releases=True)


def test_protect_releases_does_not_link_a_grown_copy_at_another_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What is not linked (docs/monitor.md): a log copied elsewhere and grown has neither the digest nor
    the path of the first release, so the pair is published and pins the day (the documented gap)."""
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path / "data"))
    log, first, grown = _log(), tmp_path / "first.csv", tmp_path / "elsewhere" / "grown.csv"
    grown.parent.mkdir()
    log[log["ts"] < "2024-01-08"].to_csv(first, index=False)
    log.to_csv(grown, index=False)
    reader = Reader()
    reader.read(_run(first, "day", protect_releases=True), "day")
    reader.read(_run(grown, "week", protect_releases=True), "week")
    people = ("day", "C", "2024-01-03", "n", "denominator")
    assert reader.pinned({people})[people] == (4, 4)


def test_outputs_that_withhold_nothing_are_both_published(tmp_path: Path) -> None:
    """A and B only (12 decisions a day each): neither the day output nor the week output withholds a
    count, so there is nothing to give back and both are recorded."""
    log = _log()
    log = log[log["grp"].isin(["A", "B"])]
    path, register = tmp_path / "log.csv", tmp_path / "releases.json"
    log.to_csv(path, index=False)
    for period in ("day", "week"):
        output = _run(path, period, release_register=register)
        assert output.metadata["input"]["rows"] == len(log) == 2 * 12 * 14
    assert [r["metadata"]["withheld"] for r in ReleaseRegister(register).releases] == [[], []]


def test_a_decision_audit_release_of_the_same_log_is_refused(
    log_file: tuple[pd.DataFrame, Path], tmp_path: Path
) -> None:
    """No reader links a decision audit's tables with a monitor's: the monitor refuses to be recorded
    beside one rather than publish unchecked."""
    _, path = log_file
    register = tmp_path / "releases.json"
    ReleaseRegister(register).audit("audit by grp", str(path), flag="flag", truth="truth", groups=["grp"])
    with pytest.raises(ReleaseRefused, match="earlier release 'audit by grp' of this log is not a monitor's"):
        _run(path, "day", release_register=register)
    assert len(ReleaseRegister(register).releases) == 1


def test_a_run_refused_after_it_ran_leaves_its_state_file_as_it_was(
    log_file: tuple[pd.DataFrame, Path], tmp_path: Path
) -> None:
    """The month output withholds nothing, so a week output is refused only once it has run (it withholds
    D's second week): its state file must not move on, or the next `--state` run would skip rows whose
    output was never published."""
    log, path = log_file
    register, state = tmp_path / "releases.json", tmp_path / "state.json"
    _run(path, "month", release_register=register)
    with pytest.raises(ReleaseRefused):
        _run(path, "week", state=state, release_register=register)
    assert not state.exists()
    first_week = tmp_path / "first-week.csv"
    log[log["ts"] < "2024-01-08"].to_csv(first_week, index=False)
    _run(first_week, "week", state=state)  # yesterday's state: the refused run would have read on from it
    before = state.read_bytes()
    with pytest.raises(ReleaseRefused):
        _run(path, "week", state=state, release_register=register)
    assert state.read_bytes() == before


def test_a_decision_audit_after_a_monitor_release_warns_that_it_does_not_link_it(
    log_file: tuple[pd.DataFrame, Path], tmp_path: Path
) -> None:
    """The other order: a decision audit recorded beside a monitor release of the same log cannot link the
    monitor's tables either; it says so before the output is published (`warn_unlinked`)."""
    _, path = log_file
    register = tmp_path / "releases.json"
    _run(path, "day", release_register=register)
    with pytest.warns(
        UserWarning, match="holds 1 monitor release\\(s\\) of this input, which this decision audit"
    ):
        ReleaseRegister(register).audit("audit by grp", str(path), flag="flag", truth="truth", groups=["grp"])
