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
