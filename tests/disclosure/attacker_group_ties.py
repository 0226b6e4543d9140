"""The LP attacker reading a group expression over the truth or the flag column (`--group truth`,
`--group flag`, `--group "CASE WHEN truth = 1 THEN 'p' ELSE 'n' END"`) as the states it splits people
by, as a reader does: group `1` of `--group truth` holds only people with truth 1, so its n is the tp +
fn of the groups it is crossed with. misflag's model reads such an expression as one more attribute,
independent of the states; this reader writes the tie into its model (every cell whose attribute value
contradicts its state holds nobody). A --where on those columns is read as in `attacker_ties`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tests.disclosure.attacker import EVERYONE, exposed
from tests.disclosure.attacker_ties import TiedAttacker

#: The position of each column in a state (truth, flag).
POSITION = {"truth": 0, "flag": 1}


class GroupTiedAttacker(TiedAttacker):
    """`TiedAttacker` whose model ties each attribute of `ties` to a column of the state: `ties` maps a
    group expression (as the outputs label it) to the column it reads ("truth" or "flag") and the state
    value each of its labels means (e.g. {"truth": ("truth", {"0": 0, "1": 1})})."""

    def __init__(
        self, values: dict[str, list[str]], ties: Mapping[str, tuple[str, Mapping[str, int]]]
    ) -> None:
        super().__init__(values)
        self.ties = dict(ties)
        self.contradicting = self._contradicting()
        self.equations[self.contradicting] = 0.0
        self._first: dict[frozenset[tuple[Any, ...]], int] = {}

    def read(self, number: int, rows: list[dict[str, Any]], where: dict[str, str], rows_audited: Any) -> None:
        """As `TiedAttacker.read`; also notes the first release (by `number`, read in order) to publish
        each set of people as a figure of its own."""
        super().read(number, rows, where, rows_audited)
        for columns in self.equations:
            self._first.setdefault(self.people(columns), number)

    def _contradicting(self) -> tuple[int, ...]:
        """The cells whose value of a tied attribute says another state than the cell's own."""
        wrong = np.zeros(len(self.cells), dtype=bool)
        for attribute, (column, meaning) in self.ties.items():
            for label, value in meaning.items():
                states = {s for s in EVERYONE if s[POSITION[column]] != value}
                wrong[list(self._columns({attribute: label}, states))] = True
        return tuple(int(i) for i in np.flatnonzero(wrong))

    def people(self, columns: tuple[int, ...]) -> frozenset[tuple[Any, ...]]:
        """Who the cells `columns` hold, with the tie: (values of the untied attributes, state) of each
        cell that does not contradict its state (a tied attribute adds no one of its own)."""
        untied = [i for i, name in enumerate(self.names) if name not in self.ties]
        wrong = set(self.contradicting)
        return frozenset(
            (*(self.cells[c][i] for i in untied), self.cells[c][-1]) for c in columns if c not in wrong
        )

    def unpublished_pins(self, counts: np.ndarray, min_cell: int) -> list[tuple[Any, ...]]:
        """`exposed`'s pins, less those of a count whose people, with the tie, a release as early as the
        one withholding it publishes as a figure of its own (group c's tp withheld as `c & 1`'s flagged
        but published as c's precision numerator): that release shows them, no inference is needed. A
        later release publishing them is a leak and stays in."""
        every = self.targets
        self.targets = {c: targets for c, targets in every.items() if not self._shown_by_then(c, targets)}
        try:
            return exposed(self, counts, min_cell)
        finally:
            self.targets = every

    def _shown_by_then(self, columns: tuple[int, ...], targets: list[tuple[int, Any, str]]) -> bool:
        """Whether a release no later than the first withholding `columns` publishes their people."""
        first = self._first.get(self.people(columns))
        return first is not None and first <= min(number for number, _, _ in targets)


def people_per_cell(attacker: Any, people: Mapping[tuple[Any, ...], int]) -> np.ndarray:
    """People per cell of the attacker's model from `people`: (value of each attribute in the model's
    order, truth, flag) -> people, counted by hand."""
    index = {cell: i for i, cell in enumerate(attacker.cells)}
    counts = np.zeros(len(attacker.cells))
    for (*values, truth, flag), n in people.items():
        counts[index[(*values, (truth, flag))]] += n
    return counts
