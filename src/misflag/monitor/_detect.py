"""Change detection with a time-uniform guarantee: e-values per period, a Shiryaev–Roberts mixture over starts.

Each period gives one e-value per alternative (a nonnegative statistic whose expectation is at most 1 under
every distribution of the null), computed from counts only:

* `band_log_evalues`: two groups, null "rate_a / rate_b is inside the band edge c" (one side). The
  e-value is Q(x) / P_{p*}(x): Q binomials at an alternative (theta_a, theta_b) with theta_a / theta_b
  beyond c, P_p the null binomials (c p, p), p* the root of d/dp E_{P_p}[Q / P_{p*}] = 0. log E_P[.] is
  concave in p and 0 at p*, so p* is its maximum and the expectation is at most 1 for every p: the
  reference rate may drift from period to period without breaking validity (Turner, Ly & Grünwald's
  2x2-table e-variable, extended here from c = 1 to any band edge; proof in docs/monitor.md).
* `floor_log_evalues`: one rate, null "rate >= floor": the likelihood ratio of a lower alternative.

`sr_statistic` mixes, with weight 1/H each, the products of e-values started at each of the first H periods
and, with weight 1/K each, the K alternatives. Periods not yet started count at their initial value 1, so
the statistic is a nonnegative supermartingale with initial value 1 (a Shiryaev–Roberts e-detector, Shin,
Ramdas & Rinaldo 2024, with start weights summing to 1): by Ville's inequality, the probability that it
ever reaches 1 / alpha, at any period however often it is looked at, is at most alpha.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Alternatives bet on, as multiples of the band edge (upper side) or divisors of it (lower side / floor).
ALTERNATIVES = (1.1, 1.25, 1.5, 2.0, 3.0)
#: Periods pooled to predict a rate for the next period's alternative (past data only).
PREDICTION_WINDOW = 7
_EDGE = 1e-9
#: Smallest relative room between the reference's rate and ta / c for an alternative to be bet on.
_GAP = 1e-3


def predicted_rate(x: np.ndarray, n: np.ndarray, window: int = PREDICTION_WINDOW) -> np.ndarray:
    """For each period, the rate of the `window` periods before it (Jeffreys-smoothed); NaN with no past.

    Uses only past periods, so the alternative of period t is fixed before period t's counts are seen.
    Works on the last axis, so simulations can be stacked in front.
    """
    x, n = np.asarray(x, dtype=float), np.asarray(n, dtype=float)
    zeros = np.zeros((*x.shape[:-1], 1))
    cx = np.concatenate([zeros, np.cumsum(x, axis=-1)], axis=-1)
    cn = np.concatenate([zeros, np.cumsum(n, axis=-1)], axis=-1)
    t = np.arange(x.shape[-1])
    start = np.maximum(t - window, 0)
    past_x = cx[..., t] - cx[..., start]
    past_n = cn[..., t] - cn[..., start]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(past_n > 0, (past_x + 0.5) / (past_n + 1.0), np.nan)


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x * log(y) with 0 where x is 0 (so a zero count never meets log 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x * np.log(np.where(y > 0, y, 1.0)))


def null_root(na: np.ndarray, nb: np.ndarray, ta: np.ndarray, tb: np.ndarray, c: float) -> np.ndarray:
    """p* in (0, min(1, 1/c)): the smaller root of c N p^2 - B p + A = 0 (see the module docstring).

    The closed form loses digits when the root is squeezed between tb and ta / c, and the e-value is
    valid only at the exact root, so two Newton steps on the derivative polish it to machine precision.
    """
    total = na + nb
    a = na * ta + nb * tb
    b = na * (ta + c) + nb * (1 + c * tb)
    disc = np.sqrt(np.maximum(b * b - 4 * c * total * a, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = 2 * a / (b + disc)
        for _ in range(2):
            slope = na * (ta / p - c * (1 - ta) / (1 - c * p)) + nb * (tb / p - (1 - tb) / (1 - p))
            curve = na * (ta / p**2 + c * c * (1 - ta) / (1 - c * p) ** 2) + nb * (
                tb / p**2 + (1 - tb) / (1 - p) ** 2
            )
            p = p + slope / curve
    return p


def band_log_evalues(
    xa: np.ndarray,
    na: np.ndarray,
    xb: np.ndarray,
    nb: np.ndarray,
    rate_b: np.ndarray,
    c: float,
    upper: bool,
) -> np.ndarray:
    """log e-values, shape (K, *xa.shape), against "rate_a / rate_b on the null side of c".

    `rate_b` is the predicted reference rate (past data only). A period where either side has no
    denominator, or no prediction exists yet, contributes e-value 1 (log 0).
    """
    xa, na, xb, nb = (np.asarray(v, dtype=float) for v in (xa, na, xb, nb))
    out = np.zeros((len(ALTERNATIVES), *xa.shape))
    usable = (na > 0) & (nb > 0) & np.isfinite(rate_b)
    tb = np.clip(np.nan_to_num(rate_b, nan=0.5), _EDGE, 1 - _EDGE)
    for k, step in enumerate(ALTERNATIVES):
        ratio = c * step if upper else c / step
        ta = np.clip(ratio * tb, _EDGE, 1 - _EDGE)
        p = null_root(na, nb, ta, tb, c)
        # validity rests on p* being the exact root, which lies strictly between tb and ta / c; an
        # alternative squeezed against 0 or 1 (no room beyond the edge) is skipped (e-value 1)
        low, high = (tb, ta / c) if upper else (ta / c, tb)
        ok = usable & (high > low * (1 + _GAP)) & (p > low) & (p < high)
        p = np.where(ok, p, 0.5 * min(1.0, 1.0 / c))
        log_e = (
            _xlogy(xa, ta / (c * p))
            + _xlogy(na - xa, (1 - ta) / (1 - c * p))
            + _xlogy(xb, tb / p)
            + _xlogy(nb - xb, (1 - tb) / (1 - p))
        )
        out[k] = np.where(ok, log_e, 0.0)
    return out


def floor_log_evalues(x: np.ndarray, n: np.ndarray, floor: float | np.ndarray) -> np.ndarray:
    """log e-values, shape (K, *x.shape), against "rate >= floor" (alternatives floor / step)."""
    x, n = np.asarray(x, dtype=float), np.asarray(n, dtype=float)
    floor_arr = np.clip(np.asarray(floor, dtype=float), _EDGE, 1 - _EDGE)
    out = np.zeros((len(ALTERNATIVES), *x.shape))
    for k, step in enumerate(ALTERNATIVES):
        theta = floor_arr / step
        log_e = _xlogy(x, theta / floor_arr) + _xlogy(n - x, (1 - theta) / (1 - floor_arr))
        out[k] = np.where((n > 0) & (floor_arr > _EDGE), log_e, 0.0)
    return out


@dataclass(frozen=True)
class Detection:
    """The detector's path over periods: log statistic, alarm flags, estimated start of the change."""

    log_statistic: np.ndarray  # (..., T)
    alarm: np.ndarray  # (..., T) bool: statistic >= 1 / alpha
    change_start: np.ndarray  # (..., T) int: period where the most likely change began


def sr_statistic(log_e: np.ndarray, alpha: float, horizon: int) -> Detection:
    """Shiryaev–Roberts mixture over start periods (weight 1/horizon each) and alternatives (axis 0).

    log_e has shape (K, ..., T). Returns the statistic including the not-yet-started weight, so that
    P(statistic ever >= 1 / alpha) <= alpha under the null (Ville's inequality).

    Only the recursion log R_t = log E_t + logaddexp(log R_{t-1}, log w) over the first `horizon` periods
    runs period by period (in place, no mixing); after the horizon no start is added, so R_t = R_{t-1} E_t
    is a running sum of logs, and the mixture, the argmax and the start estimate are taken over all periods
    at once. Every value is the same floating-point operation on the same operands as a plain loop, so the
    path equals it bit for bit (tests/monitor/test_monitor_detect.py checks this against a loop).
    """
    kinds, periods = log_e.shape[0], log_e.shape[-1]
    log_w = -np.log(horizon)
    steps = np.moveaxis(np.asarray(log_e, dtype=float), -1, 0)  # (T, K, ...)
    log_r = np.empty(steps.shape)  # log of sum_j w_j prod_{i=j..t} E_i, each period
    starts = np.zeros(steps.shape, dtype=np.int64)  # start of the CUSUM path, for the change-start estimate
    previous = np.full(steps.shape[1:], -np.inf)
    best = np.full(steps.shape[1:], -np.inf)
    start = np.zeros(steps.shape[1:], dtype=np.int64)
    opened = min(periods, horizon)
    for t in range(opened):
        np.logaddexp(previous, log_w, out=log_r[t])
        np.add(steps[t], log_r[t], out=log_r[t])
        previous = log_r[t]
        np.copyto(start, t, where=best < log_w)
        starts[t] = start
        best = steps[t] + np.maximum(best, log_w)
    if (
        periods > opened
    ):  # no new start: the running product of e-values, summed left to right as a loop would
        log_r[opened - 1 :] = np.add.accumulate(np.concatenate([log_r[opened - 1 : opened], steps[opened:]]))
        starts[opened:] = start
    mixed = log_r[:, 0]
    for k in range(1, kinds):  # alternatives in order, as np.logaddexp.reduce adds them
        mixed = np.logaddexp(mixed, log_r[:, k])
    mixed = mixed - np.log(kinds)
    unstarted = np.array(
        [np.log(max(horizon - t - 1, 0) / horizon) if t + 1 < horizon else -np.inf for t in range(periods)]
    ).reshape((periods,) + (1,) * (mixed.ndim - 1))
    log_stat = np.logaddexp(mixed, unstarted)
    top = np.argmax(log_r, axis=1)
    change = np.take_along_axis(starts, top[:, None, ...], axis=1)[:, 0]
    log_stat, change = np.moveaxis(log_stat, 0, -1).copy(), np.moveaxis(change, 0, -1).copy()
    threshold = -np.log(alpha)
    return Detection(log_statistic=log_stat, alarm=log_stat >= threshold, change_start=change)


def sr_statistics(paths: list[np.ndarray], alpha: float, horizon: int) -> list[Detection]:
    """`sr_statistic` of several comparisons' (K, T) paths in one pass over the periods (the per-period
    recursion costs the same for one path as for many); each result equals its own call bit for bit."""
    if not paths:
        return []
    joint = sr_statistic(np.stack(paths, axis=1), alpha, horizon)
    return [
        Detection(
            log_statistic=joint.log_statistic[i], alarm=joint.alarm[i], change_start=joint.change_start[i]
        )
        for i in range(len(paths))
    ]


def clopper_pearson_lower(x: float, n: float, alpha: float) -> float:
    """One-sided exact lower confidence bound for a binomial rate (0 when x is 0)."""
    from scipy import stats

    if n <= 0 or x <= 0:
        return 0.0
    return float(stats.beta.ppf(alpha, x, n - x + 1))
