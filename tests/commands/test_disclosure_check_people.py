"""`misflag disclosure check` prints an interval's ends as people: an end the solver leaves at 7.6e-13 is
0 people, not a number in scientific notation, and a fractional LP bound keeps its fraction."""

from __future__ import annotations

import pytest

from misflag.commands.disclosure import _people


@pytest.mark.parametrize(
    ("end", "shown"),
    [(7.62057e-13, "0"), (-1e-9, "0"), (8.0000001, "8"), (11.0, "11"), (10.5, "10.5"), (1 / 3, "0.333333")],
)
def test_an_interval_end_is_shown_as_people(end: float, shown: str) -> None:
    assert _people(end) == shown
