"""Every grouping's estimates at once (`_metrics.StackedSums`) and every grouping's comparisons at once
(`_rows.compare`) give, bit for bit, what one grouping at a time gives (`GroupSums`, a scalar reference:
how the audit computed them before), and the figures are those counted by hand with Python loops, with
Wilson limits from statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from misflag.decisions._cells import Cells
from misflag.decisions._metrics import (
    RATE_METRICS,
    TRANSITION_METRICS,
    GroupSums,
    StackedSums,
    stage_masks,
    transition_masks,
)
from misflag.decisions._rows import compare
from misflag.stats import mover_difference, mover_ratio


def _cells(seed: int) -> tuple[Cells, list[np.ndarray], list[int]]:
    """Random cells (two stages, unknown truths, empty cells) and four groupings, one of them with a group
    no cell belongs to (no rows: every rate undefined)."""
    rng = np.random.default_rng(seed)
    size = 60
    cells = Cells(
        keys=(np.array(["k"] * size, dtype=object),),
        flags=rng.integers(0, 2, (size, 2)),
        truth=rng.choice([-1, 0, 1], size, p=[0.1, 0.5, 0.4]),
        weight=np.ones(size),
        count=rng.integers(0, 40, size) * (rng.random(size) > 0.1),
    )
    sizes = [1, 3, 7, 5]
    indexes = [np.zeros(size, dtype=np.int64), rng.integers(0, 3, size), rng.integers(0, 7, size)]
    indexes.append(rng.integers(0, 4, size))  # group 4 of the last grouping holds no cell
    return cells, indexes, sizes


def _masks(cells: Cells) -> list[tuple[dict[str, tuple[tuple[str, ...], tuple[str, ...], bool]], dict]]:
    return [
        (RATE_METRICS, stage_masks(cells, 0)),
        (RATE_METRICS, stage_masks(cells, 1)),
        (TRANSITION_METRICS, transition_masks(cells, 0, 1)),
    ]


def _same_bits(left: np.ndarray, right: np.ndarray) -> bool:
    return left.dtype == right.dtype and left.tobytes() == right.tobytes()


@pytest.mark.parametrize("seed", range(6))
def test_stacked_estimates_equal_one_grouping_at_a_time_bit_for_bit(seed: int) -> None:
    cells, indexes, sizes = _cells(seed)
    stacked = StackedSums(cells, indexes, sizes)
    alone = [GroupSums(cells, index, groups) for index, groups in zip(indexes, sizes, strict=True)]
    for stacked_rows, one in zip(stacked.rows(), alone, strict=True):
        assert _same_bits(stacked_rows, one.rows())
    for metrics, masks in _masks(cells):
        for definition in metrics.values():
            for together, one in zip(stacked.estimate(definition, masks), alone, strict=True):
                single = one.estimate(definition, masks)
                for field in ("value", "low", "high", "denominator", "effective"):
                    assert _same_bits(getattr(together, field), getattr(single, field)), field
                assert together.method == single.method == "wilson"


@pytest.mark.parametrize("seed", range(3))
def test_stacked_estimates_are_the_hand_counts(seed: int) -> None:
    """Numerator and denominator counted row by row in Python; Wilson limits from statsmodels."""
    cells, indexes, sizes = _cells(seed)
    stacked = StackedSums(cells, indexes, sizes)
    flagged, truth, count = cells.flags[:, 0].tolist(), cells.truth.tolist(), cells.count.tolist()
    fpr = stacked.estimate(RATE_METRICS["fpr"], stage_masks(cells, 0))
    for index, groups, estimate in zip(indexes, sizes, fpr, strict=True):
        for group in range(groups):
            members = [c for c in range(len(count)) if index[c] == group and truth[c] == 0]
            negatives = sum(count[c] for c in members)
            false_flags = sum(count[c] for c in members if flagged[c] == 1)
            assert estimate.denominator[group] == negatives
            if negatives == 0:
                assert np.isnan(estimate.value[group]) and np.isnan(estimate.low[group])
                continue
            low, high = proportion_confint(false_flags, negatives, alpha=0.05, method="wilson")
            assert estimate.value[group] == pytest.approx(false_flags / negatives, abs=1e-15)
            assert estimate.low[group] == pytest.approx(low, abs=1e-12)
            assert estimate.high[group] == pytest.approx(high, abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_comparisons_together_equal_each_grouping_against_its_scalar_reference(seed: int) -> None:
    cells, indexes, sizes = _cells(seed)
    masks = stage_masks(cells, 0)
    for metric in ("fpr", "fnr", "precision", "selection_rate"):
        estimates = StackedSums(cells, indexes, sizes).estimate(RATE_METRICS[metric], masks)
        references = [None, 2, 0, 1]
        together = compare(estimates, references)
        assert together[0] is None
        for estimate, ref, compared in zip(estimates[1:], references[1:], together[1:], strict=True):
            assert compared is not None and ref is not None
            v, lo, hi = estimate.value, estimate.low, estimate.high
            with np.errstate(all="ignore"):
                expected = (
                    v / v[ref],
                    *mover_ratio(v, lo, hi, v[ref], lo[ref], hi[ref]),
                    v - v[ref],
                    *mover_difference(v, lo, hi, v[ref], lo[ref], hi[ref]),
                )
            got = (
                compared.ratio,
                compared.ratio_low,
                compared.ratio_high,
                compared.diff,
                compared.diff_low,
                compared.diff_high,
            )
            for left, right in zip(got, expected, strict=True):
                assert _same_bits(left, right)
            if estimate.denominator[ref] > 0 and v[ref] > 0:
                assert compared.ratio[ref] == 1.0 and compared.diff[ref] == 0.0
