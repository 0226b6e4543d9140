"""Clerical review: stratified sampling and the weighted precision estimator's coverage."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from misflag.errors import InputError
from misflag.linkage import draw_clerical_sample
from misflag.linkage._clerical import estimate_precision, parse_labels

SAMPLES = 1000


def _synthetic_pairs(n: int = 20_000, seed: int = 7) -> pa.Table:
    """Scores from a match/non-match mixture with known truth; group 'b' has more false links."""
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n) < 0.3, "b", "a")
    is_match = rng.random(n) < np.where(group == "b", 0.45, 0.6)
    score = np.where(is_match, rng.beta(6, 1.5, n), rng.beta(1.5, 5, n))
    return pa.table(
        {
            "id_l": [f"l{i}" for i in range(n)],
            "id_r": [f"r{i}" for i in range(n)],
            "score": score,
            "group": group,
            "truth": is_match.astype(int),
        }
    )


def test_sample_has_requested_size_strata_and_probabilities() -> None:
    pairs = _synthetic_pairs()
    sample = draw_clerical_sample(pairs, size=500, seed=1, group_column="group")
    assert sample.num_rows == 500
    assert len(set(sample["stratum"].to_pylist())) == 12  # 6 score bands x 2 groups
    frame = sample.to_pandas()
    # inclusion probability = drawn / stratum size, so weights sum to each stratum's size
    sums = frame.groupby("stratum").weight.sum()
    sizes = frame.groupby("stratum").stratum_size.first()
    assert np.allclose(sums, sizes)
    assert frame.label.isna().all()
    again = draw_clerical_sample(pairs, size=500, seed=1, group_column="group")
    assert again.equals(sample)


@pytest.mark.slow
def test_interval_coverage_of_true_precision_over_1000_samples() -> None:
    """1,000 clerical samples; the count that cover is Binomial(1000, 0.95) for a calibrated interval, so
    the test accepts the central 99.8% of that law (about 928-970), not a band that passes by its seeds."""
    pairs = _synthetic_pairs()
    score = pairs["score"].to_numpy()
    truth = pairs["truth"].to_numpy()
    t = 0.5
    true_precision = truth[score >= t].mean()
    key = {
        (a, b): i
        for i, (a, b) in enumerate(zip(pairs["id_l"].to_pylist(), pairs["id_r"].to_pylist(), strict=True))
    }
    covered = 0
    for seed in range(SAMPLES):
        sample = draw_clerical_sample(pairs, size=500, seed=seed, group_column="group")
        rows = np.array(
            [key[k] for k in zip(sample["id_l"].to_pylist(), sample["id_r"].to_pylist(), strict=True)]
        )
        strata = np.unique(np.asarray(sample["stratum"].to_pylist()), return_inverse=True)[1]
        est = estimate_precision(
            truth[rows].astype(float),
            strata,
            sample["stratum_size"].to_numpy().astype(float),
            score[rows] >= t,
        )
        covered += est.ci_low <= true_precision <= est.ci_high
    low, high = stats.binom.ppf(0.001, SAMPLES, 0.95), stats.binom.isf(0.001, SAMPLES, 0.95)
    assert low <= covered <= high, f"coverage {covered / SAMPLES:.3f}, accepted {low:.0f}-{high:.0f}"


def test_estimate_equals_hand_computed_horvitz_thompson_ratio() -> None:
    labels = np.array([1, 0, 1, 1, 1, 0], dtype=float)
    strata = np.array([0, 0, 0, 1, 1, 1])
    sizes = np.array([30, 30, 30, 10, 10, 10], dtype=float)
    domain = np.ones(6, dtype=bool)
    est = estimate_precision(labels, strata, sizes, domain)
    # weights 10 (stratum 0) and 10/3 (stratum 1): (10*2 + 10/3*2) / (30 + 10)
    assert est.value == pytest.approx((20 + 20 / 3) / 40)
    assert est.estimated_links == pytest.approx(40)
    assert est.ci_low < est.value < est.ci_high


def test_labels_parsing_and_errors() -> None:
    assert np.array_equal(
        parse_labels(pa.array(["1", "no", "Match", None, ""])), [1, 0, 1, np.nan, np.nan], equal_nan=True
    )
    with pytest.raises(InputError, match="maybe"):
        parse_labels(pa.array(["maybe"]))
    with pytest.raises(InputError, match="bands"):
        draw_clerical_sample(_synthetic_pairs(100), size=10, seed=0, bands=[0.9, 0.5])


def _wilson(successes: float, trials: float) -> tuple[float, float]:
    """Wilson's score interval written out from its closed form (not misflag's)."""
    z = stats.norm.ppf(0.975)
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return centre - half, centre + half


def test_agreeing_strata_cannot_shrink_the_interval_to_a_point() -> None:
    """The issue's 99.93% (99.93-99.93%, n=249): a huge stratum whose 200 labels all agree adds no
    variance, and a small one's single non-match gives a tiny variance; uncapped, p(1-p)/V is about
    446 thousand labels. Capped at the 249 labelled pairs, the interval is Wilson's on 249 by hand."""
    labels = np.array([1.0] * 200 + [1.0] * 48 + [0.0])
    strata = np.array([0] * 200 + [1] * 49)
    sizes = np.array([100_000.0] * 200 + [60.0] * 49)
    est = estimate_precision(labels, strata, sizes, np.ones(249, dtype=bool))
    p = (100_000 + 60 * 48 / 49) / 100_060
    assert est.value == pytest.approx(p)
    # the uncapped effective size, by hand: stratum 1's variance of z = d (y - p) / total
    s2 = (48 * (1 - p) ** 2 + p**2 - (48 * (1 - p) - p) ** 2 / 49) / 48 / 100_060**2
    uncapped = p * (1 - p) / (60**2 * (1 - 49 / 60) * s2 / 49)
    assert uncapped > 400_000
    low, high = _wilson(p * 249, 249)
    assert (est.ci_low, est.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert est.ci_high - est.ci_low > 0.01  # about 1.5 points on 249 pairs, never a point


@pytest.mark.parametrize("seed", range(20))
def test_no_design_gives_a_zero_width_interval(seed: int) -> None:
    """Random designs with precision near 1 and strata of agreeing labels: the interval always has width."""
    rng = np.random.default_rng(seed)
    strata_count = int(rng.integers(1, 6))
    taken = rng.integers(1, 60, strata_count)
    sizes = taken + rng.integers(0, 10_000, strata_count) * rng.integers(0, 2, strata_count)
    strata = np.repeat(np.arange(strata_count), taken)
    labels = (rng.random(strata.size) < rng.choice([0.0, 0.99, 1.0])).astype(float)
    est = estimate_precision(labels, strata, sizes[strata].astype(float), np.ones(strata.size, dtype=bool))
    assert est.ci_low <= est.value <= est.ci_high
    assert est.ci_high - est.ci_low > 1e-6
