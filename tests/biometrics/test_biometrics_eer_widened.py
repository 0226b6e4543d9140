"""No EER interval is zero-width. Where every impostor sits at the top score (or the two score sets are
perfectly separated) every bootstrap redraw finds the same EER, and the basic bootstrap interval was
[EER, EER]; the limits are then the hull with the Wilson interval of the EER as a rate on the smaller pair
count, and the row says so. The adversary: statsmodels' Wilson interval and the closed form z^2/(n + z^2),
and hypothesis over small histograms, degenerate ones included.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from misflag.biometrics import audit_biometrics
from misflag.biometrics._eer import binned_eer, eer_interval

Z2 = 1.959963984540054**2


def _eer_row(impostors: dict[float, int], genuines: dict[float, int]) -> dict[str, Any]:
    scores = [s for s, n in impostors.items() for _ in range(n)] + [
        s for s, n in genuines.items() for _ in range(n)
    ]
    flags = [0] * sum(impostors.values()) + [1] * sum(genuines.values())
    log = pd.DataFrame({"score": scores, "genuine": flags})
    rows = audit_biometrics(log, score="score", genuine="genuine", threshold=2.0).select(
        metric="eer", group="all"
    )
    assert len(rows) == 1
    return rows[0]


def test_impostors_all_at_the_top_score_get_the_wilson_interval_of_one_half() -> None:
    # Impostors 20 at 3; genuines 10 at 1, 10 at 3: EER 0.5 (test_biometrics_eer_no_crossing), and every
    # redraw keeps the impostors at 3, so every redraw's EER is 0.5. Wilson of 10 / 20.
    row = _eer_row({3.0: 20}, {1.0: 10, 3.0: 10})
    low, high = proportion_confint(10, 20, alpha=0.05, method="wilson")
    assert row["value"] == 0.5 and row["denominator"] == 20
    assert row["ci_low"] == pytest.approx(low, abs=1e-12) and row["ci_high"] == pytest.approx(high, abs=1e-12)
    assert row["ci_high"] - row["ci_low"] > 0.4
    assert "every bootstrap draw gave this EER" in row["warning"]


def test_perfect_separation_gets_wilsons_limit_at_zero() -> None:
    # Impostors 30 at 1, genuines 25 at 3: EER 0 on every redraw; Wilson at 0 of 25: [0, z^2 / (25 + z^2)].
    row = _eer_row({1.0: 30}, {3.0: 25})
    assert row["value"] == 0.0 and row["ci_low"] == 0.0
    assert row["ci_high"] == pytest.approx(Z2 / (25 + Z2), rel=1e-12)


def test_an_ordinary_matcher_keeps_its_bootstrap_interval_and_note() -> None:
    rng = np.random.default_rng(3)
    impostors = dict(zip(*np.unique(np.round(rng.normal(0, 1, 300), 1), return_counts=True), strict=True))
    genuines = dict(zip(*np.unique(np.round(rng.normal(2, 1, 300), 1), return_counts=True), strict=True))
    row = _eer_row(impostors, genuines)
    assert "every bootstrap draw" not in row["warning"]
    assert 0 < row["ci_high"] - row["ci_low"] < 0.15


@given(
    impostors=st.lists(st.integers(0, 15), min_size=1, max_size=5),
    genuines=st.lists(st.integers(0, 15), min_size=1, max_size=5),
    top=st.booleans(),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=150, deadline=None)
def test_no_eer_interval_is_zero_width(
    impostors: list[int], genuines: list[int], top: bool, seed: int
) -> None:
    """Histograms on a shared bin grid; `top` moves every impostor into the top bin (the degenerate case)."""
    bins = max(len(impostors), len(genuines))
    counts_i = np.zeros(bins)
    counts_g = np.zeros(bins)
    counts_i[: len(impostors)] = impostors
    counts_g[: len(genuines)] = genuines
    if top:
        counts_i = np.eye(bins)[-1] * counts_i.sum()
    if counts_i.sum() == 0 or counts_g.sum() == 0:
        return
    value = float(binned_eer(counts_i[None, :], counts_g[None, :])[0])
    low, high, _ = eer_interval(value, counts_i, counts_g, seed)
    assert 0.0 <= low < high <= 1.0
    assert low <= value <= high
    assert not math.isnan(low)
