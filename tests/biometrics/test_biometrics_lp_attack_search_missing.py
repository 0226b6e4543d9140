"""The two-threshold LP attacker on search logs where searches return no candidate (a NULL score: never
a false positive, below every threshold; the audit's `(missing)` handling), which the search designs of
test_biometrics_lp_attack_thresholds.py do not hold. On its eight random tables, every non-mated search
in the lowest band (or every second one) has no candidate; the reader's model is unchanged (such a search
counts in `n` and the non-mated searches, and in no FPIR numerator), and no withheld count is narrowed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.biometrics._attacker import audit_scores, indexed_rows
from tests.biometrics.test_biometrics_lp_attack_thresholds import (
    MIN_CELL,
    MODES,
    SEARCH_NAMES,
    STATES,
    Cells,
    pinned,
    random_cells,
)


def audit(cells: Cells, every: int) -> list[dict[str, Any]]:
    """The search log's rows under the verification audit's names, stages as threshold indexes; every
    `every`-th non-mated search of the lowest band returned no candidate."""
    thresholds, band_scores, _ = MODES["search"]
    scores = [
        (None if band == 0 and genuine == 0 and i % every == 0 else band_scores[band], genuine, ga, gb)
        for (ga, gb), counts in cells.items()
        for (genuine, band), count in zip(STATES, counts, strict=True)
        for i in range(count)
    ]
    result = audit_scores(scores, threshold=list(thresholds), min_cell=MIN_CELL, search=True)
    return indexed_rows(result, SEARCH_NAMES)


@pytest.mark.parametrize("every", [1, 2], ids=["all", "every second"])
@pytest.mark.parametrize("seed", range(8))
def test_no_withheld_count_is_pinned_with_searches_without_a_candidate(seed: int, every: int) -> None:
    cells = random_cells(seed)
    rows = audit(cells, every)
    assert any(r["suppressed"] for r in rows)
    assert not pinned(cells, rows)
