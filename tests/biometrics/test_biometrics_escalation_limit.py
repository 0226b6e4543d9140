"""The biometric LP audit's escalation when it runs out of rounds (docs/biometrics.md, "Suppression":
40 rounds at most, then every label but the overall row is withheld whole). No design of the suite
needs 40 rounds, so the limit is lowered to 0: the first round that finds a count too narrow ends the
escalation. The output must then still be protected against the attacker of test_biometrics_lp_attack.py,
say nothing but the one public reason on every withheld row, and keep the overall row."""

from __future__ import annotations

import pytest

from misflag._withheld import public_reason
from misflag.biometrics import _disclosure as disclosure
from tests.biometrics.test_biometrics_lp_attack import (
    MARGINS_WIDE,
    MIN_CELL,
    THIN_RATES,
    Cells,
    audit,
    audit_result,
    pinned,
)


@pytest.mark.parametrize("cells", [MARGINS_WIDE, THIN_RATES], ids=["margins", "thin rates"])
def test_out_of_rounds_every_label_but_the_overall_row_is_withheld(
    cells: Cells, monkeypatch: pytest.MonkeyPatch
) -> None:
    # with the limit, these designs need further suppression (the rules alone are broken: the LP attack test)
    assert (
        audit_result(cells, MIN_CELL, with_group=True)
        .metadata["disclosure_audit"]
        .auditor_only["rounds_of_further_suppression"]
    )
    monkeypatch.setattr(disclosure, "MAX_ROUNDS", 0)
    rows = audit(cells, MIN_CELL, with_group=True)
    sizes = {(r["attribute"], r["group"]): r for r in rows if r["metric"] == "n" and r["stage"] == "all"}
    assert sizes[("overall", "all")]["value"] == sum(sum(counts) for counts in cells.values())
    assert not sizes.pop(("overall", "all"))["suppressed"]
    assert sizes and all(row["suppressed"] for row in sizes.values())
    reasons = {r["warning"] for r in rows if r["suppressed"]}
    assert reasons == {public_reason(MIN_CELL)}
    assert not pinned(cells, rows)
