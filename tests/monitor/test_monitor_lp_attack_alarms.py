"""The reader with a solver on what `misflag monitor`'s alarms publish (issue 21): pooled value, bound, statistic.

A hand-built log of 24 days, groups A (reference), B and C of 40 decisions a day, reviewer pools p1 and
p2. From day 13 B's false positive rate rises and review stops clearing C's flags; three group-days are
thin (4 decisions, 3 flagged, so withheld at --min-cell 10): B on day 17, C on day 14 (inside both
alarms' spans) and C on day 4 (inside C's 10-day dismissal baseline).

An alarm's figures are worked out from counts. Before this test they used every period, withheld ones
included: the value pooled B's withheld day into B's rate, the bound of a fall alarm was the floor that
`metadata["floors"]` leaves out, and the statistic is the detector's mixture over every period up to the
alarm. The reader tries every count of a withheld day against each figure (the detector's formula is
public: docs/monitor.md, reimplemented here in plain numpy) and keeps the counts that reproduce it. The
control is what the monitor published before: the same run at --min-cell 1, whose alarms are the same
(detection does not depend on --min-cell) and whose figures the old code published at --min-cell 10;
it gives each withheld count back exactly. After the fix an alarm's value is pooled over the span's
published periods only (so it is a function of published rows), and its bound and statistic are null
where they rest on a withheld period.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typer
from scipy.stats import beta
from typer.testing import CliRunner

from misflag.commands.monitor import monitor as monitor_command
from misflag.monitor import monitor
from tests.monitor._logs import ROLES

app = typer.Typer()
app.command("monitor")(monitor_command)

MIN_CELL = 10
BASELINE = 10
DAYS = [f"2024-01-{d:02d}" for d in range(1, 25)]
#: (group, day index) of the thin group-days
THIN = {("B", 16), ("C", 13), ("C", 3)}
#: The detector's alternatives (docs/monitor.md, "Method"): floor / step for a fall
STEPS = (1.1, 1.25, 1.5, 2.0, 3.0)
#: Every count of a withheld day up to this many is tried (each thin day holds 4 decisions)
TRIED = 120
#: The counts of C's day-14 reviewed flags under which the detector first crosses on the published day:
#: every count tried, 0 included
MEASURED = (0, TRIED)


def _log(thin: set[tuple[str, int]] = THIN) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    frames = []
    for k, day in enumerate(DAYS):
        for group in "ABC":
            size = 4 if (group, k) in thin else 40
            truth = rng.random(size) < 0.3
            flag = np.where(
                truth, rng.random(size) < 0.8, rng.random(size) < (0.6 if group == "B" and k >= 12 else 0.15)
            )
            if size == 4:
                flag[:3] = True
            review = np.where(flag, rng.random(size) >= (0.05 if group == "C" and k >= 12 else 0.5), False)
            frames.append(
                pd.DataFrame(
                    {
                        "ts": [f"{day}T{h % 24:02d}:00:00" for h in range(size)],
                        "grp": group,
                        "flag": flag.astype(int),
                        "review": review.astype(int),
                        "truth": truth.astype(int),
                        "pool": np.where(np.arange(size) % 2 == 0, "p1", "p2"),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def _run(log: pd.DataFrame, min_cell: int) -> Any:
    return monitor(
        log,
        **ROLES,
        baseline_periods=BASELINE,
        min_cell=min_cell,
    )


def _true(log: pd.DataFrame, group: str, k: int, metric: str) -> tuple[int, int]:
    """(numerator, denominator) of a metric of one group-day, counted from the log with pandas."""
    part = log[(log["grp"] == group) & log["ts"].str.startswith(DAYS[k])]
    if metric == "fpr":
        negatives = part[part["truth"] == 0]
        return int(negatives["review"].sum()), len(negatives)
    flagged = part[part["flag"] == 1]
    return int((flagged["review"] == 0).sum()), len(flagged)


def _published(result: Any, group: str, metric: str) -> dict[int, tuple[int, int]]:
    """Day index -> (numerator, denominator) of every published per-period row (value x denominator)."""
    out = {}
    for row in result.extras["periods"].to_pylist():
        mine = row["attribute"] == "group" and row["group"] == group and row["metric"] == metric
        if mine and not row["suppressed"] and row["denominator"]:
            out[DAYS.index(row["time"][:10])] = (
                round(row["value"] * row["denominator"]),
                int(row["denominator"]),
            )
    return out


def _alarm(result: Any, group: str, first: bool = True) -> dict[str, Any]:
    alarms = [a for a in result.metadata["alarms"] if a["group"] == group]
    return alarms[0] if first else alarms[-1]


def _span(alarm: dict[str, Any]) -> range:
    return range(DAYS.index(alarm["since"][:10]), DAYS.index(alarm["time"][:10]) + 1)


def _grid() -> tuple[np.ndarray, np.ndarray]:
    """Every (numerator, denominator) with numerator <= denominator <= TRIED."""
    n = np.repeat(np.arange(TRIED + 1), TRIED + 1)
    x = np.tile(np.arange(TRIED + 1), TRIED + 1)
    return x[x <= n], n[x <= n]


def _fall_statistic(x: np.ndarray, n: np.ndarray, floor: float, horizon: int) -> np.ndarray:
    """The fall detector's statistic per period (docs/monitor.md): the mean over the alternatives of
    sum over starts s <= t of (1/H) prod_{j=s..t} e_j, plus the unstarted weight (H - t - 1) / H, with
    e_j = Binomial(x_j; n_j, floor / step) / Binomial(x_j; n_j, floor) and e = 1 in the baseline."""
    out = np.zeros(x.shape)
    for step in STEPS:
        theta = floor / step
        with np.errstate(divide="ignore", invalid="ignore"):
            log_e = np.where(x > 0, x * np.log(theta / floor), 0.0)
            log_e += np.where(n > x, (n - x) * np.log((1 - theta) / (1 - floor)), 0.0)
        log_e[..., :BASELINE] = 0.0
        mixed = np.zeros(x.shape[:-1])
        for t in range(x.shape[-1]):
            mixed = (mixed + 1 / horizon) * np.exp(log_e[..., t])
            out[..., t] += mixed / len(STEPS)
    return out + np.maximum(horizon - np.arange(x.shape[-1]) - 1, 0) / horizon


def _fall_paths(shown: dict[int, tuple[int, int]], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every candidate (x, n) of day k in place among the published days' counts: arrays (candidates, days)."""
    cx, cn = _grid()
    x = np.zeros((len(cx), len(DAYS)))
    n = np.zeros((len(cx), len(DAYS)))
    for day, (xs, ns) in shown.items():
        x[:, day], n[:, day] = xs, ns
    x[:, k], n[:, k] = cx, cn
    return x, n, cn


def _value_candidates(published: Any, value: float, alarm: dict[str, Any]) -> set[int]:
    """Denominators of B's withheld day 17 that give an alarm value pooled over every day of the span."""
    b, a = _published(published, "B", "fpr"), _published(published, "A", "fpr")
    span = _span(alarm)
    xb, nb = (sum(b[k][i] for k in span if k != 16) for i in (0, 1))
    xa, na = (sum(a[k][i] for k in span) for i in (0, 1))
    cx, cn = _grid()
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = ((xb + cx) / (nb + cn)) / (xa / na)
    return set(cn[np.isclose(pooled, value, rtol=1e-12, atol=0)].tolist())


def _floor_candidates(published: Any, floor: float) -> set[int]:
    """Dismissal denominators of C's withheld day 4 that give the floor (band low x Clopper-Pearson)."""
    shown = _published(published, "C", "dismissal_rate")
    x0, n0 = (sum(shown[k][i] for k in range(BASELINE) if k != 3) for i in (0, 1))
    cx, cn = _grid()
    x, n = x0 + cx, n0 + cn
    alpha = published.metadata["alpha_each"] / 2
    low = published.metadata["spec"]["band"][0]
    bound = np.where(x > 0, beta.ppf(alpha, np.maximum(x, 1), n - x + 1), 0.0)
    return set(cn[np.isclose(low * bound, floor, rtol=1e-12, atol=0)].tolist())


def test_alarm_figures_as_published_before_give_withheld_counts_back() -> None:
    """The control: the old alarm figures (the --min-cell 1 run) pin every thin day of the spans."""
    log = _log()
    published, old = _run(log, MIN_CELL), _run(log, 1)
    assert [(a["group"], a["time"], a["since"]) for a in published.metadata["alarms"]] == [
        (a["group"], a["time"], a["since"]) for a in old.metadata["alarms"]
    ]
    # the old value: B's false positive rate over A's, each pooled over every day of the span (pandas)
    alarm = _alarm(old, "B")
    span = [DAYS[k] for k in _span(alarm)]
    negatives = log[log["ts"].str[:10].isin(span) & (log["truth"] == 0)]
    rates = negatives.groupby("grp")["review"].mean()
    assert math.isclose(alarm["value"], rates["B"] / rates["A"], rel_tol=1e-12)
    # of the 121 denominators tried, two fit: the true 4 and 102 (a reader need not know more)
    candidates = _value_candidates(published, alarm["value"], alarm)
    assert _true(log, "B", 16, "fpr")[1] in candidates and len(candidates) == 2
    # the old bound: C's floor, whose baseline holds C's withheld day 4
    floor = _alarm(old, "C")["bound"]
    assert _floor_candidates(published, floor) == {_true(log, "C", 3, "dismissal_rate")[1]}
    # the old statistic: the detector's path over C's days, its withheld day 14 included
    alarm = _alarm(old, "C")
    shown = _published(published, "C", "dismissal_rate")
    x, n, cn = _fall_paths(shown, 13)
    end = _span(alarm)[-1]
    statistic = _fall_statistic(x, n, floor, published.metadata["spec"]["horizon"])[:, end]
    truth = _true(log, "C", 13, "dismissal_rate")
    at_truth = statistic[(x[:, 13] == truth[0]) & (n[:, 13] == truth[1])]
    assert math.isclose(float(at_truth[0]), alarm["statistic"], rel_tol=1e-9)  # the formula is the monitor's
    assert set(cn[np.isclose(statistic, alarm["statistic"], rtol=1e-9, atol=0)].tolist()) == {truth[1]}


def _pooled_over_shown(result: Any, group: str, metric: str, alarm: dict[str, Any]) -> float:
    """An alarm's value from published rows alone: pooled over the span's days that the output shows."""
    own = _published(result, group, metric)
    if metric != "fpr":
        days = [k for k in _span(alarm) if k in own]
        return sum(own[k][0] for k in days) / sum(own[k][1] for k in days)
    reference = _published(result, "A", metric)
    days = [k for k in _span(alarm) if k in own and k in reference]
    xb, nb = (sum(own[k][i] for k in days) for i in (0, 1))
    xa, na = (sum(reference[k][i] for k in days) for i in (0, 1))
    return (xb / nb) / (xa / na)


def test_the_monitor_alarm_figures_give_nothing_back() -> None:
    log = _log()
    result = _run(log, MIN_CELL)
    alarms = result.metadata["alarms"]
    assert {a["group"] for a in alarms} == {"B", "C"}
    for alarm in alarms:  # every value is a function of published rows alone
        metric = alarm["metric"]
        assert math.isclose(
            alarm["value"], _pooled_over_shown(result, alarm["group"], metric, alarm), rel_tol=1e-12
        )
        # every path up to the alarm crosses a withheld day, so no statistic is published
        assert math.isnan(alarm["statistic"])
    floor = _alarm(result, "C")
    assert math.isnan(floor["bound"]) and ("group", "C") not in {
        (f["attribute"], f["group"]) for f in result.metadata["floors"]
    }
    assert "dismissal_rate of C below withheld floor" in result.summary
    # the same reader, with the value now published: no denominator of B's day 17 reproduces it
    assert _value_candidates(result, _alarm(result, "B")["value"], _alarm(result, "B")) == set()


def test_the_alarm_period_alone_leaves_a_wide_interval() -> None:
    """What an alarm still says: the period its statistic first crossed the threshold. A reader who is
    also given C's floor (withheld) keeps every count of C's day 14 under which the detector first
    crosses on the published day: the interval is measured here and stated in docs/monitor.md."""
    log = _log()
    result, old = _run(log, MIN_CELL), _run(log, 1)
    alarm = _alarm(result, "C")
    x, n, cn = _fall_paths(_published(result, "C", "dismissal_rate"), 13)
    threshold = alarm["threshold"]
    statistic = _fall_statistic(x, n, _alarm(old, "C")["bound"], result.metadata["spec"]["horizon"])
    crossed = statistic >= threshold
    first = np.where(crossed.any(axis=1), crossed.argmax(axis=1), -1)
    kept = cn[first == _span(alarm)[-1]]
    truth = _true(log, "C", 13, "dismissal_rate")[1]
    assert truth in kept.tolist()
    assert (int(kept.min()), int(kept.max())) == MEASURED


def test_the_terminal_and_the_report_say_the_floor_is_withheld(tmp_path: Path) -> None:
    """The CLI's alarm lines and the HTML report print the withheld floor as withheld, not as 'nan'."""
    path = tmp_path / "log.csv"
    _log().to_csv(path, index=False)
    report = tmp_path / "report.html"
    args = [
        "--time",
        "ts",
        "--group",
        "grp",
        "--reference",
        "A",
        "--truth",
        "truth",
        "--stage",
        "algorithm=flag",
    ]
    args += ["--stage", "review=review", "--reviewer-pool", "pool", "--baseline-periods", str(BASELINE)]
    result = CliRunner().invoke(app, [str(path), *args, "--report", str(report)])
    assert result.exit_code == 3, result.output  # an open alarm
    assert "C dismissal_rate below withheld floor: 0.0462 since 2024-01-13" in result.output
    assert "nan" not in result.output.lower()
    page = report.read_text(encoding="utf-8")
    assert "dismissal_rate of C (group) went below withheld floor: alarm on 2024-01-18" in page


def test_arrival_evidence_alarms_follow_the_same_rule(tmp_path: Path) -> None:
    """--evidence arrival builds its group alarms on another path (misflag.monitor._arrival): the same
    rule holds there: values from published rows, statistics null where the path crosses B's thin day."""
    result = monitor(
        _log(),
        **ROLES,
        baseline_periods=BASELINE,
        min_cell=MIN_CELL,
        evidence="arrival",
        state=tmp_path / "state.json",
    )
    fpr = [a for a in result.metadata["alarms"] if a["metric"] == "fpr"]
    assert fpr and all(a["group"] == "B" for a in fpr)
    for alarm in fpr:
        assert math.isclose(alarm["value"], _pooled_over_shown(result, "B", "fpr", alarm), rel_tol=1e-12)
        assert math.isnan(alarm["statistic"])  # both alarms come on or after B's thin day 17


def test_a_statistic_whose_path_crosses_no_withheld_period_is_published() -> None:
    """The rule withholds only what rests on a withheld period: without B's thin day, B's alarms keep
    their statistic (the same as with nothing withheld), while C's, on its thin days, stay null."""
    log = _log({("C", 13), ("C", 3)})
    result, old = _run(log, MIN_CELL), _run(log, 1)
    b_alarms = [
        (a["statistic"], o["statistic"])
        for a, o in zip(result.metadata["alarms"], old.metadata["alarms"], strict=True)
        if a["group"] == "B"
    ]
    assert b_alarms and all(math.isclose(new, before, rel_tol=1e-12) for new, before in b_alarms)
    assert math.isnan(_alarm(result, "C")["statistic"]) and not math.isnan(_alarm(old, "C")["statistic"])
