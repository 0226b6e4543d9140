"""Weights near the float limit (1e200): no weight is squared, so nothing overflows and no RuntimeWarning
reaches stderr. Weights are population sizes (1 / inclusion probability), so scaling them is not neutral:
the process's binomial term 1 / (weighted denominator) shrinks with the scale. Past ~1e20 that term is
below double precision next to the sampling term (and the finite-population corrections are 1), so a 1e200
log must give the intervals of the same log at 1e20, and its effective n must be the sampling n worked by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from misflag.decisions import audit_decisions
from misflag.decisions._cells import Cells
from misflag.decisions._metrics import RATE_METRICS, GroupSums, stage_masks

HUGE = 1e200


def _log() -> pd.DataFrame:
    """60 rows, two groups, flagged rows audited at weight 2 and cleared at 5, ~30% outside the sample."""
    rng = np.random.default_rng(1)
    flag = rng.integers(0, 2, 60)
    audited = rng.random(60) < 0.7
    return pd.DataFrame(
        {
            "grp": rng.choice(["a", "b"], 60),
            "flag": flag,
            "truth": pd.array(np.where(audited, rng.integers(0, 2, 60), np.nan), dtype="Int64"),
            "w": np.where(audited, np.where(flag == 1, 2.0, 5.0), np.nan),
        }
    )


def _rows(frame: pd.DataFrame, scale: float) -> list[dict[str, object]]:
    return audit_decisions(
        frame.assign(w=frame["w"] * scale), flag="flag", truth="truth", groups=["grp"], weight="w", min_cell=1
    ).rows()


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_1e200_weight_log_gives_the_intervals_of_the_same_log_at_1e20() -> None:
    frame = _log()
    huge, large = _rows(frame, HUGE), _rows(frame, 1e20)
    assert [(r["metric"], r["group"]) for r in huge] == [(r["metric"], r["group"]) for r in large]
    published = 0
    for big, other in zip(huge, large, strict=True):
        for key in ("value", "ci_low", "ci_high"):
            if other[key] is None:
                assert big[key] is None, (big, other)
            else:
                assert big[key] == pytest.approx(other[key], rel=1e-12, abs=1e-15), (key, big, other)
                published += 1
    assert published > 100


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_effective_n_at_1e200_is_the_sampling_n_worked_by_hand() -> None:
    """test_decisions_weighted_variance's hand table (weights 2 and 4) times 1e200, whose strata are then
    sampled from populations ~1e200 times larger: the finite-population corrections 1 - 1/w become 1 and the
    process term 1 / (12e200) vanishes. Group a's FPR: stratum sums 1/48 and 1/9 (as there, before the fpc)
    -> variance 19/144, n = (1/4) / (19/144) = 36/19. Overall: 1/49 + 4/49 = 5/49 -> (12/49) / (5/49) = 12/5."""
    table = [("a", 1, 0, 2.0), ("a", 0, 0, 2.0), ("b", 0, 0, 2.0), ("a", 1, 0, 4.0), ("a", 0, 0, 4.0)]
    groups, flags, truth, weight = zip(*table, strict=True)
    cells = Cells(
        keys=(np.array(groups, dtype=object),),
        flags=np.array(flags, dtype=np.int8)[:, None],
        truth=np.array(truth, dtype=np.int8),
        weight=np.array(weight, dtype=float) * HUGE,
        count=np.ones(len(table), dtype=np.int64),
    )
    masks = stage_masks(cells, 0)
    by_group = GroupSums(cells, np.array([0, 0, 1, 0, 0]), 2, design=True).estimate(
        RATE_METRICS["fpr"], masks
    )
    overall = GroupSums(cells, np.zeros(5, dtype=np.int64), 1, design=True).estimate(
        RATE_METRICS["fpr"], masks
    )
    assert by_group.value[0] == pytest.approx(1 / 2, rel=1e-15)
    assert by_group.effective[0] == pytest.approx(36 / 19, rel=1e-12)
    assert overall.effective[0] == pytest.approx(12 / 5, rel=1e-12)
