"""The e-values and the detector: validity checked against exact binomial sums, false alarms by simulation.

Expectations are summed exactly over the binomial laws (scipy), the null root p* is found independently with
brentq, and the false-alarm share is judged against the binomial law of the simulation count.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from scipy import optimize, stats

from misflag.monitor._detect import (
    band_log_evalues,
    floor_log_evalues,
    null_root,
    predicted_rate,
    sr_statistic,
)
from misflag.monitor._spec import MonitorSpec
from misflag.monitor._watch import Series, Watch, watch_fall

HORIZON = 365


def _grid(na: int, nb: int) -> tuple[np.ndarray, ...]:
    xa, xb = np.meshgrid(np.arange(na + 1), np.arange(nb + 1), indexing="ij")
    return xa, np.full(xa.shape, na), xb, np.full(xa.shape, nb)


@pytest.mark.parametrize(("c", "upper"), [(1.25, True), (0.8, False), (1.5, True), (0.5, False)])
def test_band_evalue_has_expectation_at_most_one_everywhere_on_the_null(c: float, upper: bool) -> None:
    xa, na, xb, nb = _grid(25, 40)
    for predicted in (0.02, 0.15, 0.5):
        log_e = band_log_evalues(xa, na, xb, nb, np.full(xa.shape, predicted), c, upper)
        for pb in np.linspace(0.005, 0.995, 25):
            for shrink in (1.0, 0.7, 0.3):
                # null: pa on the null side of c * pb (for the upper side, at most c * pb; lower, at least)
                pa = c * pb * shrink if upper else min(c * pb / shrink, 1.0)
                if pa > 1:
                    continue
                weight = stats.binom.pmf(xa, 25, pa) * stats.binom.pmf(xb, 40, pb)
                expectation = (np.exp(log_e) * weight).sum(axis=(1, 2))
                assert expectation.max() <= 1 + 1e-9, (predicted, pb, pa)


@pytest.mark.parametrize(("c", "upper"), [(1.25, True), (0.8, False), (1.001, True), (0.999, False)])
@pytest.mark.parametrize(("na", "nb"), [(1, 1), (50, 3), (5, 400)])
def test_band_evalue_stays_valid_at_extreme_rates_and_unequal_sizes(
    c: float, upper: bool, na: int, nb: int
) -> None:
    """Predictions squeezed against 0 or 1, edges next to 1, very unequal sizes, and reference rates above
    1 / c (where the null lets the group's rate be anything up to 1): every exact expectation stays <= 1."""
    xa, _, xb, _ = _grid(na, nb)
    sizes_a, sizes_b = np.full(xa.shape, na), np.full(xa.shape, nb)
    for predicted in (1e-7, 0.001, 0.3, 0.79, 0.99, 1 - 1e-7):
        e = np.exp(band_log_evalues(xa, sizes_a, xb, sizes_b, np.full(xa.shape, predicted), c, upper))
        for pb in np.linspace(0.0, 1.0, 41):
            # the least favourable null point: on the edge, else (upper side, pb > 1 / c) pa = 1
            for pa in {min(c * pb, 1.0), 1.0} if not upper else {min(c * pb, 1.0)}:
                weight = np.outer(
                    stats.binom.pmf(np.arange(na + 1), na, pa), stats.binom.pmf(np.arange(nb + 1), nb, pb)
                )
                assert (e * weight).sum(axis=(1, 2)).max() <= 1 + 1e-9, (predicted, pb, pa)


def test_null_root_is_where_the_expected_evalue_peaks() -> None:
    """p* solves d/dp [na log E_p(a) + nb log E_p(b)] = 0, found here by brentq on the derivative."""
    na, nb, c = 120.0, 300.0, 1.25
    for ta, tb in ((0.09, 0.05), (0.5, 0.2), (0.02, 0.01)):

        def slope(p: float, ta: float = ta, tb: float = tb) -> float:
            return na * (ta / p - c * (1 - ta) / (1 - c * p)) + nb * (tb / p - (1 - tb) / (1 - p))

        expected = optimize.brentq(slope, 1e-12, min(1, 1 / c) - 1e-12)
        got = null_root(np.array(na), np.array(nb), np.array(ta), np.array(tb), c)
        assert float(got) == pytest.approx(expected, rel=1e-9)


def test_floor_evalue_has_expectation_at_most_one_at_and_above_the_floor() -> None:
    n = 60
    x = np.arange(n + 1)
    for floor in (0.05, 0.3, 0.7):
        log_e = floor_log_evalues(x, np.full(x.shape, n), floor)
        for p in np.linspace(floor, 0.999, 15):
            expectation = (np.exp(log_e) * stats.binom.pmf(x, n, p)).sum(axis=1)
            assert expectation.max() <= 1 + 1e-9


def test_predicted_rate_uses_only_past_periods() -> None:
    x = np.array([0.0, 10.0, 0.0, 5.0])
    n = np.array([0.0, 100.0, 50.0, 100.0])
    got = predicted_rate(x, n, window=2)
    assert np.isnan(got[0]) and np.isnan(got[1])
    assert got[2] == pytest.approx(10.5 / 101)  # period 1 only (Jeffreys-smoothed)
    assert got[3] == pytest.approx(10.5 / 151)  # periods 1 and 2


def _any_false_alarm(ratio: float, simulations: int, n: int, rate: float, alpha: float, seed: int) -> int:
    """Horizons with any alarm, for two non-reference groups x two sides (alpha / 4 each, Bonferroni)."""
    rng = np.random.default_rng(seed)
    shape = (simulations, HORIZON)
    sizes = np.full(shape, n)
    reference = rng.binomial(n, rate, shape)
    predicted = predicted_rate(reference, sizes)
    alarmed = np.zeros(simulations, dtype=bool)
    for _group in range(2):
        counts = rng.binomial(n, min(rate * ratio, 1.0), shape)
        for c, upper in ((1.25, True), (0.8, False)):
            log_e = band_log_evalues(counts, sizes, reference, sizes, predicted, c, upper)
            alarmed |= sr_statistic(log_e, alpha / 4, HORIZON).alarm.any(axis=1)
    return int(alarmed.sum())


@pytest.mark.parametrize(("ratio", "n", "rate"), [(1.0, 300, 0.05), (1.25, 300, 0.05), (0.8, 60, 0.3)])
def test_share_of_horizons_with_any_false_alarm_is_at_most_alpha(ratio: float, n: int, rate: float) -> None:
    """Equal rates, and rates exactly at a band edge (the hardest null): 365 periods, 300 horizons."""
    simulations, alpha = 300, 0.05
    alarms = _any_false_alarm(ratio, simulations, n, rate, alpha, seed=11)
    # if P(any false alarm) were alpha, a count above this would happen with probability < 0.001
    assert alarms <= stats.binom.ppf(0.999, simulations, alpha)


def test_detector_alarms_when_the_ratio_doubles() -> None:
    rng = np.random.default_rng(5)
    sizes = np.full(200, 300)
    reference = rng.binomial(300, 0.05, 200)
    changed = rng.binomial(300, np.where(np.arange(200) >= 150, 0.10, 0.05))
    log_e = band_log_evalues(changed, sizes, reference, sizes, predicted_rate(reference, sizes), 1.25, True)
    detection = sr_statistic(log_e, 0.05 / 4, HORIZON)
    first = int(np.argmax(detection.alarm))
    assert detection.alarm.any() and 150 <= first < 200
    assert 140 <= detection.change_start[first] <= first


@pytest.mark.parametrize(("rate", "n"), [(0.4, 40), (0.05, 200)])
def test_share_of_stable_review_horizons_with_a_false_fall_alarm_is_at_most_alpha(
    rate: float, n: int
) -> None:
    """The whole fall test as watched (Clopper-Pearson baseline at alpha / 2, detector at alpha / 2): 300
    reviewer pools dismissing at a steady rate for 365 periods, one horizon each."""
    simulations, alpha = 300, 0.05
    rng = np.random.default_rng(17)
    x = rng.binomial(n, rate, (simulations, HORIZON)).astype(float)
    sizes = np.full(x.shape, float(n))
    data = Series([f"pool {i}" for i in range(simulations)], x, sizes, sizes, x / sizes)
    spec = MonitorSpec(time="t", group="g", reference="A", stages=(("algorithm", "a"), ("review", "r")))
    watch = Watch(alpha_each=alpha)
    periods = [datetime(2024, 1, 1) + timedelta(days=day) for day in range(HORIZON)]
    watch_fall(spec, "dismissal_rate", data, "reviewer_pool", periods, watch)
    assert len(watch.floors) == simulations  # every pool had a baseline, so every one was watched
    alarmed = len({a.group for a in watch.alarms})
    assert alarmed <= stats.binom.ppf(0.999, simulations, alpha)
