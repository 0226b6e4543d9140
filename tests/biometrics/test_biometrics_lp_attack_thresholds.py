"""The LP attacker with several operating thresholds: the audit's model splits each key's comparisons
into score bands between thresholds; this reader writes its own, per cell, genuine flag and band.

Random cross tables (the sweep of docs/biometrics.md, "Suppression") are audited at two given thresholds
and with scores in three bands, as similarity scores, as distances (`--distance`: lower matches) and as
a search log (`--search`: FPIR and FNIR over non-mated and mated searches, every search returning a
candidate); the reader takes every published count and every rate at either
threshold times its published denominator as equations, and looks for a sensitive withheld count
(1 to min_cell - 1) narrower than ceil(min_cell / 2) that does not reach 0. A control publishes the same
rows under the naive rule and is broken by the same reader.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.optimize import LinearConstraint

from tests.biometrics._attacker import audit_scores, indexed_rows, narrowed, published
from tests.biometrics.test_biometrics_lp_attack import members

MIN_CELL = 10
#: per mode: the two thresholds, the score of each band (matching neither, the first only, both), options
MODES: dict[str, tuple[tuple[float, float], tuple[float, float, float], dict[str, bool]]] = {
    "similarity": ((0.5, 0.7), (0.1, 0.6, 0.9), {}),
    "distance": ((0.5, 0.3), (0.9, 0.4, 0.1), {"distance": True}),
    "search": ((0.5, 0.7), (0.1, 0.6, 0.9), {"search": True}),
}
#: a search log's names for the verification audit's figures
SEARCH_NAMES = {"fpir": "fmr", "fnir": "fnmr", "nonmated_n": "impostor_n", "mated_n": "genuine_n"}
#: (genuine, band) per state
STATES = tuple((genuine, band) for genuine in (0, 1) for band in range(3))

Cells = dict[tuple[str, str], tuple[int, ...]]  # (ga, gb) -> a count per state


def random_cells(seed: int) -> Cells:
    """A 2 x 2 or 3 x 3 table of small cells; genuine pairs only on the diagonal."""
    rng = np.random.default_rng(seed)
    labels = "XYZ"[: int(rng.integers(2, 4))]
    cells = {}
    for a in labels:
        for b in labels:
            size = int(rng.choice([1, 2, 3, 5, 8, 15, 30, 60]))
            genuine = max(1, size // 4) if a == b else 0
            impostor = rng.multinomial(max(1, size - genuine), [0.5, 0.3, 0.2])
            cells[(a, b)] = (*impostor, *rng.multinomial(genuine, [0.2, 0.3, 0.5]))
    return cells


def audit(cells: Cells, min_cell: int, mode: str = "similarity") -> list[dict[str, Any]]:
    """The long table's rows, figures under the verification audit's names and stages as the index of
    their threshold; rows_audited as the overall row's `n` when published."""
    thresholds, band_scores, options = MODES[mode]
    rows = [
        (band_scores[band], genuine, ga, gb)
        for (ga, gb), counts in cells.items()
        for (genuine, band), count in zip(STATES, counts, strict=True)
        for _ in range(count)
    ]
    result = audit_scores(rows, threshold=list(thresholds), min_cell=min_cell, **options)
    return indexed_rows(result, SEARCH_NAMES)


def counted(metric: str, stage: int | str) -> set[tuple[int, int]]:
    """The states a figure counts: kind counts, false matches at or above a threshold, misses below it."""
    if metric == "n":
        return set(STATES)
    if metric in ("impostor_n", "genuine_n"):
        return {s for s in STATES if s[0] == (metric == "genuine_n")}
    assert isinstance(stage, int)
    j = stage
    if metric == "fmr":
        return {s for s in STATES if s[0] == 0 and s[1] > j}
    return {s for s in STATES if s[0] == 1 and s[1] <= j}


def denominator(metric: str) -> set[tuple[int, int]]:
    return {s for s in STATES if s[0] == (metric == "fnmr")}


def pinned(cells: Cells, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Sensitive withheld figures the reader narrows below the goal (the truth checked inside each range)."""
    columns = [(cell, state) for cell in cells for state in STATES]
    truth = np.array([float(count) for counts in cells.values() for count in counts])

    def vector(attribute: str, group: str, states: set[tuple[int, int]]) -> np.ndarray:
        inside = members(attribute, group)
        return np.array([float(inside(cell) and state in states) for cell, state in columns])

    equations, values, targets = published(
        rows,
        lambda row: vector(row["attribute"], row["group"], counted(row["metric"], row["stage"])),
        lambda row: vector(row["attribute"], row["group"], denominator(row["metric"])),
    )
    listed = [np.array([float(cell == c) for c, _ in columns]) for cell in cells]
    for attribute, group in {
        (r["attribute"], r["group"]) for r in rows if r["attribute"] in ("overall", "ga")
    }:
        listed += [vector(attribute, group, {s for s in STATES if s[0] == y}) for y in (0, 1)]
    constraints = [LinearConstraint(np.array(listed), 1, np.inf)]
    if equations:
        constraints.append(LinearConstraint(np.array(equations), values, values))
    return narrowed(targets, constraints, truth, MIN_CELL)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("seed", range(8))
def test_no_withheld_count_is_pinned_at_two_thresholds(seed: int, mode: str) -> None:
    cells = random_cells(seed)
    rows = audit(cells, MIN_CELL, mode)
    assert any(r["suppressed"] for r in rows)
    assert not pinned(cells, rows)


def test_naive_rule_is_broken_at_two_thresholds() -> None:
    """The same reader against the rows of seed 0 with only groups and cells under min_cell withheld."""
    cells = random_cells(0)
    rows = audit(cells, 1)
    small = {(r["attribute"], r["group"]) for r in rows if r["metric"] == "n" and r["value"] < MIN_CELL}
    naive = [dict(r, suppressed=(r["attribute"], r["group"]) in small) for r in rows]
    assert pinned(cells, naive)
