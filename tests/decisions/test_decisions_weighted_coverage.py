"""Weighted (audit-sample) intervals, issue 21 item 6: coverage in every band of a design whose strata follow
the flag, exact rates where the denominator was audited whole, an honest limit where a rate is 0, and
"none audited" (not "no negatives") for a group the sample missed.

The coverage test reuses `benchmarks/decisions_weight.py`'s simulation (the benchmark prints the long
run); the targets there are the simulated log's own rates, counted over every person independently of
misflag. Before this change FPR covered 99.4-100% from 10 audited negatives up (the effective n was
capped at the audited rows) and FNR 27-52% at 1-29 audited positives (Kish's n where the rate is 0).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from misflag.decisions import audit_decisions
from misflag.decisions._counts import Cells
from misflag.decisions._metrics import RATE_METRICS, GroupSums, stage_masks

#: 800 logs give at least 450 intervals in every checked band (2 cores: ~15 s). At 450 intervals the 99.8%
#: region of Binomial(450, 0.95) is [412, 440]: an interval covering 90% lands below it with probability
#: 0.85, the old FPR (99.4%) above it with probability 0.9995, the old FNR (27-52%) below it surely
#: (`test_repetitions_have_the_power`); the benchmark's 4,000 logs are the precise figures.
REPETITIONS = 800


def _benchmark() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "decisions_weight.py"
    spec = importlib.util.spec_from_file_location("decisions_weight", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def test_repetitions_have_the_power() -> None:
    stats = pytest.importorskip("scipy.stats")
    low, high = _benchmark().region(450)
    assert (low, high) == (412, 440)
    assert (int(stats.binom.ppf(0.001, 450, 0.95)), int(stats.binom.isf(0.001, 450, 0.95))) == (low, high)
    assert stats.binom.cdf(low - 1, 450, 0.90) >= 0.84
    assert stats.binom.sf(high, 450, 0.994) >= 0.999
    assert stats.binom.cdf(low - 1, 450, 0.52) == pytest.approx(1.0)


def test_flag_stratified_coverage_in_every_band() -> None:
    """No band under-covers; from 10 audited people up, no band over-covers either (1-9 may: the limit at a
    rate of 0 is deliberately conservative, and the docs say so)."""
    benchmark = _benchmark()
    tallies = benchmark.simulate(REPETITIONS, seed=7)
    checked = 0
    for (design, metric, band), tally in tallies.items():
        if tally.intervals < 450:
            assert metric == "precision" and design.startswith("flagged all"), (design, metric, band)
            assert tally.exact > 0  # the fully audited flagged stratum makes precision exact
            continue
        low, high = benchmark.region(tally.intervals)
        assert tally.covered >= low, (design, metric, band, tally.covered, tally.intervals)
        if band != "1-9":
            assert tally.covered <= high, (design, metric, band, tally.covered, tally.intervals)
        checked += 1
    assert checked == 20  # 2 designs x 3 metrics x 4 bands, less precision under the certainty stratum


def _cells(table: list[tuple[str, int, int, float, int]]) -> Cells:
    groups, flags, truth, weight, count = zip(*table, strict=True)
    return Cells(
        keys=(np.array(groups, dtype=object),),
        flags=np.array(flags, dtype=np.int8)[:, None],
        truth=np.array(truth, dtype=np.int8),
        weight=np.array(weight, dtype=float),
        count=np.array(count, dtype=np.int64),
    )


def _estimate(
    table: list[tuple[str, int, int, float, int]], metric: str
) -> tuple[float, float, float, float]:
    cells = _cells(table)
    estimate = GroupSums(cells, np.zeros(len(table), dtype=np.int64), 1, design=True).estimate(
        RATE_METRICS[metric], stage_masks(cells, 0)
    )
    return estimate.value[0], estimate.low[0], estimate.high[0], estimate.effective[0]


# flagged rows all audited at weight 1 (tp 3, fp 2); cleared rows sampled 1 in 5 (tn 2, fn 1), 12 unaudited
CERTAIN_FLAGGED = [
    ("a", 1, 1, 1.0, 3),
    ("a", 1, 0, 1.0, 2),
    ("a", 0, 0, 5.0, 2),
    ("a", 0, 1, 5.0, 1),
    ("a", 0, -1, 0.0, 12),
]


def test_a_denominator_audited_whole_is_exact() -> None:
    """Precision's denominator (the flagged) was audited whole at weight 1: 3/5, with no sampling error."""
    value, low, high, effective = _estimate(CERTAIN_FLAGGED, "precision")
    assert (value, low, high, effective) == (0.6, 0.6, 0.6, np.inf)
    # FPR = 2 / (2 + 2 x 5) reaches the sampled cleared rows: a real interval around 1/6
    value, low, high, _ = _estimate(CERTAIN_FLAGGED, "fpr")
    assert value == pytest.approx(1 / 6) and low < 1 / 6 < high
    # one flagged row outside the sample: precision is no longer known exactly
    value, low, high, _ = _estimate([*CERTAIN_FLAGGED, ("a", 1, -1, 0.0, 1)], "precision")
    assert value == pytest.approx(0.6) and low < 0.6 < high


def test_a_group_audited_whole_at_weight_one_is_exact_for_every_rate() -> None:
    table = [("a", 1, 1, 1.0, 4), ("a", 1, 0, 1.0, 1), ("a", 0, 0, 1.0, 6), ("a", 0, 1, 1.0, 3)]
    for metric, expected in (("fpr", 1 / 7), ("fnr", 3 / 7), ("precision", 4 / 5), ("base_rate", 7 / 14)):
        value, low, high, _ = _estimate(table, metric)
        assert value == low == high == pytest.approx(expected), metric


def test_a_rate_of_zero_allows_one_unseen_case_per_heaviest_weight() -> None:
    """FNR = 0: 20 positives audited (all flagged, weight 1), 8 cleared rows audited at weight 10, none
    positive. One cleared positive missed by the sample stands for 10 people, so the effective n is
    20 / 10 = 2 and the upper limit is Wilson's at 0 of 2 (3.84 / 5.84), not at 0 of 20."""
    table = [("a", 1, 1, 1.0, 20), ("a", 0, 0, 10.0, 8), ("a", 0, -1, 0.0, 72)]
    value, low, high, effective = _estimate(table, "fnr")
    assert (value, low, effective) == (0.0, 0.0, 2.0)
    assert high == pytest.approx(proportion_confint(0, 2, method="wilson")[1], rel=1e-12)


def test_fpr_effective_n_is_not_capped_at_the_audited_rows() -> None:
    """FPR: fp 2 audited whole (weight 1), tn 40 of 400 cleared negatives sampled at weight 10 -> value
    2 / 402. u = w (y - R x) / 402 is 0 in the certainty stratum; in the weight-10 stratum (40 tn and,
    as zeros, 10 fn) its variance with the correction 1 - 1/10 sets the effective n above the 42
    audited negatives."""
    table = [("a", 1, 0, 1.0, 2), ("a", 0, 0, 10.0, 40), ("a", 0, 1, 10.0, 10), ("a", 0, -1, 0.0, 450)]
    value, _, _, effective = _estimate(table, "fpr")
    ratio = 2 / 402
    u = np.r_[np.full(40, 10 * (0 - ratio) / 402), np.zeros(10)]
    variance = (1 - 1 / 10) * u.size / (u.size - 1) * ((u - u.mean()) ** 2).sum()
    assert value == pytest.approx(ratio, rel=1e-12)
    assert effective == pytest.approx(ratio * (1 - ratio) / variance, rel=1e-9)
    assert effective > 42


def test_a_group_none_audited_says_so() -> None:
    frame = pd.DataFrame(
        {
            "grp": ["a"] * 30 + ["b"] * 12,
            "flag": [1, 0] * 15 + [1, 0] * 6,
            "truth": pd.array([1, 0, 0] * 10 + [None] * 12, dtype="Int64"),
            "w": [2.0] * 30 + [None] * 12,
        }
    )
    result = audit_decisions(frame, flag="flag", truth="truth", weight="w", groups=["grp"], min_cell=1)
    fpr = result.select(metric="fpr", group="b", attribute="grp", stage="decision")[0]
    assert fpr["value"] is None
    assert "none audited" in fpr["warning"] and "no negatives" not in fpr["warning"]
