"""Synthetic matchers with closed-form tails: each group's FMR and FNMR within simulation error of the truth,
and a target-FMR threshold that is exactly the most lenient one meeting the target (checked with numpy)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from misflag.biometrics import audit_biometrics

IMPOSTOR = {"F": 0.4, "M": 0.0, "X": -0.3}
GENUINE = {"F": 3.2, "M": 3.5, "X": 3.0}


@pytest.fixture(scope="module")
def gaussian(make_gaussian: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    return make_gaussian(IMPOSTOR, GENUINE, impostors=200_000, genuines=20_000, seed=7)


def _within(value: float, truth: float, n: float) -> bool:
    """Within 4.5 standard errors of the closed form (fails by chance about once in 150,000 checks)."""
    return abs(value - truth) <= 4.5 * np.sqrt(truth * (1 - truth) / n)


@pytest.mark.parametrize("threshold", [1.5, 2.5, 3.0])
def test_gaussian_rates_match_the_closed_form(gaussian: pd.DataFrame, threshold: float) -> None:
    result = audit_biometrics(gaussian, score="score", genuine="genuine", group="grp", threshold=threshold)
    stage = f"score>={threshold!r}"
    for name in IMPOSTOR:
        fmr = result.select(metric="fmr", group=name, stage=stage)[0]
        truth = stats.norm.sf(threshold - IMPOSTOR[name])
        assert _within(fmr["value"], truth, fmr["denominator"])
        assert fmr["ci_low"] <= fmr["value"] <= fmr["ci_high"]
        fnmr = result.select(metric="fnmr", group=name, stage=stage)[0]
        assert _within(fnmr["value"], stats.norm.cdf(threshold - GENUINE[name]), fnmr["denominator"])


def test_beta_scores_match_the_closed_form() -> None:
    generator = np.random.default_rng(3)
    shapes = {"A": ((2, 5), (6, 2)), "B": ((3, 4), (5, 2))}  # (impostor, genuine) beta shapes
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "s": np.r_[generator.beta(*imp, 100_000), generator.beta(*gen, 10_000)],
                    "genuine": np.r_[np.zeros(100_000), np.ones(10_000)],
                    "grp": name,
                }
            )
            for name, (imp, gen) in shapes.items()
        ]
    )
    result = audit_biometrics(frame, score="s", genuine="genuine", group="grp", threshold=0.6)
    for name, (imp, gen) in shapes.items():
        assert _within(result.value("fmr", name, stage="score>=0.6"), stats.beta.sf(0.6, *imp), 100_000)
        assert _within(result.value("fnmr", name, stage="score>=0.6"), stats.beta.cdf(0.6, *gen), 10_000)


@pytest.mark.parametrize("target", [0.01, 0.001, 0.0001])
def test_target_threshold_is_the_most_lenient_meeting_the_target(
    gaussian: pd.DataFrame, target: float
) -> None:
    result = audit_biometrics(gaussian, score="score", genuine="genuine", group="grp", target_fmr=target)
    point = result.metadata["operating_points"][0]
    impostors = np.sort(gaussian.loc[gaussian["genuine"] == 0, "score"].to_numpy())
    allowed = int(np.floor(target * impostors.size + 1e-9))
    threshold = point["threshold"]
    assert np.count_nonzero(impostors >= threshold) <= allowed
    assert np.count_nonzero(impostors >= point["order_statistic"]) > allowed
    assert threshold == np.nextafter(point["order_statistic"], np.inf)
    assert (
        result.value("fmr", "all", stage=point["stage"])
        == np.count_nonzero(impostors >= threshold) / impostors.size
    )
    for name in IMPOSTOR:  # every group's count at the found threshold, exactly
        own = gaussian[(gaussian["grp"] == name) & (gaussian["genuine"] == 0)]["score"].to_numpy()
        assert (
            result.value("fmr", name, stage=point["stage"]) == np.count_nonzero(own >= threshold) / own.size
        )


def test_summaries_by_their_definitions(gaussian: pd.DataFrame) -> None:
    result = audit_biometrics(
        gaussian, score="score", genuine="genuine", group="grp", threshold=2.0, fdr_alpha=0.3
    )
    stage = "score>=2.0"
    rates = {m: np.array([result.value(m, g, stage=stage) for g in IMPOSTOR]) for m in ("fmr", "fnmr")}
    pick = {r["metric"]: r for r in result.select(group="(between groups)", stage=stage)}
    fmr = rates["fmr"]
    assert pick["fmr_max_min_ratio"]["value"] == pytest.approx(fmr.max() / fmr.min())
    assert pick["fmr_max_geomean_ratio"]["value"] == pytest.approx(fmr.max() / stats.gmean(fmr))
    k = fmr.size
    gini = k / (k - 1) * np.abs(fmr[:, None] - fmr[None, :]).sum() / (2 * k * k * fmr.mean())
    assert pick["fmr_gini"]["value"] == pytest.approx(gini)
    gaps = 0.3 * np.ptp(fmr) + 0.7 * np.ptp(rates["fnmr"])
    assert pick["fdr"]["value"] == pytest.approx(1 - gaps)
    for row in pick.values():
        assert row["ci_low"] < row["value"] < row["ci_high"]
