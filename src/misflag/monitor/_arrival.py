"""Group comparisons with evidence in the order labels arrive (`--evidence arrival`, with `--state`).

Each scheduled run uses, for every period, only the labels (and decisions) counted since they were last
used: their increase of a period's counts, group and reference, gives one e-value of its own (the band
e-value of misflag.monitor._detect on the increase), and a period's evidence is the product of its pieces.
A period's new labels wait until both the group and the reference have some (a piece with one side empty
would be wasted: against a composite null it carries no evidence). The state keeps, per metric and group,
the group's and the reference's counts already used and, per detector, each period's summed log e-values
and the path of statistics the runs have looked at.

Why the guarantee holds: order the pieces by run, and within a run by period. Under the null, a piece of
period i is a fresh set of labels of that period, whose alternative is fixed by the reference's labels of
the periods before i that are already used (pieces earlier in that order; labels held back are not
looked at until their own piece), so each piece is an e-value given everything before it (whether a label
arrives late must not depend on the truth, as for any late label; whether a piece is used depends on
label counts only, never on the labels' values). For each start j, the product of the pieces of periods
j..t is then a test supermartingale in that order, and so is the Shiryaev-Roberts mixture A over starts
(weight 1/horizon each, unstarted starts at 1). A run looks at A after each period's pieces, in that
order: for a period older than the previous run's newest, A at that newest period with the later periods
still holding earlier runs' evidence; then A at each period from the previous run's newest to its own.
These are values of one path of one test supermartingale, so by Ville's inequality P(any false alarm)
<= alpha over every run. The first run (no evidence yet) looks at every period once, as a full run does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from misflag.monitor._detect import ALTERNATIVES, band_log_evalues, predicted_rate, sr_statistic

#: One look of a detector: (period, log statistic, period where the likeliest change began).
Look = tuple[str, float, str]


@dataclass
class Evidence:
    """What arrival-order runs carry from one run to the next (stored in the state file)."""

    periods: list[str] = field(default_factory=list)  # ISO starts of the periods the arrays cover
    used: dict[str, np.ndarray] = field(default_factory=dict)  # "metric|label" -> (4, periods): x, n used
    # of the group and of the reference in the group's comparison
    log_e: dict[str, np.ndarray] = field(default_factory=dict)  # "metric|label|side" -> (K, periods)
    path: dict[str, list[Look]] = field(default_factory=dict)  # "metric|label|side" -> looks, in run order

    def aligned(self, table: dict[str, np.ndarray], key: str, rows: int, times: list[str]) -> np.ndarray:
        """table[key] reindexed onto `times` (zeros where this run has periods the evidence has not)."""
        out = np.zeros((rows, len(times)))
        if key in table:
            where = {t: i for i, t in enumerate(self.periods)}
            for j, t in enumerate(times):
                if t in where:
                    out[:, j] = table[key][:, where[t]]
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "periods": self.periods,
            "used": {k: v.tolist() for k, v in self.used.items()},
            "log_e": {k: v.tolist() for k, v in self.log_e.items()},
            "path": {k: [list(look) for look in v] for k, v in self.path.items()},
        }

    @classmethod
    def from_json(cls, data: Any) -> Evidence:
        """Checked as strictly as the counts: raises ValueError naming the first bad field."""
        if not isinstance(data, dict) or set(data) != {"periods", "used", "log_e", "path"}:
            raise ValueError("evidence must hold periods, used, log_e and path")
        periods = data["periods"]
        if not isinstance(periods, list) or not all(isinstance(p, str) and len(p) <= 40 for p in periods):
            raise ValueError("evidence periods must be a list of timestamps")
        if sorted(set(periods)) != periods:
            raise ValueError("evidence periods must be distinct and ascending")
        used = {k: _array(v, (4, len(periods)), f"evidence used {k}", 0.0) for k, v in _table(data["used"])}
        log_e = {
            k: _array(v, (len(ALTERNATIVES), len(periods)), f"evidence log_e {k}", -math.inf)
            for k, v in _table(data["log_e"])
        }
        path: dict[str, list[Look]] = {}
        for key, looks in _table(data["path"]):
            if not isinstance(looks, list):
                raise ValueError(f"evidence path {key} must be a list")
            path[key] = [_look(look, key) for look in looks]
        return cls(periods, used, log_e, path)


def _table(value: Any) -> list[tuple[str, Any]]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and len(k) <= 400 for k in value):
        raise ValueError("evidence tables must map names to values")
    return list(value.items())


def _array(value: Any, shape: tuple[int, int], name: str, low: float) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers") from None
    if array.shape != shape or not np.isfinite(array).all() or (array < low).any():
        raise ValueError(f"{name} must be {shape[0]} x {shape[1]} finite numbers of at least {low:g}")
    return array


def _look(look: Any, key: str) -> Look:
    ok = (
        isinstance(look, list)
        and len(look) == 3
        and isinstance(look[0], str)
        and isinstance(look[2], str)
        and type(look[1]) in (int, float)
        and math.isfinite(look[1])
    )
    if not ok:
        raise ValueError(f"evidence path {key} holds a look that is not [period, statistic, since]")
    return str(look[0]), float(look[1]), str(look[2])


@dataclass(frozen=True)
class Pieces:
    """One detector's evidence after this run."""

    looks: list[Look]
    log_e: np.ndarray  # (K, periods)
    used: np.ndarray  # (4, periods): x, n of the group and of the reference used so far
    broken: list[str]  # periods whose counts went down or changed without new labels


def arrival_detector(
    previous: Evidence | None,
    metric: str,
    labels: tuple[str, str],
    counts: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    times: list[str],
    edge: tuple[float, bool],
    alpha_each: float,
    horizon: int,
) -> Pieces:
    """Pieces of one detector (group `labels[0]` against reference `labels[1]`, `edge` = (c, upper)).

    counts = (x, n) of the group and (x, n) of the reference over `times`, as counted now.
    """
    xa, na, xb, nb = counts
    side = f"{metric}|{labels[0]}|{'above' if edge[1] else 'below'}"
    if previous is None:
        old = np.zeros((4, len(times)))
        summed = np.zeros((len(ALTERNATIVES), len(times)))
        looks: list[Look] = []
        first = 0
    else:
        old = previous.aligned(previous.used, f"{metric}|{labels[0]}", 4, times)
        summed = previous.aligned(previous.log_e, side, len(ALTERNATIVES), times)
        looks = list(previous.path.get(side, []))
        first = times.index(previous.periods[-1]) if previous.periods and previous.periods[-1] in times else 0
    now = np.stack([xa, na, xb, nb])
    change = now - old
    # weighted counts are sums of floats: a change of rounding size is no change
    da, dna, db, dnb = np.where(np.abs(change) <= 1e-9 * np.maximum(np.abs(now), 1.0), 0.0, change)
    proper = (da >= 0) & (dna >= da) & (db >= 0) & (dnb >= db)
    broken = [
        t
        for t, ok, moved in zip(times, proper, (dna != 0) | (dnb != 0) | (da != 0) | (db != 0), strict=True)
        if moved and not ok
    ]
    ready = proper & (dna > 0) & (dnb > 0)
    keep = np.where(ready, 1.0, 0.0)
    used = np.where((ready | ~proper)[None, :], now, old)  # broken changes are dropped, not kept pending
    # each piece's alternative: the reference's rate over the periods before it, from the labels already
    # used as evidence (earlier runs, and this run's pieces of earlier periods); labels still held back
    # stay unseen until their own piece
    rate_b = predicted_rate(used[2], used[3])
    before = summed
    summed = summed + band_log_evalues(da * keep, dna * keep, db * keep, dnb * keep, rate_b, *edge)
    for piece in np.flatnonzero(ready[:first]):  # the path after each older period's pieces of this run
        looks.append(_mixed_look(before, summed, int(piece), first, times, horizon))
    detection = sr_statistic(summed, alpha_each, horizon)
    for t in range(first, len(times)):
        looks.append((times[t], float(detection.log_statistic[t]), times[int(detection.change_start[t])]))
    return Pieces(looks, summed, used, broken)


def _mixed_look(
    before: np.ndarray, after: np.ndarray, piece: int, end: int, times: list[str], horizon: int
) -> Look:
    """The Shiryaev-Roberts statistic once this run's pieces of periods up to `piece` are in and the later
    periods still hold the evidence of earlier runs, at period `end` (the previous run's newest; periods
    after it have not started): sum over starts j of (1 / horizon) x product of e-values from j to `end`,
    mixed over the alternatives, plus the weight of starts not reached. Returns the look (period `piece`,
    log statistic, start carrying most of the evidence)."""
    mixed = np.concatenate([after[:, : piece + 1], before[:, piece + 1 : end + 1]], axis=1)
    from_start = np.cumsum(mixed[:, ::-1], axis=1)[:, ::-1]  # log product of e-values from j to end
    starts = min(end + 1, horizon)
    log_r = np.logaddexp.reduce(from_start[:, :starts], axis=1) - math.log(horizon)
    unstarted = math.log((horizon - end - 1) / horizon) if end + 1 < horizon else -math.inf
    statistic = float(np.logaddexp(np.logaddexp.reduce(log_r) - math.log(len(log_r)), unstarted))
    since = int(np.argmax(from_start[int(np.argmax(log_r)), :starts]))
    return times[piece], statistic, times[since]


def compacted(looks: list[Look], floor: float) -> list[Look]:
    """`looks` with each stretch of consecutive looks below `floor` (log) cut to its last look.

    With `floor` = log(1 / alpha), no threshold of any run on this state (log(1 / alpha_each), alpha_each =
    alpha / comparisons <= alpha, and alpha is fixed by the state's fingerprint) can put such a look at or
    above it, so every run's `episodes` are unchanged: a stretch below is one step below whatever its
    length, and every look at or above the floor is kept. Stretches that span runs merge at the next
    compaction, so the stored path grows with the looks above the floor, not with the runs."""
    out: list[Look] = []
    for look in looks:
        if out and look[1] < floor and out[-1][1] < floor:
            out[-1] = look
        else:
            out.append(look)
    return out


def episodes(looks: list[Look], threshold: float) -> list[tuple[Look, bool]]:
    """The first look of each run of looks at or above `threshold` (log), and whether it is still open."""
    out: list[tuple[Look, bool]] = []
    above_before = False
    for look in looks:
        above = look[1] >= threshold
        if above and not above_before:
            out.append((look, False))
        above_before = above
    if out and above_before:
        out[-1] = (out[-1][0], True)
    return out
