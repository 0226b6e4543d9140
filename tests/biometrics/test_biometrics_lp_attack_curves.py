"""The LP attacker with the report's threshold curves: FMR and FNMR of the overall row and every shown
group at every histogram bin edge (`extras["threshold_curves"]`, drawn by `misflag report`, written
into the saved bundle). The audit does not model them (docs/biometrics.md, "Not modelled"): they give
the withheld groups' joint false matches and misses at every edge. This reader checks that they give
no withheld count back.

The random tables of `test_biometrics_lp_attack_thresholds.py` are audited at its two thresholds, but
each comparison's score is spread over several values inside its band (three to four per band), so the
curves have points between the thresholds. The reader's unknowns are whole counts per cell, genuine
flag and score value; its equations are every published count and rate x denominator of the rows and,
from the curves, each shown group's impostor pairs at or above (distances: at or below) each curve
threshold and its genuine pairs likewise (FMR x impostors, genuines less FNMR x genuines). Each
sensitive withheld count's least and most come from scipy's `milp` (presolve off, solutions checked);
the truth is checked to satisfy every equation, so a misread curve fails the test rather than passing it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.optimize import LinearConstraint

from tests.biometrics._attacker import audit_scores, indexed_rows, narrowed, published
from tests.biometrics.test_biometrics_lp_attack import members
from tests.biometrics.test_biometrics_lp_attack_thresholds import MIN_CELL, STATES, Cells, random_cells

#: Similarity scores per band (matching neither threshold, the first (0.5) only, both (0.7)), chosen
#: away from the histogram's edges; distances are 1 - these (thresholds 0.5 and 0.3)
LEVELS = ((0.1137, 0.2291, 0.3373, 0.4419), (0.5311, 0.6173), (0.7431, 0.8219, 0.9127))
VALUES = [(band, value) for band, values in enumerate(LEVELS) for value in values]
MODES = {"similarity": ((0.5, 0.7), False), "distance": ((0.5, 0.3), True)}


def audit(cells: Cells, distance: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]], np.ndarray]:
    """Rows (stages as threshold indexes, rows_audited as the overall `n`), curve points, and the true
    count per (cell, genuine, value) column."""
    thresholds, _ = MODES["distance" if distance else "similarity"]
    truth = np.zeros((len(cells), 2, len(VALUES)))
    scores = []
    for c, ((ga, gb), counts) in enumerate(cells.items()):
        for (genuine, band), count in zip(STATES, counts, strict=True):
            for i in range(count):
                v = VALUES.index((band, LEVELS[band][i % len(LEVELS[band])]))
                truth[c, genuine, v] += 1
                score = VALUES[v][1]
                scores.append((1 - score if distance else score, genuine, ga, gb))
    result = audit_scores(scores, threshold=list(thresholds), min_cell=MIN_CELL, distance=distance)
    rows = indexed_rows(result)
    return rows, result.extras["threshold_curves"].to_pylist(), truth.ravel()


def model(cells: Cells, distance: bool, with_curves: bool) -> tuple[Any, ...]:
    """The reader's equations (matrix, values), the withheld figures it seeks, its at-least-one rows and
    the true counts."""
    rows, curves, truth = audit(cells, distance)
    columns = [(cell, genuine, v) for cell in cells for genuine in (0, 1) for v in range(len(VALUES))]

    def vector(attribute: str, group: str, wanted: Any) -> np.ndarray:
        inside = members(attribute, group)
        return np.array([float(inside(cell) and wanted(genuine, v)) for cell, genuine, v in columns])

    def counted(metric: str, stage: Any) -> Any:
        band = lambda v: VALUES[v][0]  # noqa: E731
        return {
            "n": lambda g, v: True,
            "impostor_n": lambda g, v: g == 0,
            "genuine_n": lambda g, v: g == 1,
            "fmr": lambda g, v: g == 0 and band(v) > stage,
            "fnmr": lambda g, v: g == 1 and band(v) <= stage,
        }[metric]

    equations, values, targets = published(
        rows,
        lambda row: vector(row["attribute"], row["group"], counted(row["metric"], row["stage"])),
        lambda row: vector(
            row["attribute"], row["group"], lambda g, v, k=int(row["metric"] == "fnmr"): g == k
        ),
    )
    for point in curves if with_curves else []:
        # the values at which a comparison matches at this curve threshold
        matches = [
            1 - value <= point["threshold"] if distance else value >= point["threshold"]
            for _, value in VALUES
        ]
        attribute, group = point["attribute"], point["group"]
        equations.append(vector(attribute, group, lambda g, v, m=matches: g == 0 and m[v]))
        values.append(round(point["fmr"] * point["impostors"]))
        equations.append(vector(attribute, group, lambda g, v, m=matches: g == 1 and m[v]))
        values.append(round(point["genuines"] - point["fnmr"] * point["genuines"]))
    listed = [vector("ga × gb", f"{a} × {b}", lambda g, v: True) for a, b in cells]
    for attribute, group in {
        (r["attribute"], r["group"]) for r in rows if r["attribute"] in ("overall", "ga")
    }:
        listed += [vector(attribute, group, lambda g, v, k=y: g == k) for y in (0, 1)]
    matrix = np.array(equations)
    assert np.array_equal(matrix @ truth, np.array(values, dtype=float))  # the reader's model holds the data
    return matrix, values, targets, np.array(listed), truth


def exposed(cells: Cells, distance: bool, with_curves: bool) -> list[tuple[Any, ...]]:
    """Sensitive withheld figures the reader narrows below the goal."""
    matrix, values, targets, listed, truth = model(cells, distance, with_curves)
    constraints = [LinearConstraint(listed, 1, np.inf), LinearConstraint(matrix, values, values)]
    return narrowed(targets, constraints, truth, MIN_CELL)


#: Groups Y and Z shown (curves drawn), X withheld for thin rates (8 impostor, 5 genuine pairs), W
#: withheld further so that X's counts are not the overall row less the shown groups
LARGE, ACROSS = (20, 8, 6, 4, 8, 14), (15, 5, 3, 0, 0, 0)
SHOWN_GROUPS: Cells = {
    ("X", "X"): (2, 1, 1, 1, 2, 2),
    ("X", "Y"): (2, 1, 1, 0, 0, 0),
    **{(g, g): LARGE for g in "YZW"},
    **{cell: ACROSS for cell in (("Y", "Z"), ("Z", "Y"), ("W", "Y"))},
}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("seed", [*range(8), "shown groups"])
def test_the_curves_give_no_withheld_count_back(seed: int | str, mode: str) -> None:
    cells = SHOWN_GROUPS if seed == "shown groups" else random_cells(int(seed))
    assert not exposed(cells, MODES[mode][1], with_curves=True)


@pytest.mark.parametrize("mode", list(MODES))
def test_the_curves_tell_the_reader_more(mode: str) -> None:
    """The adversary is not idle: the shown groups' curves step between the operating thresholds and
    add independent equations (the reader learns the counts at each score value, not only per band)."""
    distance = MODES[mode][1]
    _, curves, _ = audit(SHOWN_GROUPS, distance)
    assert {(p["attribute"], p["group"]) for p in curves} == {("overall", "all"), ("ga", "Y"), ("ga", "Z")}
    between = sorted({p["threshold"] for p in curves if p["attribute"] == "ga"})
    assert len([t for t in between if min(MODES[mode][0]) < t < max(MODES[mode][0])]) >= 1
    rank = [np.linalg.matrix_rank(model(SHOWN_GROUPS, distance, curves)[0]) for curves in (False, True)]
    assert rank[1] > rank[0]
