"""docs/gallery/compas.md: ProPublica's published error rates (from its notebook's confusion counts)
to the printed digit, from the gallery page's command."""

from __future__ import annotations

from misflag.gallery import PAGES

#: ProPublica's notebook: African-American TN 990, FP 805, FN 532, TP 1369; Caucasian TN 1139, FP 349, FN 461, TP 505
BY_HAND = {
    "African-American: false positive rate, %": 100 * 805 / (805 + 990),
    "Caucasian: false positive rate, %": 100 * 349 / (349 + 1139),
    "African-American: false negative rate, %": 100 * 532 / (532 + 1369),
    "Caucasian: false negative rate, %": 100 * 461 / (461 + 505),
    "African-American: FPR ratio": (805 / 1795) / (349 / 1488),
}


def test_propublica_figures_to_the_printed_digit(compas_csv: object) -> None:
    checks, sources = PAGES["compas"]()
    assert {check.figure for check in checks} == set(BY_HAND)
    for check in checks:
        assert abs(check.value - BY_HAND[check.figure]) < 1e-9
        assert check.printed == f"{BY_HAND[check.figure]:.{check.digits}f}" and check.follows is True
        low, high = check.interval or (0.0, 0.0)
        assert low < check.value < high
    assert "propublica/compas-analysis" in sources[0]
