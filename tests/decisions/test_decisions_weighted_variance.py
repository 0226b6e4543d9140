"""The weighted effective sample size, against numbers worked by hand and a row-by-row second formula:
1 / n = 1 / (weighted denominator) (the process's binomial variance of the log's rate) + design variance /
p(1 - p) (the stratified, by weight, sampling variance of estimating it). The strata and (group, stratum)
sums are cached per cell table and grouping, so every metric and grouping of one audit must still get its
own, independent answer."""

from __future__ import annotations

import numpy as np
import pytest

from misflag.decisions._cells import Cells
from misflag.decisions._metrics import RATE_METRICS, GroupSums, stage_masks

# (group, flag, truth, weight, count); truth -1 / weight 0: outside the audit sample
HAND_TABLE = [
    ("a", 1, 0, 2.0, 1),
    ("a", 0, 0, 2.0, 1),
    ("b", 0, 0, 2.0, 1),
    ("a", 1, 0, 4.0, 1),
    ("a", 0, 0, 4.0, 1),
]


def _cells(table: list[tuple[str, int, int, float, int]]) -> Cells:
    groups, flags, truth, weight, count = zip(*table, strict=True)
    return Cells(
        keys=(np.array(groups, dtype=object),),
        flags=np.array(flags, dtype=np.int8)[:, None],
        truth=np.array(truth, dtype=np.int8),
        weight=np.array(weight, dtype=float),
        count=np.array(count, dtype=np.int64),
    )


def _by_group(cells: Cells) -> GroupSums:
    labels = sorted(set(cells.keys[0].tolist()))
    index = np.array([labels.index(v) for v in cells.keys[0]], dtype=np.int64)
    return GroupSums(cells, index, len(labels), design=True)


def test_effective_n_worked_by_hand() -> None:
    """Group a's FPR: R = 6/12 = 1/2, u = w (y - R) / 12 per audited row (0 for b's row).

    Stratum w=2 (3 rows): u = 1/12, -1/12, 0 -> 3/2 * 2/144 = 1/48, times 1 - 1/2 -> 1/96.
    Stratum w=4 (2 rows): u = 1/6, -1/6 -> 2 * 2/36 = 1/9, times 1 - 1/4 -> 1/12.
    Variance 1/96 + 1/12 = 3/32, sampling n = (1/4) / (3/32) = 8/3; with the process's 1/12 (12 weighted
    negatives), effective n = 1 / (1/12 + 3/8) = 24/11.
    Overall, on the same cached strata: R = 6/14 = 3/7, u = w (y - 3/7) / 14.
    Stratum w=2: u = 4/49, -3/49, -3/49 -> 3/2 * (34/2401 - 4/7203) = 1/49, times 1/2 -> 1/98.
    Stratum w=4: u = 8/49, -6/49 -> 2 * (100/2401 - 2/2401) = 4/49, times 3/4 -> 3/49.
    Variance 1/98 + 6/98 = 1/14, sampling n = (12/49) / (1/14) = 24/7; effective n = 1 / (1/14 + 7/24)
    = 168/61.
    """
    cells = _cells(HAND_TABLE)
    masks = stage_masks(cells, 0)
    fpr = _by_group(cells).estimate(RATE_METRICS["fpr"], masks)
    assert fpr.value[0] == pytest.approx(1 / 2, rel=1e-15)
    assert fpr.effective[0] == pytest.approx(24 / 11, rel=1e-12)
    assert fpr.denominator.tolist() == [4.0, 1.0]
    assert fpr.method == "wilson-design"
    overall = GroupSums(cells, np.zeros(len(HAND_TABLE), dtype=np.int64), 1, design=True)
    total = overall.estimate(RATE_METRICS["fpr"], masks)
    assert total.value[0] == pytest.approx(3 / 7, rel=1e-15)
    assert total.effective[0] == pytest.approx(168 / 61, rel=1e-12)


def _row_level_effective(rows: list[tuple[str, int, int, float]], in_group: str | None, metric: str) -> float:
    """Second formula, one row at a time: Hajek ratio, linearised u, per-stratum variance with the
    finite-population correction (a stratum of one audited row contributes u^2); the sampling n
    p(1-p)/variance, combined with the process's n (the weighted denominator) as 1 / (1/n1 + 1/n2)."""
    audited = [r for r in rows if r[2] >= 0]
    member = [in_group is None or r[0] == in_group for r in audited]
    denominator = {
        "fpr": lambda r: r[2] == 0,
        "fnr": lambda r: r[2] == 1,
        "precision": lambda r: r[1] == 1,
        "accuracy": lambda r: True,
    }[metric]
    numerator = {
        "fpr": lambda r: r[2] == 0 and r[1] == 1,
        "fnr": lambda r: r[2] == 1 and r[1] == 0,
        "precision": lambda r: r[1] == 1 and r[2] == 1,
        "accuracy": lambda r: r[1] == r[2],
    }[metric]
    x = [float(m and denominator(r)) for r, m in zip(audited, member, strict=True)]
    y = [float(m and numerator(r)) for r, m in zip(audited, member, strict=True)]
    total = sum(r[3] * xi for r, xi in zip(audited, x, strict=True))
    ratio = sum(r[3] * yi for r, yi in zip(audited, y, strict=True)) / total
    u = [r[3] * (yi - ratio * xi) / total for r, xi, yi in zip(audited, x, y, strict=True)]
    variance = 0.0
    for h in sorted({r[3] for r in audited}):
        part = [ui for r, ui in zip(audited, u, strict=True) if r[3] == h]
        if len(part) == 1:
            spread = part[0] ** 2
        else:
            mean = sum(part) / len(part)
            spread = len(part) / (len(part) - 1) * sum((p - mean) ** 2 for p in part)
        variance += (1 - 1 / h) * spread
    sampling = ratio * (1 - ratio) / variance  # no cap at the audited rows: the design may imply more
    return 1 / (1 / total + 1 / sampling)


def test_every_metric_and_grouping_against_the_row_level_formula() -> None:
    """Counts above 1, a singleton stratum, a certainty stratum (weight 1) and rows outside the sample;
    all metrics computed on one cached grouping, then the overall grouping on the same cell table."""
    table = [
        ("a", 1, 0, 1.0, 3),
        ("a", 0, 1, 1.0, 2),
        ("b", 1, 1, 1.0, 1),
        ("a", 1, 0, 4.0, 2),
        ("a", 0, 0, 4.0, 3),
        ("a", 1, 1, 4.0, 1),
        ("a", 0, 1, 4.0, 1),
        ("b", 0, 0, 4.0, 2),
        ("b", 1, 0, 4.0, 1),
        ("b", 1, 1, 4.0, 2),
        ("b", 0, 1, 4.0, 1),
        ("a", 1, 0, 10.0, 1),
        ("b", 0, 0, 2.5, 1),
        ("b", 1, 1, 2.5, 1),
        ("a", 0, 0, 2.5, 2),
        ("a", 1, -1, 0.0, 5),
        ("b", 0, -1, 0.0, 4),
    ]
    rows = [(g, f, t, w) for g, f, t, w, n in table for _ in range(n)]
    cells = _cells(table)
    masks = stage_masks(cells, 0)
    grouped = _by_group(cells)
    overall = GroupSums(cells, np.zeros(len(table), dtype=np.int64), 1, design=True)
    for metric in ("fpr", "fnr", "precision", "accuracy"):
        estimate = grouped.estimate(RATE_METRICS[metric], masks)
        assert estimate.value.min() > 0 and estimate.value.max() < 1, metric  # the design formula applies
        for g, label in enumerate(("a", "b")):
            assert estimate.effective[g] == pytest.approx(
                _row_level_effective(rows, label, metric), rel=1e-12
            )
    for metric in ("fpr", "fnr", "precision", "accuracy"):
        estimate = overall.estimate(RATE_METRICS[metric], masks)
        assert estimate.effective[0] == pytest.approx(_row_level_effective(rows, None, metric), rel=1e-12)


def test_cached_sums_do_not_leak_between_metrics() -> None:
    """One grouping asked for every metric in turn gives exactly what a fresh grouping gives for each."""
    rng = np.random.default_rng(5)
    size = 400
    weight = rng.choice([1.0, 3.0, 7.5], size) + np.arange(size) % 3 * 1e-9  # some strata of one cell
    truth = np.where(rng.random(size) < 0.2, -1, rng.integers(0, 2, size))
    groups, flags, counts = rng.integers(0, 3, size), rng.integers(0, 2, size), rng.integers(1, 4, size)
    table = [
        (str(g), int(f), int(t), 0.0 if t < 0 else float(w), int(n))
        for g, f, t, w, n in zip(groups, flags, truth, weight, counts, strict=True)
    ]
    cells = _cells(table)
    masks = stage_masks(cells, 0)
    shared = _by_group(cells)
    for definition in RATE_METRICS.values():
        fresh = _by_group(_cells(table)).estimate(definition, masks)
        cached = shared.estimate(definition, masks)
        np.testing.assert_array_equal(cached.effective, fresh.effective)
        np.testing.assert_array_equal(cached.value, fresh.value)
