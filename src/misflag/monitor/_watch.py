"""From per-period counts to alarms: which comparisons are watched, their alpha, their e-detectors.

Family-wise error: alpha is split equally (Bonferroni) over every watched comparison: each non-reference
group x disparity metric x side of the band, and each group or reviewer pool x fall metric. A fall test
spends half its share on the lower confidence bound of its baseline rate and half on its detector.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import numpy as np

from misflag.monitor._arrival import Evidence, arrival_detector, compacted, episodes
from misflag.monitor._detect import (
    band_log_evalues,
    clopper_pearson_lower,
    floor_log_evalues,
    predicted_rate,
    sr_statistics,
)
from misflag.monitor._spec import DISPARITY_METRICS, MonitorSpec


@dataclass(frozen=True)
class Series:
    """One metric for every label of an attribute over every period: arrays (labels, periods)."""

    labels: list[str]
    x: np.ndarray  # effective numerator
    n: np.ndarray  # effective denominator
    rows: np.ndarray  # unweighted denominator rows
    rate: np.ndarray


@dataclass
class Alarm:
    """One alarm episode: the first period the detector's statistic reached 1 / alpha."""

    attribute: str
    group: str
    metric: str
    side: str
    time: datetime
    since: datetime
    value: float
    bound: float
    statistic: float
    threshold: float
    open: bool
    provisional: bool  # first raised in a period whose counts may still change (latest, or labels due)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "group": self.group,
            "metric": self.metric,
            "side": self.side,
            "time": self.time.isoformat(),
            "since": self.since.isoformat(),
            "value": self.value,
            "bound": self.bound,
            "statistic": self.statistic,
            "threshold": self.threshold,
            "open": self.open,
            "provisional": self.provisional,
        }


@dataclass
class Watch:
    """Every detector's outcome, and what the guarantee rests on."""

    alarms: list[Alarm] = field(default_factory=list)
    tests: int = 0
    alpha_each: float = 0.0
    warnings: list[str] = field(default_factory=list)
    floors: dict[tuple[str, str], float] = field(default_factory=dict)
    unsettled: int = 1  # latest periods whose counts may still change (filling up, or labels still due)
    previous: Evidence | None = None  # --evidence arrival: what earlier runs used (None: a first run)
    evidence: Evidence = field(default_factory=Evidence)  # --evidence arrival: what the next run needs
    #: attribute -> (labels, periods): which label-periods the output withholds. An alarm's figures are
    #: computed from counts, withheld ones included, so they leave those periods out (`_episodes`).
    withheld: dict[str, np.ndarray] = field(default_factory=dict)

    def hidden(self, attribute: str, label: int, periods: int) -> np.ndarray:
        """The withheld periods of one label (none where the attribute has no mask)."""
        mask = self.withheld.get(attribute)
        return np.zeros(periods, dtype=bool) if mask is None else np.asarray(mask[label], dtype=bool)


def series(sums: dict[str, np.ndarray], labels: list[str]) -> Series:
    """A metric's label x period sums (missing = 0 rows) as a Series: the weighted rate, and Kish's
    effective n with the matching numerator."""
    xw, nw, w2 = sums["xw"], sums["nw"], sums["w2"]
    with np.errstate(invalid="ignore", divide="ignore"):
        n_eff = np.where(w2 > 0, nw**2 / np.where(w2 > 0, w2, 1.0), 0.0)
        rate = np.where(nw > 0, xw / np.where(nw > 0, nw, 1.0), np.nan)
    return Series(labels, np.nan_to_num(rate * n_eff), n_eff, sums["rows"], rate)


def coverage_warnings(
    period: np.ndarray,
    rows: np.ndarray,
    reference: np.ndarray,
    periods: list[datetime],
    starts: np.ndarray,
    spec: MonitorSpec,
) -> list[str]:
    """Periods without rows or without the reference, and periods beyond the horizon (`period`, `rows`:
    each cell's period and row count; `reference`: whether it is the reference group's; `starts`: the
    periods as datetime64[ns], as `period` holds them)."""
    notes = []
    seen = np.isin(starts, period[rows > 0])
    empty = [p for p, here in zip(periods, seen, strict=True) if not here]
    if empty:
        notes.append(
            f"{len(empty)} {spec.period}(s) have no rows (first {empty[0].date()}); they add no evidence"
        )
    ref_seen = np.isin(starts, period[reference & (rows > 0)])
    absent = [p for p, here, ref in zip(periods, seen, ref_seen, strict=True) if here and not ref]
    if absent:
        notes.append(
            f"the reference group {spec.reference} is absent in {len(absent)} {spec.period}(s) "
            f"(first {absent[0].date()}); no comparison is made there"
        )
    if len(periods) > spec.horizon:
        notes.append(
            f"{len(periods)} periods exceed the horizon of {spec.horizon}: changes starting after it are not "
            "covered; start a new horizon (a new state file) to keep watching"
        )
    return notes


def count_tests(spec: MonitorSpec, groups: int, pools: int) -> int:
    """How many comparisons share alpha."""
    tests = 0
    for metric in spec.chosen_metrics:
        tests += 2 * (groups - 1) if metric in DISPARITY_METRICS else groups + pools
    return max(tests, 1)


def watch_disparity(
    spec: MonitorSpec, metric: str, data: Series, reference: int, periods: list[datetime], watch: Watch
) -> None:
    """Two one-sided detectors per non-reference group: ratio above the band's high edge, below its low edge."""
    if spec.evidence == "arrival":
        _watch_arrival(spec, metric, data, reference, periods, watch)
        return
    low, high = spec.band
    ref_rate = predicted_rate(data.x[reference], data.n[reference])
    sides = [
        (g, c, upper)
        for g in range(len(data.labels))
        if g != reference
        for c, upper in ((high, True), (low, False))
    ]
    # every group against one edge in one call (elementwise over the leading axis, so each group's path
    # equals its own call bit for bit): two calls instead of two per group
    others = [g for g in range(len(data.labels)) if g != reference]
    edges = {
        upper: band_log_evalues(
            data.x[others], data.n[others], data.x[reference], data.n[reference], ref_rate, c, upper
        )
        for c, upper in ((high, True), (low, False))
    }
    paths = [edges[upper][:, others.index(g)] for g, _, upper in sides]
    for (g, c, upper), detection in zip(
        sides, sr_statistics(paths, watch.alpha_each, spec.horizon), strict=True
    ):
        exposed = _compared_hidden(watch, g, reference, len(periods))
        _episodes(
            detection,
            "group",
            data.labels[g],
            metric,
            "above" if upper else "below",
            (c, True),
            periods,
            (partial(_pooled_ratio, data, g, reference, ~exposed), exposed),
            watch,
        )


def _compared_hidden(watch: Watch, g: int, reference: int, periods: int) -> np.ndarray:
    """Periods where a group's comparison with the reference is withheld: either side is."""
    return watch.hidden("group", g, periods) | watch.hidden("group", reference, periods)


def _pooled_ratio(data: Series, g: int, reference: int, keep: np.ndarray, start: int, end: int) -> float:
    """The group's rate over the reference's, each pooled over the published periods of start..end."""
    span = slice(start, end + 1)
    kept = keep[span]
    xa, na = data.x[g, span][kept].sum(), data.n[g, span][kept].sum()
    xb, nb = data.x[reference, span][kept].sum(), data.n[reference, span][kept].sum()
    return float((xa / na) / (xb / nb)) if na > 0 and nb > 0 and xb > 0 else float("nan")


def _watch_arrival(
    spec: MonitorSpec, metric: str, data: Series, reference: int, periods: list[datetime], watch: Watch
) -> None:
    """`watch_disparity` with evidence in the order labels arrive (misflag.monitor._arrival): every alarm
    is a crossing of the single path the runs looked at, so none is provisional."""
    times = [p.isoformat() for p in periods]
    out = watch.evidence
    out.periods = times
    threshold = -np.log(watch.alpha_each)
    for g, label in enumerate(data.labels):
        if g == reference:
            continue
        for c, upper in ((spec.band[1], True), (spec.band[0], False)):
            side = "above" if upper else "below"
            counts = (data.x[g], data.n[g], data.x[reference], data.n[reference])
            pieces = arrival_detector(
                watch.previous,
                metric,
                (label, data.labels[reference]),
                counts,
                times,
                (c, upper),
                watch.alpha_each,
                spec.horizon,
            )
            out.used[f"{metric}|{label}"] = pieces.used  # the same for both sides: it rests on counts only
            out.log_e[f"{metric}|{label}|{side}"] = pieces.log_e
            out.path[f"{metric}|{label}|{side}"] = compacted(pieces.looks, -float(np.log(spec.alpha)))
            if pieces.broken and upper:
                watch.warnings.append(
                    f"{metric} of {label} or the reference: counts of {len(pieces.broken)} period(s) fell or "
                    f"changed without new rows since the last run (first {pieces.broken[0]}); arrival evidence "
                    "cannot take evidence back, so those changes are not used"
                )
            exposed = _compared_hidden(watch, g, reference, len(times))
            for (time, statistic, since), still in episodes(pieces.looks, threshold):
                start = times.index(since) if since in times else 0
                end = times.index(time) if time in times else len(times) - 1
                watch.alarms.append(
                    Alarm(
                        attribute="group",
                        group=label,
                        metric=metric,
                        side=side,
                        time=datetime.fromisoformat(time),
                        since=datetime.fromisoformat(since),
                        value=_pooled_ratio(data, g, reference, ~exposed, start, end),
                        bound=float(c),
                        # the path so far rests on every period up to the alarm, withheld ones included
                        statistic=float("nan")
                        if exposed[: end + 1].any()
                        else float(np.exp(min(statistic, 700.0))),
                        threshold=1 / watch.alpha_each,
                        open=still,
                        provisional=False,
                    )
                )


def watch_fall(
    spec: MonitorSpec, metric: str, data: Series, attribute: str, periods: list[datetime], watch: Watch
) -> None:
    """Per label: a fall below band-low x (lower confidence bound of its baseline rate)."""
    base = min(spec.baseline_periods, len(periods))
    watched, paths = [], []
    for g, label in enumerate(data.labels):
        x0, n0 = data.x[g, :base].sum(), data.n[g, :base].sum()
        lower = clopper_pearson_lower(x0, n0, watch.alpha_each / 2)
        if lower <= 0:
            if len(periods) > base:
                watch.warnings.append(
                    f"{metric} of {attribute} {label}: no baseline in the first {base} period(s) "
                    "(nothing dismissed or nothing reviewed), so a fall cannot be detected"
                )
            continue
        floor = spec.band[0] * lower
        watch.floors[(attribute, label)] = floor
        log_e = floor_log_evalues(data.x[g], data.n[g], floor)
        log_e[..., :base] = 0.0
        watched.append((g, label, floor))
        paths.append(log_e)
    for (g, label, floor), detection in zip(
        watched, sr_statistics(paths, watch.alpha_each / 2, spec.horizon), strict=True
    ):
        exposed = watch.hidden(attribute, g, len(periods))
        _episodes(
            detection,
            attribute,
            label,
            metric,
            "below",
            (floor, not exposed[:base].any()),  # the floor is withheld with its baseline
            periods,
            (partial(_pooled_rate, data, g, ~exposed), exposed),
            watch,
        )


def _pooled_rate(data: Series, g: int, keep: np.ndarray, start: int, end: int) -> float:
    """The label's rate pooled over the published periods of start..end."""
    span = slice(start, end + 1)
    n = data.n[g, span][keep[span]].sum()
    return float(data.x[g, span][keep[span]].sum() / n) if n > 0 else float("nan")


def _episodes(
    detection: Any,
    attribute: str,
    label: str,
    metric: str,
    side: str,
    bound: tuple[float, bool],
    periods: list[datetime],
    pooled: tuple[Any, np.ndarray],
    watch: Watch,
) -> None:
    """One Alarm per episode. What it publishes is worked out from published periods only: its value is
    pooled over the span's shown periods, and its bound (where a withheld floor) and its statistic (where
    the path up to the alarm crosses a withheld period) are NaN, so trying counts against them gives no
    withheld period back (tests/monitor/test_monitor_lp_attack_alarms.py)."""
    (edge, edge_shown), (value_of, exposed) = bound, pooled
    alarm = detection.alarm
    starts = np.flatnonzero(alarm & ~np.concatenate([[False], alarm[:-1]]))
    threshold = 1 / (watch.alpha_each if metric in DISPARITY_METRICS else watch.alpha_each / 2)
    for t in starts:
        since = int(detection.change_start[t])
        watch.alarms.append(
            Alarm(
                attribute=attribute,
                group=label,
                metric=metric,
                side=side,
                time=periods[t],
                since=periods[since],
                value=value_of(since, int(t)),
                bound=float(edge) if edge_shown else float("nan"),
                statistic=float("nan")
                if exposed[: t + 1].any() or not edge_shown
                else float(np.exp(min(detection.log_statistic[t], 700.0))),
                threshold=threshold,
                open=bool(alarm[-1] and t == starts[-1]),
                provisional=bool(t >= len(periods) - watch.unsettled),
            )
        )
