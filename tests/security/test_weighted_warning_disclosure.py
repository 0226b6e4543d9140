"""The weighted design warning reveals nothing below --min-cell (decisions._weights_trust).

The reviewer's design (2026-12-07, on ab6471c): 60 people of race A and 60 of B audited whole at weight 1,
and one more person of B, alone in a stratum sampled at weight 10. The "single audited row" warning sat on
B's FNR row and not on its FPR row, telling a reader that person is a positive of B (a count of 1). The
warning is now the group's: the same on every weighted rate of B whatever that person's flag and truth,
and never on a withheld row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from misflag.decisions import audit_decisions
from misflag.decisions._weights_trust import ONE_ROW_NOTE

#: The rates that read the audited truth, so are weighted; n and the selection rate read the flag alone.
WEIGHTED_RATES = ("base_rate", "fpr", "fnr", "precision", "fdr", "for", "npv", "accuracy")


def _rows(tmp_path: Path, flag: int, truth: int, min_cell: int = 10) -> list[dict[str, Any]]:
    """The audit's rows of A and B in the reviewer's design (the default --min-cell 10 unless given), the
    single sampled person of B with `flag` and `truth`."""
    rng = np.random.default_rng(0)
    rows = [
        {"race": race, "w": 1.0, "flag": int(rng.random() < 0.3), "truth": int(rng.random() < 0.3)}
        for race in "AB"
        for _ in range(60)
    ]
    rows.append({"race": "B", "w": 10.0, "flag": flag, "truth": truth})
    path = tmp_path / f"log_{flag}{truth}.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    result = audit_decisions(
        str(path), flag="flag", truth="truth", groups=["race"], weight="w", replicates=100, min_cell=min_cell
    )
    return [r for r in result.rows() if r["group"] in ("A", "B")]


def _warned(rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """The (group, metric) rows carrying the single-row warning."""
    return {(r["group"], r["metric"]) for r in rows if ONE_ROW_NOTE in (r["warning"] or "")}


def test_fnr_and_fpr_rows_of_the_group_warn_alike(tmp_path: Path) -> None:
    """The reviewer's repro (the person a cleared positive): B's FPR row warns as its FNR row does, and so
    does every other weighted rate of B; nothing of A (audited whole) warns."""
    rows = _rows(tmp_path, flag=0, truth=1)
    published = {(r["group"], r["metric"]) for r in rows if not r["suppressed"]}
    assert {("B", "fpr"), ("B", "fnr")} <= _warned(rows)
    assert _warned(rows) == {("B", rate) for rate in WEIGHTED_RATES} & published
    assert len(_warned(rows)) == len(WEIGHTED_RATES)


@pytest.mark.parametrize(("flag", "truth"), [(0, 0), (1, 0), (1, 1)])
def test_the_warning_does_not_tell_the_persons_flag_or_truth(tmp_path: Path, flag: int, truth: int) -> None:
    """Whichever flag and truth the single sampled person has, the same rows carry the warning."""
    assert _warned(_rows(tmp_path, flag, truth)) == _warned(_rows(tmp_path, flag=0, truth=1))


def test_a_withheld_row_never_carries_the_warning(tmp_path: Path) -> None:
    """At --min-cell 20 every rate of the design is withheld: the rows give their reason and no warning."""
    rows = _rows(tmp_path, flag=0, truth=1, min_cell=20)
    rates = [r for r in rows if r["metric"] != "n"]
    assert rates and all(r["suppressed"] for r in rates)
    assert _warned(rows) == set()
