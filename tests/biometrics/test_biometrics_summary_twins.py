"""Every published field of a biometric audit is the same for inputs that differ only inside withheld cells.

As tests/disclosure/test_published_metadata_twins.py does for the decision audit: group Z is small
(withheld whole, with a complementary group), and k of its impostor pairs become false matches (or its
genuine pairs misses; k = -1 the other way, leaving none in that state, so that one count fewer is
sensitive) while another group gives back as many, so that the overall figures stay put.
The variants whose rows come out identical to the base's (at least two, else the design tests
nothing) must publish the same summary text, metadata and curves. The input's sha256 is left out (a
digest of the input itself). The cross-table design is in tests/disclosure/test_lp_attack_audit_summary.py.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from misflag.biometrics import audit_biometrics

#: group -> (impostor pairs not matched, false matches, genuine matched, missed)
Cells = dict[str, tuple[int, int, int, int]]
BASE: Cells = {"X": (40, 6, 30, 4), "Y": (45, 5, 35, 5), "Z": (3, 1, 2, 1)}
#: (from state, to state) within Z; the other group moves the other way
MOVES = {"false matches": (0, 1), "misses": (2, 3)}


def _scores(cells: Cells, thresholds: tuple[float, ...]) -> pd.DataFrame:
    """One row per comparison: matched pairs score above every threshold, the others below."""
    high, low = max(thresholds) + 0.05, min(thresholds) - 0.05
    rows = []
    for group, counts in cells.items():
        for (genuine, score), count in zip(((0, low), (0, high), (1, high), (1, low)), counts, strict=True):
            rows += [(score, genuine, group)] * count
    return pd.DataFrame(rows, columns=["score", "genuine", "g"])


def _moved(k: int, move: tuple[int, int], other: str) -> Cells:
    source, target = move
    cells = {group: list(counts) for group, counts in BASE.items()}
    cells["Z"][source] -= k
    cells["Z"][target] += k
    cells[other][source] += k
    cells[other][target] -= k
    return {group: (a, b, c, d) for group, (a, b, c, d) in cells.items()}


def _published(cells: Cells, thresholds: tuple[float, ...]) -> tuple[str, str]:
    result = audit_biometrics(
        _scores(cells, thresholds), score="score", genuine="genuine", group="g", threshold=list(thresholds)
    )
    bundle: dict[str, Any] = result.to_bundle()
    rows = json.dumps(bundle.pop("rows"), sort_keys=True, default=str)
    bundle["metadata"]["input"].pop("sha256")
    return rows, json.dumps(bundle, sort_keys=True, default=str)


@pytest.mark.parametrize("thresholds", [(0.5,), (0.4, 0.6)])
@pytest.mark.parametrize("move", list(MOVES))
def test_inputs_with_the_same_rows_publish_the_same_metadata(
    move: str, thresholds: tuple[float, ...]
) -> None:
    rows, rest = _published(BASE, thresholds)
    withheld = {r["group"] for r in json.loads(rows) if r["suppressed"]}
    assert "Z" in withheld
    twins = [rest]
    for other in ("X", "Y"):
        for k in (-1, 1, 2):  # -1: none of Z in the target state, so one count fewer is sensitive
            other_rows, other_rest = _published(_moved(k, MOVES[move], other), thresholds)
            if other_rows == rows:
                twins.append(other_rest)
    assert len(twins) >= 2, "no variant published the base's rows: the design tests nothing"
    assert len(set(twins)) == 1
