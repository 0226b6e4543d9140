"""The LP attacker of test_biometrics_lp_attack_thresholds.py on thresholds the audit finds for a target
FMR (`--target-fmr`), over all impostor pairs and over one group's (`--threshold-group X`, NIST's
reference-group method), which that file's designs do not use.

Scores are 0.1, 0.6 and 0.9 by band, so a found threshold in (0.1, 0.6] splits the comparisons as the
given 0.5 does and one in (0.6, 0.9] as 0.7 does: the reader reads the found threshold from the
metadata, places it, and takes every published count and rate x denominator as equations. The value of
the threshold itself (an order statistic of the impostor scores) is outside this reader, as
docs/biometrics.md ("Not modelled") says."""

from __future__ import annotations

from typing import Any

from misflag.errors import InputError
from tests.biometrics._attacker import audit_scores, with_overall_n
from tests.biometrics.test_biometrics_lp_attack_thresholds import (
    MIN_CELL,
    STATES,
    Cells,
    pinned,
    random_cells,
)

BAND_SCORES = (0.1, 0.6, 0.9)


def audit(
    cells: Cells, target: float, threshold_group: str | None, min_cell: int = MIN_CELL
) -> list[dict[str, Any]] | None:
    """The rows with the found threshold's stage as the index of the given threshold it acts as (None
    where it matches every comparison or none)."""
    scores = [
        (BAND_SCORES[band], genuine, ga, gb)
        for (ga, gb), counts in cells.items()
        for (genuine, band), count in zip(STATES, counts, strict=True)
        for _ in range(count)
    ]
    result = audit_scores(scores, target_fmr=[target], threshold_group=threshold_group, min_cell=min_cell)
    (point,) = result.metadata["operating_points"]
    if not BAND_SCORES[0] < point["threshold"] <= BAND_SCORES[2]:
        return None
    stage = 0 if point["threshold"] <= BAND_SCORES[1] else 1
    rows = [
        r | {"stage": stage if r["stage"] == point["stage"] else r["stage"]} for r in result.table.to_pylist()
    ]
    return with_overall_n(result, rows)


def test_no_withheld_count_is_pinned_at_found_thresholds() -> None:
    audited, exposed = 0, []
    for seed in range(8):
        cells = random_cells(seed)
        for target in (0.05, 0.2, 0.4):
            for group in (None, "X"):
                try:
                    rows = audit(cells, target, group)
                except InputError:  # e.g. a threshold group without impostor pairs
                    continue
                if rows is None:
                    continue
                audited += 1
                exposed += [(seed, target, group, found) for found in pinned(cells, rows)]
    assert audited >= 20  # not vacuous: 27 of the 48 designs place their threshold between two bands
    assert not exposed


def test_naive_rule_is_broken_at_a_found_threshold() -> None:
    """The control: seed 0's rows at the threshold found for FMR 0.4, with only groups and cells under
    min_cell withheld, are pinned by the same reader."""
    rows = audit(random_cells(0), 0.4, None, min_cell=1)
    assert rows is not None
    small = {(r["attribute"], r["group"]) for r in rows if r["metric"] == "n" and r["value"] < MIN_CELL}
    assert pinned(random_cells(0), [dict(r, suppressed=(r["attribute"], r["group"]) in small) for r in rows])
