"""The LP attacker (`attacker.Attacker`) reading a --where on the truth or the flag column as the states
it keeps, as a reader does: a release filtered to `flag = 1` holds only flagged people, so its n of a
group is that group's tp + fp in an unfiltered release of the same data (and `truth = 0`'s is tn + fp).
misflag's own reader (`disclosure._load._restriction`) reads such a filter as a group expression
restricted to a value, with no tie to the states; this one writes the tie into the model."""

from __future__ import annotations

from typing import Any

from tests.disclosure.attacker import EVERYONE, Attacker


class TiedAttacker(Attacker):
    """`Attacker` whose `read` turns `truth = v` / `flag = v` in a release's --where into the states the
    release keeps (every figure of it counts only people in those states); other filters as before."""

    def __init__(self, values: dict[str, list[str]], truth: str = "truth", flag: str = "flag") -> None:
        super().__init__(values)
        self.truth, self.flag = truth, flag
        self._kept: set[tuple[int, int]] = set(EVERYONE)

    def read(self, number: int, rows: list[dict[str, Any]], where: dict[str, str], rows_audited: Any) -> None:
        """The release's figures, each over the states its --where keeps (`where`: column -> value)."""
        self._kept = {
            (t, f)
            for t, f in EVERYONE
            if where.get(self.truth, str(t)) == str(t) and where.get(self.flag, str(f)) == str(f)
        }
        try:
            plain = {a: v for a, v in where.items() if a not in (self.truth, self.flag)}
            super().read(number, rows, plain, rows_audited)
        finally:
            self._kept = set(EVERYONE)

    def _columns(self, where: dict[str, str], states: set[Any]) -> tuple[int, ...]:
        return super()._columns(where, set(states) & self._kept)
