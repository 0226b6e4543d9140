"""A log with a known change on a known day: no alarm before it, an alarm within the delay docs/monitor.md
predicts: about log(H K / alpha_each) / D periods, D the expected log e-value per period of the nearest
alternative (computed here from its definition, with p* from brentq)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from misflag.monitor import monitor
from tests.monitor._logs import ROLES

from .conftest import PREVALENCE, START, make_log

CHANGE_DAY = 100
PER_GROUP = 300
BASE_FPR = 0.05
HORIZON, ALTERNATIVES, ALPHA_EACH = 365, (1.1, 1.25, 1.5, 2.0, 3.0), 0.05 / 4


def expected_log_evalue(na: float, nb: float, pa: float, pb: float, c: float, step: float) -> float:
    """E[log e] per period when the truth is (pa, pb) and the detector bets on ratio c * step."""
    ta, tb = c * step * pb, pb

    def slope(p: float) -> float:
        return na * (ta / p - c * (1 - ta) / (1 - c * p)) + nb * (tb / p - (1 - tb) / (1 - p))

    p = optimize.brentq(slope, 1e-12, min(1, 1 / c) - 1e-12)
    return (
        na * pa * math.log(ta / (c * p))
        + na * (1 - pa) * math.log((1 - ta) / (1 - c * p))
        + nb * pb * math.log(tb / p)
        + nb * (1 - pb) * math.log((1 - tb) / (1 - p))
    )


def predicted_delay(ratio: float) -> float:
    negatives = PER_GROUP * (1 - PREVALENCE)
    drift = max(
        expected_log_evalue(negatives, negatives, BASE_FPR * ratio, BASE_FPR, 1.25, step)
        for step in ALTERNATIVES
    )
    return math.log(HORIZON * len(ALTERNATIVES) / ALPHA_EACH) / drift


@pytest.mark.parametrize("ratio", [2.0, 3.0])
def test_no_alarm_before_the_change_and_an_alarm_within_the_predicted_delay(ratio: float) -> None:
    def fpr(group: str, day: int) -> float:
        return BASE_FPR * (ratio if group == "B" and day >= CHANGE_DAY else 1.0)

    log = make_log(CHANGE_DAY + 40, PER_GROUP, fpr, seed=3)
    result = monitor(log, time="ts", group="grp", reference="A", truth="truth", flag="flag", metrics=["fpr"])
    alarms = result.metadata["alarms"]
    assert alarms, result.summary
    change = START + pd.Timedelta(days=CHANGE_DAY)
    assert all(pd.Timestamp(a["time"]) >= change for a in alarms)
    first = alarms[0]
    assert (first["group"], first["metric"], first["side"], first["bound"]) == ("B", "fpr", "above", 1.25)
    delay = (pd.Timestamp(first["time"]) - change).days
    # the docs' rule of thumb, plus the period in which the change lands and one for the 7-day prediction lag
    assert delay <= math.ceil(predicted_delay(ratio)) + 2, (delay, predicted_delay(ratio))
    assert not first["provisional"]  # raised well before the last day of the log
    assert result.metadata["open_alarms"] == 1


def test_estimated_change_start_is_near_the_true_day() -> None:
    log = make_log(
        CHANGE_DAY + 30, PER_GROUP, lambda g, d: BASE_FPR * (3 if g == "C" and d >= CHANGE_DAY else 1)
    )
    result = monitor(log, time="ts", group="grp", reference="A", truth="truth", flag="flag", metrics=["fpr"])
    since = pd.Timestamp(result.metadata["alarms"][0]["since"])
    assert abs((since - (START + pd.Timedelta(days=CHANGE_DAY))).days) <= 5
    assert result.metadata["alarms"][0]["value"] == pytest.approx(3, rel=0.35)


def test_a_fall_in_dismissals_is_detected_after_the_baseline() -> None:
    def dismissal(group: str, day: int) -> float:
        return 0.4 if day < 70 else 0.1  # every group: review turns into rubber-stamping on day 70

    log = make_log(100, 150, lambda g, d: BASE_FPR, dismissal=dismissal, seed=9)
    result = monitor(
        log,
        **ROLES,
        metrics=["dismissal_rate"],
    )
    alarms = result.metadata["alarms"]
    fell = {(a["attribute"], a["group"]) for a in alarms}
    assert fell == {
        ("group", "A"),
        ("group", "B"),
        ("group", "C"),
        ("reviewer_pool", "pool 1"),
        ("reviewer_pool", "pool 2"),
    }
    assert all(pd.Timestamp(a["time"]) >= START + pd.Timedelta(days=70) for a in alarms)
    assert all(a["bound"] < 0.4 * 0.8 for a in alarms)
    assert np.mean([pd.Timestamp(a["time"]).day_of_year for a in alarms]) < 70 + 15


def test_an_alarm_raised_in_the_latest_period_is_provisional() -> None:
    """The last day may still be filling up: an alarm first raised on it is marked provisional."""
    log = make_log(30, 2000, lambda g, d: BASE_FPR * (6 if g == "B" and d == 29 else 1), seed=12)
    result = monitor(log, time="ts", group="grp", reference="A", truth="truth", flag="flag", metrics=["fpr"])
    (alarm,) = result.metadata["alarms"]
    assert alarm["time"][:10] == "2024-01-30" and alarm["provisional"] and alarm["open"]
