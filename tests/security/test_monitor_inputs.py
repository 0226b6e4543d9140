"""Hostile input to `misflag monitor`: expressions, state files, band values, labels that reach the report.

Every hostile expression (tests/security/corpus.py) must be refused with a one-line MisflagError before
anything reads the canary or writes the target; reviewer names must never leave the monitor.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest

from misflag.errors import MisflagError
from misflag.monitor import monitor
from misflag.report import render_report
from tests.monitor._logs import ROLES

from .corpus import CANARY, TARGET, corpus

ENTRIES = corpus()
SECRET = "canary-secret-7f3a"


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    days = pd.date_range("2024-01-01", periods=20, freq="D").strftime("%Y-%m-%d")
    rows = [
        {
            "ts": day,
            "grp": group,
            "flag": (i + j) % 3 == 0,
            "truth": i % 2,
            "review": (i + j) % 5 > 0,
            "pool": f"reviewer-{'qx-alice-7' if i % 2 else 'qx-bob-7'}",
        }
        for j, day in enumerate(days)
        for group in ("A", "B")
        for i in range(30)
    ]
    return pd.DataFrame(rows)


@pytest.fixture(autouse=True)
def canary() -> None:
    Path(CANARY).parent.mkdir(parents=True, exist_ok=True)
    Path(CANARY).write_text(SECRET)
    Path(TARGET).unlink(missing_ok=True)


SETTINGS = dict(time="ts", group="grp", reference="A", truth="truth", flag="flag")


@pytest.fixture(scope="module")
def state_data(log: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The state file a monitor of `log` leaves, written once: each test edits its own copy of it."""
    state = tmp_path_factory.mktemp("state") / "state.json"
    monitor(log, state=state, **SETTINGS)  # type: ignore[arg-type]
    return state.read_text()


def _refused(log: pd.DataFrame, **options: object) -> None:
    with pytest.raises(MisflagError) as caught:
        monitor(log, **{**SETTINGS, **options})  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message and SECRET not in message
    assert not Path(TARGET).exists()


@pytest.mark.parametrize(("kind", "text"), ENTRIES, ids=[f"{k}:{t[:40]}" for k, t in ENTRIES])
def test_hostile_time_expression_is_refused(log: pd.DataFrame, kind: str, text: str) -> None:
    _refused(log, time=text)


@pytest.mark.parametrize(("kind", "text"), ENTRIES[::3], ids=[f"{k}:{t[:40]}" for k, t in ENTRIES[::3]])
def test_hostile_pool_group_and_stage_expressions_are_refused(
    log: pd.DataFrame, kind: str, text: str
) -> None:
    stages = [("algorithm", "flag"), ("review", "review")]
    _refused(log, flag=None, stages=stages, reviewer_pool=text)
    _refused(log, group=text)
    _refused(log, flag=None, stages=[("algorithm", "flag"), ("review", text)])


@pytest.mark.parametrize(
    "watermark", ["2024-01-01'; DROP TABLE input; --", "2024-01-01 00:00:00' OR 1=1 --", "1e999", ""]
)
def test_hostile_state_file_is_refused(
    log: pd.DataFrame, state_data: str, tmp_path: Path, watermark: str
) -> None:
    state = tmp_path / "state.json"
    data = json.loads(state_data)
    data["watermark"] = watermark
    state.write_text(json.dumps(data))
    _refused(log, state=state)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n", "5"),
        ("n", True),
        ("n", -1),
        ("n", 2.5),
        ("t", 0.5),
        ("t", "1"),
        ("s0", [1]),
        ("w", 0),
        ("w", None),
        ("g", {"x": 1}),
        ("pool", 7),
        ("period", "2024-01-05T00:00:00+05:00"),
        ("period", "0001-01-01T00:00:00"),
        ("period", 20240101),
        ("watermark", "2024-01-20T00:00:00+05:00"),
        ("watermark", "2023-12-31T00:00:00"),
        ("watermark", None),
        ("columns", ["period", "g", "pool", "s0", "t", "w"]),
        ("cells", []),
        ("cells", [["2024-01-01T00:00:00", "A"]]),
        ("extra", 1),
    ],
)
def test_hand_edited_state_fields_are_refused_with_one_line(
    log: pd.DataFrame, state_data: str, tmp_path: Path, field: str, value: object
) -> None:
    """Every field of a state file is checked before use: no TypeError from a string count or an offset."""
    state = tmp_path / "state.json"
    data = json.loads(state_data)
    if field in data["columns"]:
        data["cells"][0][data["columns"].index(field)] = value
    else:
        data[field] = value
    state.write_text(json.dumps(data))
    with pytest.raises(MisflagError, match=r"state file .* is damaged") as caught:
        monitor(log, state=state, **SETTINGS)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 300


def test_monitor_runs_print_no_library_warnings(log: pd.DataFrame, tmp_path: Path) -> None:
    """Edge shapes that once reached pandas' deprecation paths (empty and all-NULL parts of a state merge,
    pending truth everywhere, a log that shrinks under the state) run with warnings turned into errors."""
    pending = log.assign(truth=None)
    state = tmp_path / "state.json"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for frame in (log[log["ts"] < "2024-01-02"], log, log, log[log["ts"] < "2024-01-05"], pending):
            monitor(frame, state=state, **SETTINGS)  # type: ignore[arg-type]
        monitor(pending, **SETTINGS)  # type: ignore[arg-type]
        monitor(log.assign(w=1e-300), weight="w", **SETTINGS)  # type: ignore[arg-type]


def test_state_file_that_is_not_json_is_refused(log: pd.DataFrame, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_bytes(b"\xff\xfe not json")
    _refused(log, state=state)


@pytest.mark.parametrize(
    "band", [(float("nan"), 1.25), (0.8, float("inf")), (-1.0, 2.0), (0.8, 0.9), (1e-320, 1e308)]
)
def test_non_finite_or_inverted_band_is_refused(log: pd.DataFrame, band: tuple[float, float]) -> None:
    _refused(log, band=band)


def test_reviewer_names_never_leave_the_monitor_and_labels_are_escaped(log: pd.DataFrame) -> None:
    hostile = log.assign(grp=log["grp"].map({"A": "A", "B": "<script>alert(1)</script>"}))
    result = monitor(
        hostile,
        **ROLES,
        baseline_periods=5,
    )
    text = json.dumps(result.to_bundle(), default=str)
    assert "qx-alice-7" not in text and "qx-bob-7" not in text
    html = render_report(result)
    assert "qx-alice-7" not in html and "qx-bob-7" not in html
    assert "<script>alert(1)</script>" not in html


@pytest.mark.parametrize("stamp", ["0001-01-01", "9999-12-31", "1677-01-01", "99999-01-01"])
def test_placeholder_dates_out_of_range_are_refused(log: pd.DataFrame, stamp: str) -> None:
    """A placeholder date would make millions of empty periods (or overflow): one line, not a crash."""
    hostile = log.copy()
    hostile.loc[0, "ts"] = stamp
    _refused(hostile)


@pytest.mark.parametrize(
    "options",
    [{"horizon": 10**20}, {"baseline_periods": 10**20}, {"late_periods": 10**20}, {"late_periods": -1}],
)
def test_absurd_horizons_are_refused(log: pd.DataFrame, options: dict[str, int]) -> None:
    _refused(log, **options)


def test_huge_weights_do_not_overflow_into_blank_rates(log: pd.DataFrame) -> None:
    """Rates and Kish's n do not depend on the weights' scale: 1e308 everywhere equals 1 everywhere."""
    rows = {}
    for scale in (1.0, 1e308):
        result = monitor(log.assign(w=scale), **SETTINGS, weight="w")  # type: ignore[arg-type]
        rows[scale] = [(r["value"], r["denominator"]) for r in result.extras["periods"].to_pylist()]
    assert rows[1.0] == rows[1e308]
    assert any(value is not None and value > 0 for value, _ in rows[1e308])


@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_a_late_window_beyond_the_calendar_rereads_everything(
    log: pd.DataFrame, tmp_path: Path, period: str
) -> None:
    """--late-periods 1,000,000 reaches before any supported date: the state run reads all rows, no crash."""
    state = tmp_path / "state.json"
    options = {**SETTINGS, "period": period, "late_periods": 10**6}
    monitor(log, state=state, **options)  # type: ignore[arg-type]
    again = monitor(log, state=state, **options)  # type: ignore[arg-type]
    assert again.metadata["rows_read"] == len(log)
    assert again.rows() == monitor(log, **options).rows()  # type: ignore[arg-type]
