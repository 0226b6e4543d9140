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
from misflag.biometrics import _disclosure as disclosure
from misflag.biometrics import audit_biometrics
from misflag.biometrics._disclosure import Outcome
from misflag.result import AuditResult

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

#: With --group equal to --group-a, the group totals, the same-group total and the cross cells form a table
#: with margins. All four cells are withheld (Y × Y has 2 comparisons); before the LP audit, X × Y's 9 false
#: matches were group X's 11 minus X × X's, which is at most the same-group total of 2: 9 to 11.
MARGINS: Cells = {
    ("X", "X"): (22, 2, 2, 4),
    ("X", "Y"): (3, 9, 0, 0),
    ("Y", "X"): (6, 42, 0, 0),
    ("Y", "Y"): (1, 0, 0, 1),
}

#: MARGINS with 12 genuine pairs in X × X, so group X's rates are not thin: the rules leave group X's
#: false matches and the same-group pairs' published, and X × Y's 9 in 9..11; the LP audit must act.
MARGINS_WIDE: Cells = {
    ("X", "X"): (22, 2, 6, 6),
    ("X", "Y"): (3, 9, 0, 0),
    ("Y", "X"): (6, 42, 0, 0),
    ("Y", "Y"): (1, 0, 0, 1),
}

#: An input of 7 comparisons (under min_cell): every cell is small, and before, the overall row, always
#: published, gave them away (a random table of the sweep in docs/biometrics.md).
TINY: Cells = {
    ("X", "X"): (0, 2, 0, 1),
    ("X", "Y"): (1, 0, 0, 0),
    ("Y", "Y"): (0, 2, 1, 0),
}

#: Group X holds 12 comparisons (not small) but 7 impostor and 5 genuine pairs: before, its FMR was
#: published over 7 impostor pairs and its FNMR over 5.
THIN_RATES: Cells = {
    ("X", "X"): (2, 1, 4, 1),
    ("X", "Y"): (3, 1, 0, 0),
    ("Y", "X"): (30, 5, 0, 0),
    ("Y", "Y"): (40, 6, 25, 3),
}

#: No more than this many comparisons in any count: the reader's columns are bounded by it, so an
#: unbounded count reads as a range of about this width.
CEILING = 10**6


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
    """The long table's rows, with metadata's rows_audited as an `n` row of the overall group when published."""
    result = audit_result(cells, min_cell, with_group)
    rows = result.table.to_pylist()
    if result.metadata["rows_audited"] is not None:
        rows.append(
            {"attribute": "overall", "group": "all", "stage": "all", "metric": "n", "suppressed": False}
            | {"value": result.metadata["rows_audited"], "denominator": result.metadata["rows_audited"]}
        )
    return rows


def audit_result(cells: Cells, min_cell: int, with_group: bool) -> AuditResult:
    return audit_biometrics(
        scores(cells),
        score="score",
        genuine="genuine",
        group="ga" if with_group else None,
        group_a="ga",
        group_b="gb",
        threshold=THRESHOLD,
        min_cell=min_cell,
    )


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
    for attribute, group in {
        (r["attribute"], r["group"]) for r in rows if r["attribute"] in ("overall", "ga")
    }:
        # the audit refuses a group without impostor or genuine pairs: each has at least one of both
        listed += [vector(attribute, group, set(FIGURES[kind][0])) for kind in ("impostor_n", "genuine_n")]
    constraints = [LinearConstraint(np.array(listed), 1, np.inf)]
    if equations:
        constraints.append(LinearConstraint(np.array(equations), values, values))
    return {key: whole_range(objective, constraints) for key, objective in targets.items()}


def whole_range(objective: np.ndarray, constraints: list[LinearConstraint]) -> tuple[int, int]:
    """The least and most whole value of the objective under the constraints, counts in 0..CEILING: HiGHS's
    MIP with presolve off (with it, scipy 1.17.1's HiGHS missed a table's optimum: 16, not 10), and each
    solution checked against every constraint."""
    ends = []
    for sign in (1, -1):
        found = milp(
            sign * objective,
            constraints=constraints,
            integrality=np.ones(objective.size),
            bounds=Bounds(0, CEILING),
            options={"presolve": False},
        )
        assert found.success, found.message
        point = np.round(found.x)
        assert all(np.all(c.lb <= c.A @ point) and np.all(c.A @ point <= c.ub) for c in constraints)
        ends.append(round(sign * found.fun))
    return ends[0], ends[1]


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


def pinned(cells: Cells, rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], tuple[int, int]]:
    """Sensitive withheld counts (1 to min_cell - 1) the reader places in a range narrower than the goal,
    after checking that the reader's model holds the data."""
    found = intervals(list(cells), rows)
    assert found  # something is withheld
    for (attribute, group, metric), (low, high) in found.items():
        assert low <= truth(cells, attribute, group, metric) <= high
    sensitive = {key: ends for key, ends in found.items() if 1 <= truth(cells, *key) < MIN_CELL}
    assert sensitive  # docs/disclosure.md: a count of 1 to min_cell - 1 is sensitive, an empty one is not
    return {key: ends for key, ends in sensitive.items() if not safe(*ends)}


@pytest.mark.parametrize(
    ("cells", "with_group"),
    [
        (SMALL_SAME, False),
        (SMALL_GROUP, True),
        (SMALL_PAIR, False),
        (MARGINS, True),  # before the LP audit: X × Y's 9 false matches in 9..11
        (MARGINS_WIDE, True),
        (TINY, False),
        (TINY, True),
        (THIN_RATES, True),
    ],
)
def test_no_withheld_count_is_pinned(cells: Cells, with_group: bool) -> None:
    assert not pinned(cells, audit(cells, MIN_CELL, with_group))


@pytest.mark.parametrize("cells", [MARGINS_WIDE, THIN_RATES])
def test_the_rules_alone_are_broken_by_the_same_reader(cells: Cells, monkeypatch: pytest.MonkeyPatch) -> None:
    """The control of the LP audit: with its further suppression switched off (the rules' levels
    published as they are), the reader pins counts; with it (above), none. Its result is recorded."""
    recorded = audit_result(cells, MIN_CELL, True).metadata["disclosure_audit"]
    assert recorded.auditor_only["rounds_of_further_suppression"]  # the auditor's, never written
    monkeypatch.setattr(disclosure, "protect", lambda release, levels, min_cell: Outcome(levels, None))
    assert pinned(cells, audit(cells, MIN_CELL, with_group=True))


def test_an_input_under_min_cell_publishes_no_count() -> None:
    """Before, the overall row (always published) gave the 7 comparisons' cells away; now it is withheld
    whole, and so are the metadata's counts of rows."""
    result = audit_result(TINY, MIN_CELL, with_group=True)
    counts = ("n", "impostor_n", "genuine_n", "fmr", "fnmr")
    assert all(r["suppressed"] for r in result.table.to_pylist() if r["metric"] in counts)
    assert result.metadata["rows_audited"] is None and result.metadata["input"]["rows"] is None
    assert "overall rates are withheld" in result.summary


def test_a_target_fmr_names_no_withheld_count() -> None:
    """A threshold found for a target FMR is described with the impostor pairs it is counted over, and a
    target below resolution warns with that count: neither names it where those pairs are withheld (TINY's
    5; the warning is then given in words alone); with min_cell 1 (nothing withheld) both name it."""

    def points(min_cell: int) -> tuple[str, list[str]]:
        result = audit_biometrics(
            scores(TINY), score="score", genuine="genuine", target_fmr=0.001, min_cell=min_cell
        )
        return result.metadata["operating_points"][0]["method"], result.metadata["warnings"]

    method, warnings = points(1)
    assert "(5 comparisons, at most 0 false matches)" in method and "5 impostor comparisons" in warnings[0]
    method, warnings = points(MIN_CELL)
    assert method == "the most lenient threshold with FMR <= 0.001 over all impostor pairs"
    assert (
        len(warnings) == 1 and "whose number is withheld" in warnings[0] and "5 impostor" not in warnings[0]
    )


def test_no_rate_is_published_over_a_thin_denominator() -> None:
    """Group X (12 comparisons) holds 7 impostor and 5 genuine pairs: its FMR and FNMR, and the kind
    counts that are their denominators, are withheld, its n is kept; no published rate or kind count
    rests on 1 to min_cell - 1 pairs."""
    rows = audit(THIN_RATES, MIN_CELL, with_group=True)
    group_x = {r["metric"]: r for r in rows if r["attribute"] == "ga" and r["group"] == "X"}
    assert group_x["n"]["value"] == 12 and not group_x["n"]["suppressed"]
    assert all(group_x[m]["suppressed"] for m in ("impostor_n", "genuine_n", "fmr", "fnmr"))
    thin = [
        (r["attribute"], r["group"], r["metric"])
        for r in rows
        if not r["suppressed"]
        and r["metric"] in ("impostor_n", "genuine_n", "fmr", "fnmr")
        and 1 <= r["denominator"] < MIN_CELL
    ]
    assert not thin


def test_the_audit_is_recorded_without_a_withheld_count() -> None:
    """The metadata names the LP audit's method, level, guarantee and the withheld counts the rows show,
    and no withheld count; the auditor's diagnostics (counts checked and protected, the narrowest range,
    at least the protection level wide) stay on the result; an audit withholding nothing records none."""
    result = audit_result(MARGINS, MIN_CELL, with_group=True)
    published = result.metadata["disclosure_audit"]
    assert set(published) == {"method", "protection_level", "withheld_counts", "guarantee"}
    assert published["protection_level"] == math.ceil(MIN_CELL / 2)
    assert published["withheld_counts"] > 0
    recorded = published.auditor_only
    assert recorded["withheld_counts_protected"] == recorded["withheld_counts_checked"] > 0
    narrowest = recorded["narrowest_interval"]
    assert narrowest is None or narrowest["high"] - narrowest["low"] >= math.ceil(MIN_CELL / 2)
    large = {cell: tuple(10 * c for c in counts) for cell, counts in SMALL_GROUP.items() if cell[0] != "Z"}
    assert "disclosure_audit" not in audit_result(large, MIN_CELL, with_group=True).metadata


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


@pytest.mark.parametrize(("cells", "with_group"), [(MARGINS, True), (THIN_RATES, True), (TINY, False)])
def test_rows_the_lp_audit_or_the_thin_rule_withholds_give_the_same_reason(
    cells: Cells, with_group: bool
) -> None:
    """Rows withheld by the LP audit's further suppression, by the rule on thin impostor or genuine
    counts, or with the overall row of a small input read as every other withheld row."""
    rows = audit(cells, MIN_CELL, with_group)
    assert {r["warning"] for r in rows if r["suppressed"]} == {public_reason(MIN_CELL)}
