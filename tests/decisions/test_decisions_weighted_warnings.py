"""Weighted (audit-sample) rows whose design is outside the coverage claim say so (decisions._weights_trust):
a sampled stratum (a weight other than 1) of a single audited row, and sampled strata holding flagged and
cleared rows alike. Checked on hand-built cell tables (which strata a group holds is read off the table),
on the adversary's designs of 2026-12-07 (every interval of the four breaks warned, none of the two inside
the claim nor of the documented coverage table's), and end to end on a CSV through `audit_decisions`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from misflag.decisions import audit_decisions
from misflag.decisions._cells import Cells
from misflag.decisions._metrics import RATE_METRICS, GroupSums, stage_masks
from misflag.decisions._weights_trust import MIXED_NOTE, ONE_ROW_NOTE
from tests.decisions._weight_benchmark import weight_benchmark

TRUST = "cannot be trusted to cover"


def _notes(table: list[tuple[str, int, int, float, int]], metric: str) -> tuple[str | None, ...]:
    """Per group (a, b), the design note of one weighted rate of a (group, flag, truth, weight, rows) table."""
    groups, flags, truth, weight, count = zip(*table, strict=True)
    cells = Cells(
        keys=(np.array(groups, dtype=object),),
        flags=np.array(flags, dtype=np.int8)[:, None],
        truth=np.array(truth, dtype=np.int8),
        weight=np.array(weight, dtype=float),
        count=np.array(count, dtype=np.int64),
    )
    index = np.array([0 if g == "a" else 1 for g in groups], dtype=np.int64)
    estimate = GroupSums(cells, index, 2, design=True).estimate(RATE_METRICS[metric], stage_masks(cells, 0))
    return estimate.notes


# a: flagged all audited at weight 1 (tp 3, fp 2); the 10 cleared through one audited negative at weight 10.
# b: flagged 1/2 (weight 2, 2 audited of 4), cleared 1/5 (weight 5, 2 audited of 10): inside the claim.
ONE_ROW = [
    ("a", 1, 1, 1.0, 3),
    ("a", 1, 0, 1.0, 2),
    ("a", 0, 0, 10.0, 1),
    ("a", 0, -1, 0.0, 9),
    ("b", 1, 1, 2.0, 1),
    ("b", 1, 0, 2.0, 1),
    ("b", 1, -1, 0.0, 2),
    ("b", 0, 0, 5.0, 1),
    ("b", 0, 1, 5.0, 1),
    ("b", 0, -1, 0.0, 8),
]


def test_a_stratum_of_one_audited_row_warns_every_weighted_rate_of_its_group() -> None:
    """a's one audited cleared row is a negative, yet FNR is warned too: the 9 unaudited cleared may hold
    positives, and FNR rests on that row's stratum. Precision's denominator (the flagged) was audited whole
    at weight 1, yet it is warned as well: the warning is the group's, so it does not tell that the row is
    cleared (tests/security/test_weighted_warning_disclosure.py). b's strata hold 2 rows each, one flag
    each."""
    assert _notes(ONE_ROW, "fpr") == (ONE_ROW_NOTE, None)
    assert _notes(ONE_ROW, "fnr") == (ONE_ROW_NOTE, None)
    assert _notes(ONE_ROW, "precision") == (ONE_ROW_NOTE, None)
    # a second audited cleared row at the same weight makes the stratum two rows: no warning
    assert _notes([*ONE_ROW, ("a", 0, 1, 10.0, 1)], "fnr") == (None, None)


def test_strata_that_do_not_follow_the_flag_warn() -> None:
    """a's weight-2 stratum holds a flagged and a cleared audited row; b's weight-1 stratum is mixed too but
    audited whole (a certainty stratum adds no variance), and its weight-5 stratum is all cleared."""
    mixed = [
        ("a", 1, 0, 2.0, 2),
        ("a", 0, 0, 2.0, 3),
        ("a", 0, -1, 0.0, 5),
        ("b", 1, 1, 1.0, 2),
        ("b", 0, 0, 1.0, 2),
        ("b", 0, 1, 5.0, 2),
        ("b", 0, -1, 0.0, 8),
    ]
    assert _notes(mixed, "fpr") == (MIXED_NOTE, None)
    # a's flagged also through one audited row at weight 7: both notes, joined as row warnings are
    both = [*mixed, ("a", 1, 1, 7.0, 1), ("a", 1, -1, 0.0, 6)]
    assert _notes(both, "fpr") == (f"{ONE_ROW_NOTE}; {MIXED_NOTE}", None)
    assert TRUST in ONE_ROW_NOTE and TRUST in MIXED_NOTE


@pytest.mark.parametrize("metric", ["fpr", "fnr"])
def test_the_adversarys_designs_warn_and_the_claimed_ones_do_not(metric: str) -> None:
    """40 logs per design (seed 5): every interval of the four designs outside the claim is warned, none of
    the two inside it (strata follow the flag, two or more audited rows each)."""
    benchmark = weight_benchmark()
    for design, (sampler, outside) in benchmark.OTHER_DESIGNS.items():
        tally = benchmark.design_coverage(sampler, metric, 40, seed=5)
        assert tally.intervals >= 38, design
        assert tally.warned == (tally.intervals if outside else 0), (design, tally)


def test_the_documented_coverage_designs_are_never_warned() -> None:
    """The docs' coverage table's three designs (groups of 40 to 6,000, 20 logs, seed 3): no group's FPR,
    FNR or precision is warned."""
    benchmark = weight_benchmark()
    rng = np.random.default_rng(3)
    group = np.repeat(np.arange(len(benchmark.GROUP_SIZES)), benchmark.GROUP_SIZES)
    checked = 0
    for _ in range(20):
        truth = (rng.random(group.size) < 0.3).astype(np.int8)
        flag = (rng.random(group.size) < np.where(truth == 1, 0.7, 0.15)).astype(np.int8)
        for shares in benchmark.DESIGNS.values():
            cells, sums = benchmark._audit_sample(rng, group, flag, truth, shares)
            for metric in ("fpr", "fnr", "precision"):
                notes = sums.estimate(RATE_METRICS[metric], stage_masks(cells, 0)).notes
                assert notes == (None,) * len(benchmark.GROUP_SIZES), (shares, metric)
                checked += len(notes)
    assert checked == 20 * 3 * 3 * 5


def test_rows_carry_the_warning_end_to_end(tmp_path: Path) -> None:
    """A CSV audited by region (weights 2 and 5, flag-blind): every published FPR and FNR row and their
    ratios say the interval cannot be trusted; weighted by flag, or unweighted, no row does."""
    rng = np.random.default_rng(11)
    size = 2000
    truth = (rng.random(size) < 0.3).astype(int)
    flag = (rng.random(size) < np.where(truth == 1, 0.7, 0.15)).astype(int)
    region = rng.choice(["north", "south"], size)
    audited_region = rng.random(size) < np.where(region == "north", 0.5, 0.2)
    audited_flag = rng.random(size) < np.where(flag == 1, 0.5, 0.2)
    frame = pd.DataFrame(
        {
            "grp": rng.choice(["x", "y"], size),
            "flag": flag,
            "truth": truth,
            "by_region": np.where(audited_region, np.where(region == "north", 2.0, 5.0), np.nan),
            "by_flag": np.where(audited_flag, np.where(flag == 1, 2.0, 5.0), np.nan),
        }
    )
    path = tmp_path / "log.csv"
    frame.to_csv(path, index=False)

    def warned(weight: str | None) -> tuple[int, int]:
        column = "truth" if weight is None else f"CASE WHEN {weight} IS NOT NULL THEN truth END"
        result = audit_decisions(str(path), flag="flag", truth=column, groups=["grp"], weight=weight)
        rows = [
            r for r in result.rows() if r["metric"].startswith(("fpr", "fnr")) and r["ci_low"] is not None
        ]
        return sum(TRUST in (r["warning"] or "") for r in rows), len(rows)

    flagged, published = warned("by_region")
    assert published >= 6 and flagged == published
    assert warned("by_flag")[0] == 0
    assert warned(None)[0] == 0
