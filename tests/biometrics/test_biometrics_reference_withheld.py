"""A named reference group whose rates are withheld: the refusal must say why, truly. Group X holds 12
comparisons (7 impostor, 5 genuine pairs): with `--min-cell 10` its rates are withheld (thin
denominators) while its `n` of 12 is published, so "too small to report (fewer than 10)" is false."""

from __future__ import annotations

import pytest

from misflag.biometrics import audit_biometrics
from misflag.errors import InputError
from misflag.result import AuditResult
from tests.biometrics.test_biometrics_lp_attack import THRESHOLD, Cells, scores

#: (ga, gb) -> impostor pairs not matched, false matches, genuine pairs matched, misses
CELLS: Cells = {
    ("X", "X"): (2, 1, 4, 1),  # X: 12 comparisons, 3 + 4 impostor pairs, 5 genuine pairs with X x Y
    ("X", "Y"): (3, 1, 0, 0),
    **{(g, g): (40, 6, 25, 3) for g in "YZW"},
    **{(g, "Y" if g != "Y" else "Z"): (30, 5, 0, 0) for g in "YZW"},
}


def audit(reference: str | None) -> AuditResult:
    return audit_biometrics(
        scores(CELLS),
        score="score",
        genuine="genuine",
        group="ga",
        threshold=THRESHOLD,
        min_cell=10,
        reference=reference,
    )


def test_the_refusal_names_disclosure_control_not_a_false_size() -> None:
    rows = audit(None).table.to_pylist()
    x = {r["metric"]: r for r in rows if r["attribute"] == "ga" and r["group"] == "X"}
    assert x["n"]["value"] == 2 + 1 + 4 + 1 + 3 + 1 == 12  # published: not fewer than 10
    assert x["fmr"]["suppressed"]
    with pytest.raises(InputError) as refused:
        audit("X")
    assert str(refused.value) == (
        "reference group 'X' has its rates withheld for disclosure control (--min-cell 10); "
        "name a group whose rates are published with --reference"
    )
