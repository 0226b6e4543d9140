"""A group's weight classes (its audited rows at one weight; its rows of unknown truth) are counts like any
other (decisions._disclosure): a class of 1 to --min-cell - 1 people (here B's rows sampled at weight 10
beside 200 at weight 1) withholds every weighted rate of the group, at every stage, its transitions and its
score threshold's rates alike; with every class at --min-cell or more the group's rates are published. The
readers of the class are in tests/security/test_weighted_warning_disclosure.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from misflag.decisions import audit_decisions

MIN_CELL = 10
#: Rates reading the truth at a flag stage (weighted), and a transition's rates (weighted or not, one family).
WEIGHTED_RATES = {"fpr", "fnr", "precision", "fdr", "for", "npv", "accuracy"}
TRANSITION_RATES = {
    "cleared_false_flags",
    "cleared_true_flags",
    "new_false_flags",
    "override_clear_rate",
    "override_flag_rate",
}


def _log(tmp_path: Path, sampled: int) -> str:
    """Groups A and B of 200 people at weight 1 (random score, two stages' flags, truth), and `sampled` more
    people of B audited at weight 10 (a CSV file's path)."""
    rng = np.random.default_rng(3)
    people = 400 + sampled
    frame = pd.DataFrame(
        {
            "race": ["A"] * 200 + ["B"] * (200 + sampled),
            "w": [1.0] * 400 + [10.0] * sampled,
            "score": rng.random(people).round(3),
            "first": (rng.random(people) < 0.4).astype(int),
            "second": (rng.random(people) < 0.3).astype(int),
            "truth": (rng.random(people) < 0.4).astype(int),
        }
    )
    path = tmp_path / f"log_{sampled}.csv"
    frame.to_csv(path, index=False)
    return str(path)


def _withheld(rows: list[dict[str, Any]], group: str, metrics: set[str]) -> dict[tuple[str, str], bool]:
    """Whether each of `group`'s rows of `metrics` is withheld, by (stage, metric)."""
    return {
        (r["stage"], r["metric"]): r["suppressed"]
        for r in rows
        if r["group"] == group and r["metric"] in metrics
    }


@pytest.mark.parametrize(("sampled", "withheld"), [(1, True), (9, True), (10, False)])
def test_every_stage_and_transition_of_the_group(tmp_path: Path, sampled: int, withheld: bool) -> None:
    """Two stages: B's (and the overall row's) rates at both stages and their transition are withheld with
    1 or 9 sampled people, published with 10; B's n and selection rates, which read no truth, throughout."""
    rows = audit_decisions(
        _log(tmp_path, sampled), stages=[("first", "first"), ("second", "second")], truth="truth",
        groups=["race"], weight="w", min_cell=MIN_CELL,
    ).rows()  # fmt: skip
    for group in ("B", "all"):
        states = _withheld(rows, group, WEIGHTED_RATES | TRANSITION_RATES | {"base_rate"})
        assert len(states) == 2 * len(WEIGHTED_RATES) + len(TRANSITION_RATES) + 1
        assert set(states.values()) == {withheld}, (group, states)
    assert not any(_withheld(rows, "B", {"n", "selection_rate"}).values())


@pytest.mark.parametrize(("sampled", "withheld"), [(1, True), (10, False)])
def test_the_score_thresholds_rates(tmp_path: Path, sampled: int, withheld: bool) -> None:
    """A score audit: B's FPR and FNR at the chosen threshold are withheld with one sampled person,
    published with 10."""
    rows = audit_decisions(
        _log(tmp_path, sampled), flag="first", score="score", truth="truth", groups=["race"], weight="w",
        min_cell=MIN_CELL, target_fpr=0.2,
    ).rows()  # fmt: skip
    states = {k: v for k, v in _withheld(rows, "B", {"fpr", "fnr"}).items() if k[0].startswith("score>=")}
    assert len(states) == 2
    assert set(states.values()) == {withheld}, states
