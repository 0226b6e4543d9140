"""Two releases of the same scores, read together: what docs/biometrics.md ("Not modelled") says the
biometric LP audit does not protect (it has no release register; the decision audit's is
docs/disclosure.md, "Linked releases").

The same score file is audited twice, as an auditor publishing a cross table and then NIST's report-card
layout would: with `--group-a/--group-b`, and with `--group` equal to `--group-a` as well. Each output
alone passes the attacker of `test_biometrics_lp_attack.py`; this reader takes every figure either
publishes (a figure withheld in one and published in the other is known) and solves the same integer
program. It places cross cells' withheld counts exactly, so the docs name the limit, and this test
fails (prompting the docs to change) the day the two releases are protected together.
"""

from __future__ import annotations

from typing import Any

from tests.biometrics.test_biometrics_lp_attack import (
    MIN_CELL,
    SMALL_PAIR,
    Cells,
    audit,
    intervals,
    pinned,
    safe,
    truth,
)


def together(cells: Cells) -> list[dict[str, Any]]:
    """Both releases' rows as one reader holds them: a row withheld in one release but published in the
    other is published."""
    rows = audit(cells, MIN_CELL, with_group=True) + audit(cells, MIN_CELL, with_group=False)
    known = {(r["attribute"], r["group"], r["stage"], r["metric"]) for r in rows if not r["suppressed"]}
    return [
        r
        for r in rows
        if not r["suppressed"] or (r["attribute"], r["group"], r["stage"], r["metric"]) not in known
    ]


def test_each_release_alone_pins_nothing() -> None:
    assert not pinned(SMALL_PAIR, audit(SMALL_PAIR, MIN_CELL, with_group=True))
    assert not pinned(SMALL_PAIR, audit(SMALL_PAIR, MIN_CELL, with_group=False))


def test_the_two_releases_together_pin_withheld_cells() -> None:
    found = intervals(list(SMALL_PAIR), together(SMALL_PAIR))
    # X x X: 1 + 5 impostor pairs and 2 genuine ones, withheld in the cross release (docs/biometrics.md)
    assert sum(SMALL_PAIR[("X", "X")]) == 8 == truth(SMALL_PAIR, "ga × gb", "X × X", "n")
    assert found[("ga × gb", "X × X", "n")] == (8, 8)
    exposed = {
        key for key, ends in found.items() if 1 <= truth(SMALL_PAIR, *key) < MIN_CELL and not safe(*ends)
    }
    assert ("ga × gb", "X × X", "n") in exposed
    assert len(exposed) >= 5
