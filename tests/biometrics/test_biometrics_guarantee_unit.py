"""The biometric audit's published guarantee counts what its withheld figures count: comparisons (pairs
of samples), not people. Its withheld counts are comparisons, impostor and genuine pairs, false matches
and misses (docs/biometrics.md, "Suppression"); a statement in people, the decision audit's unit, would
tell a reader that a withheld cell of 3 comparisons is protected as if it were 3 people."""

from __future__ import annotations

import math

from tests.biometrics.test_biometrics_lp_attack import MARGINS, MIN_CELL, audit_result


def test_the_guarantee_is_in_comparisons() -> None:
    statement = audit_result(MARGINS, MIN_CELL, with_group=True).metadata["disclosure_audit"]["guarantee"]
    level = math.ceil(MIN_CELL / 2)  # 5, by hand
    assert statement == (
        f"every withheld count of 1 to min_cell - 1 comparisons has a feasible interval, given every "
        f"published figure, at least {level} comparisons wide, or one that reaches down to 0"
    )
    assert "people" not in statement
