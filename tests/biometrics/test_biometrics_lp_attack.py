"""The LP attacker on the biometrics audit's withheld groups (issue 21's goal applied to `misflag biometrics`).

A hand-built score file whose every count is chosen here: per cell of (probe's group, gallery's group),
impostor pairs that match at the threshold and that do not, genuine pairs matched and missed. It is
audited with `--group-a/--group-b` (the cross table and the same/different-group split of impostor
pairs) and, in the second design, `--group` set to the probe's group, as NIST's report cards do.

The reader's unknowns are those four counts per cell, whole and non-negative, with at least one
comparison in every listed cell. Every published count is an equation (`n`, `impostor_n`, `genuine_n`),
and every published rate times its published denominator is one (false matches, misses), over the cells
the row's attribute and group name: the overall row, a cross cell `a × b`, the same or different-group
pairs, and a group (the cells whose first sample is of it, read from the `--group` expression being the
same as `--group-a`'s, which the attribute names publish). Ratios, differences and summaries are over
published rates only, so they add nothing. HiGHS (scipy's `milp`) gives the least and most each withheld
count can hold; the goal (docs/disclosure.md) is an interval at least ceil(min_cell / 2) wide or
reaching 0. A control publishes the same output under the naive rule (only groups under min_cell
withheld) and the same reader pins them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from misflag._withheld import public_reason
from misflag.biometrics import audit_biometrics

MIN_CELL = 10
THRESHOLD = 0.5
STAGE = f"score>={THRESHOLD!r}"
STATES = ("impostor, no match", "false match", "genuine, matched", "miss")

Cells = dict[tuple[str, str], tuple[int, int, int, int]]  # (ga, gb) -> counts of STATES

#: Same-group pairs (8 comparisons) are under min_cell, the different-group cells are all large.
SMALL_SAME: Cells = {
    ("X", "X"): (2, 1, 1, 1),
    ("Y", "Y"): (1, 1, 1, 0),
    ("X", "Y"): (40, 10, 0, 0),
    ("Y", "X"): (36, 4, 0, 0),
}

#: Group Z holds 7 comparisons: its row of the cross table is small, the other rows large.
SMALL_GROUP: Cells = {
    ("X", "X"): (30, 5, 20, 2),
    ("X", "Y"): (25, 3, 0, 0),
    ("X", "Z"): (20, 2, 0, 0),
    ("Y", "X"): (28, 4, 0, 0),
    ("Y", "Y"): (35, 6, 18, 3),
    ("Y", "Z"): (22, 1, 0, 0),
    ("Z", "X"): (2, 1, 0, 0),
    ("Z", "Y"): (1, 0, 0, 0),
    ("Z", "Z"): (1, 1, 1, 0),
}


#: Z × X (1 comparison) and Z × Y (4) are the only small cells: withheld together, each would lie in 1..4.
SMALL_PAIR: Cells = {
    ("X", "X"): (1, 5, 2, 0),
    ("X", "Y"): (10, 14, 0, 0),
    ("X", "Z"): (41, 7, 0, 0),
    ("Y", "X"): (0, 12, 0, 0),
    ("Y", "Y"): (0, 2, 1, 0),
    ("Y", "Z"): (4, 8, 0, 0),
    ("Z", "X"): (0, 1, 0, 0),
    ("Z", "Y"): (3, 1, 0, 0),
    ("Z", "Z"): (29, 19, 11, 1),
}

#: Known residual (docs/biometrics.md): with --group equal to --group-a, the group totals, the same-group
#: total and the cross cells form a table with margins. All four cells are withheld (Y × Y has 2
#: comparisons), yet X × Y's 9 false matches are group X's 11 minus X × X's, which is at most the
#: same-group total of 2: 9 to 11, a range of 2 where the goal is 5.
MARGINS: Cells = {
    ("X", "X"): (22, 2, 2, 4),
    ("X", "Y"): (3, 9, 0, 0),
    ("Y", "X"): (6, 42, 0, 0),
    ("Y", "Y"): (1, 0, 0, 1),
}


def scores(cells: Cells) -> pd.DataFrame:
    """One row per comparison: matched pairs score 0.9, the others 0.1, so THRESHOLD splits them."""
    rows = []
    for (ga, gb), counts in cells.items():
        for state, count in zip(STATES, counts, strict=True):
            genuine = int(state in ("genuine, matched", "miss"))
            score = 0.9 if state in ("false match", "genuine, matched") else 0.1
            rows += [(score, genuine, ga, gb)] * count
    return pd.DataFrame(rows, columns=["score", "genuine", "ga", "gb"])


def audit(cells: Cells, min_cell: int, with_group: bool) -> list[dict[str, Any]]:
    result = audit_biometrics(
        scores(cells),
        score="score",
        genuine="genuine",
        group="ga" if with_group else None,
        group_a="ga",
        group_b="gb",
        threshold=THRESHOLD,
        min_cell=min_cell,
    )
    return result.table.to_pylist()


#: metric -> (states counted by the figure, states of its denominator); counts are their own denominator
FIGURES: dict[str, tuple[set[str], set[str]]] = {
    "n": (set(STATES), set(STATES)),
    "impostor_n": ({"impostor, no match", "false match"}, {"impostor, no match", "false match"}),
    "genuine_n": ({"genuine, matched", "miss"}, {"genuine, matched", "miss"}),
    "fmr": ({"false match"}, {"impostor, no match", "false match"}),
    "fnmr": ({"miss"}, {"genuine, matched", "miss"}),
}


def members(attribute: str, group: str) -> Callable[[tuple[str, str]], bool]:
    """Which cells a row's attribute and group name, read as the reader reads them."""
    if attribute == "overall":
        return lambda cell: True
    if attribute == "ga × gb":
        ga, gb = group.split(" × ")
        return lambda cell: cell == (ga, gb)
    if attribute == "impostor pairing":
        return lambda cell: (cell[0] == cell[1]) == (group == "same group")
    assert attribute == "ga"  # --group ga: the same expression as --group-a
    return lambda cell: cell[0] == group


def intervals(
    cells: list[tuple[str, str]], rows: list[dict[str, Any]]
) -> dict[tuple[str, str, str], tuple[int, int]]:
    """The least and most whole value of every withheld figure's numerator, given every published one."""
    columns = [(cell, state) for cell in cells for state in STATES]

    def vector(attribute: str, group: str, states: set[str]) -> np.ndarray:
        inside = members(attribute, group)
        return np.array([float(inside(cell) and state in states) for cell, state in columns])

    equations, values, targets = [], [], {}
    for row in rows:
        if row["metric"] not in FIGURES or row["stage"] not in ("all", STAGE):
            continue
        top, bottom = (vector(row["attribute"], row["group"], s) for s in FIGURES[row["metric"]])
        if row["suppressed"]:
            targets[(row["attribute"], row["group"], row["metric"])] = top
            continue
        equations.append(top)  # a count, or a rate's value x its denominator: the numerator
        values.append(
            round(row["value"] * row["denominator"]) if row["metric"] in ("fmr", "fnmr") else row["value"]
        )
        if row["metric"] in ("fmr", "fnmr"):
            equations.append(bottom)
            values.append(row["denominator"])
    listed = [np.array([float(cell == c) for c, _ in columns]) for cell in cells]  # every cell is listed
    constraints = [
        LinearConstraint(np.array(equations), values, values),
        LinearConstraint(np.array(listed), 1, np.inf),
    ]
    out = {}
    for key, objective in targets.items():
        ends = []
        for sign in (1, -1):
            found = milp(
                sign * objective,
                constraints=constraints,
                integrality=np.ones(len(columns)),
                bounds=Bounds(0, np.inf),
            )
            assert found.success, found.message
            ends.append(round(sign * found.fun))
        out[key] = (ends[0], ends[1])
    return out


def naive(rows: list[dict[str, Any]], min_cell: int) -> list[dict[str, Any]]:
    """The same output under the naive rule: a group's rows withheld only where its n is under min_cell."""
    small = {(r["attribute"], r["group"]) for r in rows if r["metric"] == "n" and r["value"] < min_cell}
    return [dict(r, suppressed=(r["attribute"], r["group"]) in small) for r in rows]


def truth(cells: Cells, attribute: str, group: str, metric: str) -> int:
    """A figure's numerator counted from the cells as built (false matches for fmr, misses for fnmr)."""
    inside, counted = members(attribute, group), FIGURES[metric][0]
    return sum(
        count
        for cell, counts in cells.items()
        if inside(cell)
        for state, count in zip(STATES, counts, strict=True)
        if state in counted
    )


def safe(low: int, high: int) -> bool:
    return low == 0 or high - low >= math.ceil(MIN_CELL / 2)


@pytest.mark.parametrize(
    ("cells", "with_group"), [(SMALL_SAME, False), (SMALL_GROUP, True), (SMALL_PAIR, False)]
)
def test_no_withheld_count_is_pinned(cells: Cells, with_group: bool) -> None:
    rows = audit(cells, MIN_CELL, with_group)
    found = intervals(list(cells), rows)
    assert found  # something is withheld
    for (attribute, group, metric), (low, high) in found.items():  # the reader's model holds the data
        assert low <= truth(cells, attribute, group, metric) <= high
    sensitive = {key: ends for key, ends in found.items() if 1 <= truth(cells, *key) < MIN_CELL}
    assert sensitive  # docs/disclosure.md: a count of 1 to min_cell - 1 is sensitive, an empty one is not
    pinned = {key: ends for key, ends in sensitive.items() if not safe(*ends)}
    assert not pinned


def test_margins_of_a_group_equal_to_group_a_narrow_a_withheld_count() -> None:
    """The known residual, measured: the reader finds X × Y's false matches in 9..11, by hand group X's
    11 (2 + 9, published as its FMR x impostor pairs) less X × X's, which lie in 0..2 because the
    same-group pairs' false matches (2 + 0) are published; every cell of the table is withheld."""
    rows = audit(MARGINS, MIN_CELL, with_group=True)
    withheld = {r["group"] for r in rows if r["attribute"] == "ga × gb" and r["suppressed"]}
    assert withheld == {"X × X", "X × Y", "Y × X", "Y × Y"}
    group_x, same_group = 2 + 9, 2 + 0
    found = intervals(list(MARGINS), rows)
    assert found[("ga × gb", "X × Y", "fmr")] == (group_x - same_group, group_x)


@pytest.mark.parametrize(
    ("cells", "with_group", "small"),
    [
        (SMALL_SAME, False, ("impostor pairing", "same group")),  # 8 comparisons: 90 shown cells + the total
        (SMALL_GROUP, True, ("ga", "Z")),  # 7 comparisons: groups X and Y and the total are shown
    ],
)
def test_naive_rule_is_broken_by_the_same_reader(
    cells: Cells, with_group: bool, small: tuple[str, str]
) -> None:
    rows = naive(audit(cells, 1, with_group), MIN_CELL)
    found = intervals(list(cells), rows)
    for metric in ("n", "impostor_n", "fmr"):
        exact = truth(cells, *small, metric)
        assert found[(*small, metric)] == (exact, exact)


def test_every_withheld_row_gives_the_one_public_reason() -> None:
    """Small cells (X × X, 5 comparisons) and those withheld to protect them (X × Y, 50) read alike,
    word for word the decision and linkage audits' reason, so the text tells no bound on any count."""
    rows = audit(SMALL_SAME, MIN_CELL, with_group=False)
    withheld = {(r["attribute"], r["group"]): r["warning"] for r in rows if r["suppressed"]}
    assert {("ga × gb", "X × X"), ("ga × gb", "X × Y"), ("impostor pairing", "different group")} <= set(
        withheld
    )
    assert set(withheld.values()) == {public_reason(MIN_CELL)}
