"""`sr_statistic` equals the plain per-period loop it replaced, bit for bit, on hostile e-value paths.

The reference below is the earlier implementation written out as the textbook recursion
R_t = E_t (R_{t-1} + w_t) in log space, one period at a time, mixing and taking the argmax every period.
"""

from __future__ import annotations

import numpy as np
import pytest

from misflag.monitor._detect import sr_statistic, sr_statistics


def _loop(log_e: np.ndarray, alpha: float, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    kinds, periods = log_e.shape[0], log_e.shape[-1]
    log_w = -np.log(horizon)
    log_r = np.full(log_e.shape[:-1], -np.inf)
    best = np.full(log_e.shape[:-1], -np.inf)
    start = np.zeros(log_e.shape[:-1], dtype=np.int64)
    log_stat = np.empty((*log_e.shape[1:-1], periods))
    change = np.zeros((*log_e.shape[1:-1], periods), dtype=np.int64)
    for t in range(periods):
        new = log_w if t < horizon else -np.inf
        log_r = log_e[..., t] + np.logaddexp(log_r, new)
        start = np.where(best < new, t, start)
        best = log_e[..., t] + np.maximum(best, new)
        unstarted = np.log(max(horizon - t - 1, 0) / horizon) if t + 1 < horizon else -np.inf
        mixed = np.logaddexp.reduce(log_r, axis=0) - np.log(kinds)
        log_stat[..., t] = np.logaddexp(mixed, unstarted)
        top = np.argmax(log_r, axis=0)
        change[..., t] = np.take_along_axis(start, top[None, ...], axis=0)[0]
    return log_stat, log_stat >= -np.log(alpha), change


def _hostile(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Small and huge log e-values, exact zeros (skipped periods), ties, infinities and a NaN."""
    log_e = rng.normal(0, 1, shape) * rng.choice([1e-12, 1e-3, 1.0, 50.0, 700.0, 1e200], shape)
    log_e[rng.random(shape) < 0.2] = 0.0
    if shape[-1] > 9 and shape[0] > 3:
        log_e[..., 3] = log_e[..., 2]  # ties between periods
        log_e[0, ..., 5] = log_e[1, ..., 5]  # ties between alternatives (argmax picks the first)
        log_e[1, ..., 7] = np.inf
        log_e[2, ..., 8] = -np.inf
        log_e[3, ..., 9] = np.nan
    return log_e


@pytest.mark.parametrize(
    ("shape", "horizon"),
    [
        ((5, 365), 365),  # the usual case: every period may start a change
        ((5, 40), 12),  # past the horizon: no new start, the running sum of logs
        ((5, 40), 1),  # a one-period horizon
        ((5, 10), 400),  # fewer periods than the horizon
        ((5, 1), 3),  # a single period
        ((5, 6, 30), 9),  # stacked simulations
        ((5, 3, 4, 25), 25),  # two stacked axes
        ((1, 30), 7),  # one alternative
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sr_statistic_equals_the_per_period_loop_bit_for_bit(
    shape: tuple[int, ...], horizon: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    for log_e in (_hostile(rng, shape), rng.normal(0, 0.3, shape)):
        with np.errstate(invalid="ignore"):  # inf - inf in both
            expected = _loop(log_e, 0.0125, horizon)
            detection = sr_statistic(log_e, 0.0125, horizon)
        np.testing.assert_array_equal(detection.log_statistic, expected[0], strict=True)
        np.testing.assert_array_equal(detection.alarm, expected[1], strict=True)
        np.testing.assert_array_equal(detection.change_start, expected[2], strict=True)


def test_the_loop_reference_is_not_vacuous() -> None:
    """The comparison above tells a rounding-sized change apart: one e-value nudged by 1e-12 differs."""
    rng = np.random.default_rng(5)
    log_e = rng.normal(0, 0.3, (5, 50))
    nudged = log_e.copy()
    nudged[2, 10] += 1e-12
    assert not np.array_equal(sr_statistic(nudged, 0.05, 50).log_statistic, _loop(log_e, 0.05, 50)[0])


def test_comparisons_run_together_equal_each_run_alone() -> None:
    """`sr_statistics` (one pass for every comparison of a metric) gives each comparison its own call's path."""
    rng = np.random.default_rng(7)
    paths = [_hostile(rng, (5, 60)) for _ in range(3)] + [rng.normal(0, 0.3, (5, 60))]
    with np.errstate(invalid="ignore"):
        together = sr_statistics(paths, 0.01, 40)
        for path, joint in zip(paths, together, strict=True):
            alone = _loop(path, 0.01, 40)
            np.testing.assert_array_equal(joint.log_statistic, alone[0], strict=True)
            np.testing.assert_array_equal(joint.alarm, alone[1], strict=True)
            np.testing.assert_array_equal(joint.change_start, alone[2], strict=True)
    assert sr_statistics([], 0.01, 40) == []
