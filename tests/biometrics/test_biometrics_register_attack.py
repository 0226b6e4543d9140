"""The attacker's review of the biometric release register (docs/biometrics.md, "Linked releases"):
releases of the same scores at different `--min-cell` values, three releases at different thresholds, and
a decision audit and a biometric audit of one file (not linked: the user is told).

The reader is the thresholds attacker's (`test_biometrics_lp_attack_thresholds.py`: unknowns per cell,
genuine flag and score band; scipy's `milp`, presolve off, each solution checked), taking every figure of
every release at once: a count one release withholds and another publishes is published. Stages are read
as threshold values, so releases at different thresholds share their equations.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import LinearConstraint

from misflag.biometrics import audit_biometrics
from misflag.errors import InputError
from misflag.result import AuditResult
from tests.biometrics.test_biometrics_lp_attack import members, whole_range
from tests.biometrics.test_biometrics_lp_attack_thresholds import STATES, Cells, random_cells

#: the score of each band: below both thresholds, between them, above both
BAND_SCORES = (0.1, 0.6, 0.9)
THRESHOLDS = (0.5, 0.7)
Row = dict[str, Any]


def score_file(cells: Cells, folder: Path) -> Path:
    rows = [
        (BAND_SCORES[band], genuine, ga, gb)
        for (ga, gb), counts in cells.items()
        for (genuine, band), count in zip(STATES, counts, strict=True)
        for _ in range(count)
    ]
    path = folder / "scores.parquet"
    pd.DataFrame(rows, columns=["score", "genuine", "ga", "gb"]).to_parquet(path)
    return path


def release(source: Path, register: Path | None, **options: Any) -> list[Row]:
    """One biometric release of the cross table (and `group` when given): its rows, stages as thresholds,
    rows_audited as the overall row's `n` when published."""
    result: AuditResult = audit_biometrics(
        source,
        score="score",
        genuine="genuine",
        group_a="ga",
        group_b="gb",
        release_register=register,
        **options,
    )
    thresholds = {p["stage"]: p["threshold"] for p in result.metadata["operating_points"]}
    rows = [r | {"stage": thresholds.get(r["stage"], r["stage"])} for r in result.table.to_pylist()]
    if result.metadata["rows_audited"] is not None:
        rows.append(
            {"attribute": "overall", "group": "all", "stage": "all", "metric": "n", "suppressed": False}
        )
        rows[-1] |= {"value": result.metadata["rows_audited"], "denominator": None}
    return rows


def states(metric: str, stage: Any) -> set[tuple[int, int]]:
    """The (genuine, band) states a figure counts: a kind count, false matches at or above a threshold,
    misses below it."""
    if metric == "n":
        return set(STATES)
    if metric in ("impostor_n", "genuine_n"):
        return {s for s in STATES if s[0] == (metric == "genuine_n")}
    above = THRESHOLDS.index(stage)  # bands above index `above` match
    if metric == "fmr":
        return {s for s in STATES if s[0] == 0 and s[1] > above}
    return {s for s in STATES if s[0] == 1 and s[1] <= above}


def pinned(cells: Cells, releases: list[list[Row]], min_cell: int) -> dict[tuple[Any, ...], tuple[int, int]]:
    """Sensitive withheld counts (1 to min_cell - 1) that no release publishes, whose whole range over
    every release's figures is narrower than ceil(min_cell / 2) and does not reach 0 (truth inside)."""
    columns = [(cell, state) for cell in cells for state in STATES]
    truth = np.array([float(count) for counts in cells.values() for count in counts])

    def vector(attribute: str, group: str, counted: set[tuple[int, int]]) -> np.ndarray:
        inside = members(attribute, group)
        return np.array([float(inside(cell) and state in counted) for cell, state in columns])

    equations: list[np.ndarray] = []
    values: list[float] = []
    targets: dict[bytes, tuple[tuple[Any, ...], np.ndarray]] = {}
    for row in (r for rows in releases for r in rows):
        if row["metric"] not in ("n", "impostor_n", "genuine_n", "fmr", "fnmr"):
            continue
        top = vector(row["attribute"], row["group"], states(row["metric"], row["stage"]))
        if row["suppressed"]:
            targets[top.tobytes()] = ((row["attribute"], row["group"], row["stage"], row["metric"]), top)
            continue
        rate = row["metric"] in ("fmr", "fnmr")
        equations.append(top)
        values.append(round(row["value"] * row["denominator"]) if rate else row["value"])
        if rate:
            kind = {s for s in STATES if s[0] == (row["metric"] == "fnmr")}  # the rate's denominator
            equations.append(vector(row["attribute"], row["group"], kind))
            values.append(row["denominator"])
    listed = [np.array([float(cell == c) for c, _ in columns]) for cell in cells]
    for attribute, group in {(r["attribute"], r["group"]) for rows in releases for r in rows}:
        if attribute in ("overall", "ga"):  # the audit refuses a group without both kinds of pair
            listed += [vector(attribute, group, {s for s in STATES if s[0] == y}) for y in (0, 1)]
    constraints = [LinearConstraint(np.array(listed), 1, np.inf)]
    if equations:
        constraints.append(LinearConstraint(np.array(equations), values, values))
    known = {e.tobytes() for e in equations}
    out = {}
    for key, (name, objective) in targets.items():
        value = int(objective @ truth)
        if key in known or not 1 <= value < min_cell:
            continue
        low, high = whole_range(objective, constraints)
        assert low <= value <= high, (name, low, high, value)
        if low > 0 and high - low < math.ceil(min_cell / 2):
            out[name] = (low, high)
    return out


def test_a_smaller_min_cell_after_a_larger_one_is_refused(tmp_path: Path) -> None:
    """Release 1 at --min-cell 20 promises its withheld counts of 1 to 19 a range at least 10 wide. A second
    at --min-cell 10 audited them at its own goal (5 wide, 1 to 9 only) and publishes counts of 10 to 19:
    published apart it puts group X's one genuine pair at exactly 1. Through the register it is refused in
    one line, nothing recorded; at --min-cell 20 it passes and the reader pins nothing at 20."""
    cells = random_cells(3)
    source, register = score_file(cells, tmp_path), tmp_path / "releases.json"
    first = release(source, register, group="ga", threshold=[0.5], min_cell=20)
    apart = release(source, None, threshold=[0.5], min_cell=10)
    assert pinned(cells, [first, apart], 20)[("ga", "X", "all", "genuine_n")] == (1, 1)  # the control
    before = register.read_bytes()
    with pytest.raises(InputError) as refused:
        release(source, register, threshold=[0.5], min_cell=10)
    assert "\n" not in str(refused.value)
    assert (
        "'1: biometrics by ga, ga × gb' of these scores was audited with {min_cell} 20"
        in refused.value.template
    )
    assert register.read_bytes() == before
    second = release(source, register, threshold=[0.5], min_cell=20)
    assert not pinned(cells, [first, second], 20)
    assert len(json.loads(register.read_text(encoding="utf-8"))["releases"]) == 2


def test_a_larger_min_cell_after_a_smaller_one_holds_the_first_to_the_wider_goal(tmp_path: Path) -> None:
    """The other order is linked, at the second's goal (1 to 19, 10 wide), which covers the first's (1 to 9,
    5 wide). Measured: where the first's own figures already place a count more narrowly than the wider
    goal, no suppression of the second can widen it, so it is refused (safe, not a leak; docs say so)."""
    cells = random_cells(3)
    source, register = score_file(cells, tmp_path), tmp_path / "releases.json"
    first = release(source, register, group="ga", threshold=[0.5], min_cell=10)
    assert not pinned(cells, [first], 10)
    assert pinned(cells, [first], 20)[("ga × gb", "X × X", "all", "n")] == (1, 8)
    before = register.read_bytes()
    with pytest.raises(InputError) as refused:
        release(source, register, threshold=[0.5], min_cell=20)
    assert "(e.g. ga × gb = X × X, n: 1 to 8 comparisons)" in str(refused.value)
    assert register.read_bytes() == before


def test_three_releases_at_different_thresholds_pin_nothing(tmp_path: Path) -> None:
    """A (with --group, 0.7), B (the cross table, 0.5 and 0.7), C (both, 0.5 and 0.7): C is audited with
    A's and B's figures in one model; the reader of all three pins nothing (a one-off sweep of 12 random
    tables found nothing either, docs/biometrics.md; no design of 28 tried had every pair published apart
    safe and the three not). The control: published apart, the three are broken."""
    cells = random_cells(10)
    source, register = score_file(cells, tmp_path), tmp_path / "releases.json"
    options: list[dict[str, Any]] = [
        {"group": "ga", "threshold": [0.7]},
        {"threshold": [0.5, 0.7]},
        {"group": "ga", "threshold": [0.5, 0.7]},
    ]
    releases = [release(source, register, **settings) for settings in options]
    assert all(any(r["suppressed"] for r in rows) for rows in releases)
    assert not pinned(cells, releases, 10)
    # the control: the same three published apart, X x Y's 2 comparisons placed in 1..3
    apart = [release(source, None, **settings) for settings in options]
    assert pinned(cells, apart, 10)[("ga × gb", "X × Y", "all", "n")] == (1, 3)
