"""`--evidence arrival`: daily state runs use each run's newly arrived labels as evidence of their own.

Checked against an independent bookkeeping of the same procedure (counts per day from the raw log with
pandas, pieces as day-to-day differences), and, by simulation, that the chance of any false alarm stays
at most alpha while re-using labels already counted (what daily full reruns amount to) does not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from misflag.errors import InputError
from misflag.monitor import monitor
from misflag.monitor._arrival import Evidence, arrival_detector, episodes
from misflag.monitor._detect import band_log_evalues, predicted_rate, sr_statistic

from .conftest import START
from .test_monitor_late_labels import _as_of, _log_with_delays

SETTINGS: dict[str, Any] = dict(time="ts", group="grp", reference="A", truth="truth", flag="flag", min_cell=5)
LATE, HORIZON, ALPHA_EACH = 3, 365, 0.05 / 4  # fpr: 2 groups x 2 sides share alpha


def _counts(snapshot: pd.DataFrame, day: int) -> dict[str, np.ndarray]:
    """Per group: (2, day + 1) false positives and truth-0 rows per day, by pandas from the raw rows."""
    days = (pd.to_datetime(snapshot["ts"]) - START).dt.days
    negative = snapshot["truth"] == 0
    out = {}
    for group in ("A", "B", "C"):
        mine = (snapshot["grp"] == group) & negative
        x = np.bincount(days[mine & (snapshot["flag"] == 1)], minlength=day + 1)
        n = np.bincount(days[mine], minlength=day + 1)
        out[group] = np.stack([x, n]).astype(float)
    return out


def _compacted_by_hand(looks: list[tuple[str, float, str]], floor: float) -> list[tuple[str, float, str]]:
    """Each stretch of consecutive looks below `floor` cut to its last look (looks at or above all kept)."""
    return [
        look
        for i, look in enumerate(looks)
        if look[1] >= floor or i + 1 == len(looks) or looks[i + 1][1] >= floor
    ]


def test_daily_arrival_runs_match_an_independent_bookkeeping(tmp_path: Path) -> None:
    log = _log_with_delays(40, LATE, seed=3)
    # the reference's labels of even days all arrive at once: later labels of B for those days must wait
    log = log.assign(
        arrives=log["arrives"].where((log["grp"] != "A") | (log["decided"] % 2 == 1), log["decided"])
    )
    state = tmp_path / "state.json"
    held = False
    between = 0  # looks after an older day's pieces, before the previous run's newest day
    used = np.zeros((4, 0))  # group B's and the reference A's counts used so far, per day
    summed = {side: np.zeros((5, 0)) for side in ("above", "below")}
    looks: dict[str, list[tuple[str, float, str]]] = {"above": [], "below": []}
    for day in range(15, 40):
        snapshot = _as_of(log, day)
        result = monitor(snapshot, state=state, late_periods=LATE, evidence="arrival", **SETTINGS)
        counts = _counts(snapshot, day)
        times = [(START + pd.Timedelta(days=d)).isoformat() for d in range(day + 1)]
        now = np.concatenate([counts["B"], counts["A"]])
        used = np.pad(used, ((0, 0), (0, day + 1 - used.shape[1])))
        delta = now - used
        ready = (delta[1] > 0) & (delta[3] > 0)  # new labels wait until both groups have some
        held = held or bool((~ready & (delta[1] > 0)).any())
        delta = np.where(ready, delta, 0.0)
        used = used + delta
        # alternatives from the reference's labels used so far: held labels stay unseen
        rate = predicted_rate(used[2], used[3])
        first = day - 1 if day > 15 else 0  # the previous run's newest day
        for side, c, upper in (("above", 1.25, True), ("below", 0.8, False)):
            grown = np.pad(summed[side], ((0, 0), (0, day + 1 - summed[side].shape[1])))
            summed[side] = grown + band_log_evalues(delta[0], delta[1], delta[2], delta[3], rate, c, upper)
            # looks after each older day's new pieces: later days still hold earlier runs' evidence
            between += int(ready[:first].sum())
            for t in np.flatnonzero(ready[:first]):
                mixed = np.concatenate([summed[side][:, : t + 1], grown[:, t + 1 : first + 1]], axis=1)
                path = sr_statistic(mixed, ALPHA_EACH, HORIZON)
                looks[side].append(
                    (times[t], float(path.log_statistic[-1]), times[int(path.change_start[-1])])
                )
            detection = sr_statistic(summed[side], ALPHA_EACH, HORIZON)
            for t in range(first, day + 1):
                looks[side].append(
                    (times[t], float(detection.log_statistic[t]), times[int(detection.change_start[t])])
                )
        saved = Evidence.from_json(json.loads(state.read_text())["evidence"])
        assert saved.used["fpr|B"] == pytest.approx(used, abs=1e-9), day
        for side in ("above", "below"):
            got = saved.path[f"fpr|B|{side}"]
            # the state stores each stretch of looks below log(1 / alpha) as its last look
            want = _compacted_by_hand(looks[side], -np.log(0.05))
            assert [(t, s) for t, _, s in got] == [(t, s) for t, _, s in want], day
            assert [v for _, v, _ in got] == pytest.approx([v for _, v, _ in want], rel=1e-9, abs=1e-12)
        expected = [look for look, _ in episodes(looks["above"], -np.log(ALPHA_EACH))]
        alarms = [a for a in result.metadata["alarms"] if a["group"] == "B" and a["side"] == "above"]
        assert [a["time"] for a in alarms] == [t for t, _, _ in expected]
        assert not any(a["provisional"] for a in result.metadata["alarms"])
    # group B's false positive rate triples from day 20: caught within the 40 days
    assert expected and pd.Timestamp(expected[0][0]) >= START + pd.Timedelta(days=20)
    assert held  # some of B's labels waited for the reference's
    assert between  # and some runs looked between older days' pieces


def test_a_first_arrival_run_equals_a_settled_full_run() -> None:
    """With no evidence yet every period is one piece, seen once: the classic monitor's alarms."""
    snapshot = _as_of(_log_with_delays(40, 0, seed=6), 39)
    arrival = monitor(snapshot, evidence="arrival", **SETTINGS).metadata["alarms"]
    settled = monitor(snapshot, **SETTINGS).metadata["alarms"]
    keys = ("group", "side", "time", "since", "statistic")
    assert [tuple(a[k] for k in keys) for a in arrival] == [tuple(a[k] for k in keys) for a in settled]
    assert arrival


def test_arrival_state_refuses_changed_watch_settings_and_damaged_evidence(tmp_path: Path) -> None:
    snapshot = _as_of(_log_with_delays(12, 0, seed=5), 11)
    state = tmp_path / "state.json"
    monitor(snapshot, state=state, evidence="arrival", **SETTINGS)
    with pytest.raises(InputError, match="other"):
        monitor(snapshot, state=state, evidence="arrival", band=(0.5, 2.0), **SETTINGS)
    data = json.loads(state.read_text())
    data["evidence"]["path"]["fpr|B|above"][0][1] = "high"
    state.write_text(json.dumps(data))
    with pytest.raises(InputError, match="damaged: evidence path fpr\\|B\\|above"):
        monitor(snapshot, state=state, evidence="arrival", **SETTINGS)
    del data["evidence"]  # starting the evidence afresh would look at every period again
    state.write_text(json.dumps(data))
    with pytest.raises(InputError, match="arrival evidence is missing"):
        monitor(snapshot, state=state, evidence="arrival", **SETTINGS)
    with pytest.raises(InputError, match="evidence"):
        monitor(snapshot, evidence="later", **SETTINGS)


def _simulate(horizons: int, periods: int, alpha: float, reuse: bool, seed: int, drift: bool = False) -> int:
    """Horizons with any false alarm of daily arrival runs at the band's high edge (group rate 1.25 x the
    reference's 10%, 60 negatives each per period, label delays geometric with mean 1.5, capped at 6).
    With `reuse`, every run treats all labels counted so far as new (labels used again and again). With
    `drift`, the adversary's design: the reference's rate jumps between 4% and 40% from period to period
    (the group's stays 1.25 x it, on the edge), so every alternative is predicted from the wrong rate,
    and the group has 20 negatives per period against the reference's 100."""
    rng = np.random.default_rng(seed)
    shares = 0.4 * 0.6 ** np.arange(6)
    shares = np.append(shares, 1 - shares.sum())
    reference = np.where(np.arange(periods) % 2 == 1, 0.4, 0.04) if drift else np.full(periods, 0.1)
    sizes = (20, 100) if drift else (60, 60)
    alarms = 0
    for _ in range(horizons):
        arrived = []
        for rate, size in zip((1.25 * reference, reference), sizes, strict=True):
            x = rng.multinomial(rng.binomial(size, rate), shares)
            rest = rng.multinomial(size - x.sum(axis=1), shares)
            arrived.append(np.stack([np.cumsum(x, axis=1), np.cumsum(x + rest, axis=1)]))
        previous: Evidence | None = None
        times = [str(t) for t in range(periods)]
        for run in range(periods):
            lag = np.minimum(run - np.arange(run + 1), 6)
            xa, na = (arrived[0][k, np.arange(run + 1), lag].astype(float) for k in (0, 1))
            xb, nb = (arrived[1][k, np.arange(run + 1), lag].astype(float) for k in (0, 1))
            now = times[: run + 1]
            pieces = arrival_detector(
                previous, "fpr", ("B", "A"), (xa, na, xb, nb), now, (1.25, True), alpha, periods
            )
            used = {"fpr|B": np.zeros_like(pieces.used) if reuse else pieces.used}
            previous = Evidence(now, used, {"fpr|B|above": pieces.log_e}, {"fpr|B|above": pieces.looks})
        alarms += any(look[1] >= -np.log(alpha) for look in previous.path["fpr|B|above"])
    return alarms


def test_arrival_runs_keep_alpha_where_reusing_labels_does_not() -> None:
    horizons, alpha = 100, 0.2
    bound = binom.ppf(0.999, horizons, alpha)
    assert _simulate(horizons, 20, alpha, reuse=False, seed=1) <= bound
    assert _simulate(horizons, 20, alpha, reuse=True, seed=1) > bound


def test_arrival_runs_keep_alpha_when_the_reference_rate_jumps_and_groups_are_unbalanced() -> None:
    """Every look, between older periods' pieces too, counts as an alarm if it crosses; the same design
    with labels used again and again does exceed alpha, so the design can catch a broken guarantee."""
    horizons, alpha = 100, 0.2
    bound = binom.ppf(0.999, horizons, alpha)
    assert _simulate(horizons, 20, alpha, reuse=False, seed=2, drift=True) <= bound
    assert _simulate(horizons, 20, alpha, reuse=True, seed=2, drift=True) > bound
