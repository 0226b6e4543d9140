"""The reader's model: every published figure of a set of outputs as linear equations on counts of people.

The unknowns are the counts of people in each cell of a universe: every combination of the values of
every group expression (plus one "other value" slot per expression, for values no output lists) times
every state (the flag at each distinct stage expression, and the truth: 1, 0 or not audited). Outputs
of the same input with the same truth expression share one universe; a `--where` filter that restricts
group expressions to listed values selects the cells it keeps. This module holds the outputs as a reader
holds them, the universe and the model's equations; `_equations.build` reads the figures into them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from misflag._text import shown
from misflag.disclosure._census import Census
from misflag.disclosure._figures import FIGURES, base_metric
from misflag.disclosure._matrix import SparseRows
from misflag.disclosure._weights import StateWeights
from misflag.errors import InputError, literal
from misflag.result import JOIN, OVERALL_ATTRIBUTE

#: Most unknowns one universe may have (cells x states); more is not a table people read.
MAX_UNKNOWNS = 400_000
Key = tuple[str | None, ...]
#: What publishes an equation: (output, attribute, group, "n" for its size or "detail" for its other
#: figures). Withholding that part of that group removes the equation (the cost-aware suppression's unit).
Source = tuple[str, str, str | None, str]
#: A row withholding a count: (output, attribute, group, stage, metric, part: n, numerator or denominator).
CountRow = tuple[str, str, str | None, str, str, str]


@dataclass(frozen=True)
class Output:
    """One published output as a reader holds it."""

    name: str
    rows: list[dict[str, Any]]
    groups: tuple[str, ...]  # the group expressions, in order (attribute names join them with " & ")
    stages: dict[str, str]  # stage name -> what decides its flag (an expression: links outputs)
    truth: str
    weighted: bool
    population: str  # outputs of the same population (input digest) may share a universe
    restriction: dict[str, frozenset[str | None]] = field(default_factory=dict)  # --where as value lists
    rows_audited: float | None = None
    input_rows: float | None = None  # the input's rows: all of the universe (only where that is true)
    missing_label: str = "(missing)"
    keys: dict[tuple[str, str | None], Key] | None = None  # (attribute, group) -> values; None: parse
    weights: StateWeights | None = None  # audited people's weights by state, where the reader knows them
    #: a --where read as the cells it keeps (`_where_cells`): (group expressions, their values kept)
    cells: tuple[tuple[str, ...], frozenset[Key]] | None = None
    where: str | None = None  # the --where as given (a bundle's spec), whatever it was read as
    #: the combinations of the input that hold people (`_census`): what a reader tells of them (a group
    #: label combination no one holds, a tie to the truth or a flag) is known zeros (`known_zeros`)
    census: Census | None = None

    def members(self) -> dict[str, tuple[int, ...]]:
        """Attribute name -> positions of its group expressions (every subset, as intersections are named)."""
        out: dict[str, tuple[int, ...]] = {OVERALL_ATTRIBUTE: ()}
        for size in range(1, len(self.groups) + 1):
            for subset in combinations(range(len(self.groups)), size):
                out.setdefault(JOIN.join(self.groups[i] for i in subset), subset)
        return out

    def key(self, attribute: str, group: str | None, members: tuple[int, ...]) -> Key:
        """The values of a group label: explicit keys, else the label split on " & " (checked)."""
        if self.keys is not None and (attribute, group) in self.keys:
            return self.keys[(attribute, group)]
        if not members:
            return ()
        if len(members) == 1:
            return (group,)
        parts = (group or "").split(JOIN)
        if len(parts) != len(members):
            raise InputError(
                f"{literal(shown(self.name))}: group {literal(shown(group))} of {literal(shown(attribute))} "
                f"cannot be split into {len(members)} values"
            )
        return tuple(None if part == self.missing_label else part for part in parts)


@dataclass
class Target:
    """A withheld count: the people of one group in some states, and every withheld row that rests on it."""

    universe: int
    columns: np.ndarray
    rows: list[CountRow] = field(default_factory=list)
    #: a weighted rate's numerator, per figure it is the numerator of ((output, attribute, group, stage,
    #: metric)): the one weight of its people and the one of the rest of that figure's denominator, where
    #: each is one (the auditor's count then follows from the rate and its denominator)
    ratio_weights: dict[tuple[str, str, str | None, str, str], tuple[float, float]] = field(
        default_factory=dict
    )


@dataclass
class Model:
    """One universe's equations: sum(c x x[cols]) = value (c = 1 unless given), sum(x[cols]) >= value,
    x >= 0, x[zero] = 0."""

    unknowns: int
    equalities: dict[bytes, tuple[np.ndarray, float, np.ndarray | None]] = field(default_factory=dict)
    inequalities: dict[bytes, tuple[np.ndarray, float, np.ndarray | None]] = field(default_factory=dict)
    zero: np.ndarray | None = None
    sources: dict[bytes, set[Source]] = field(default_factory=dict)  # equality -> every row publishing it

    def equal(
        self,
        columns: np.ndarray,
        value: float,
        source: Source | None = None,
        coefficients: np.ndarray | None = None,
    ) -> None:
        key = columns.tobytes() + (b"" if coefficients is None else b"|" + coefficients.tobytes())
        self.equalities.setdefault(key, (columns, value, coefficients))
        if source is not None:
            self.sources.setdefault(key, set()).add(source)

    def equality_sources(self) -> list[frozenset[Source]]:
        """Per row of A_eq (in order), what publishes it (empty: nothing a group's suppression removes)."""
        return [frozenset(self.sources.get(key, ())) for key in self._usable()]

    def _usable(self) -> list[bytes]:
        """The equalities to solve: all but a weighted one with an unknown weight (NaN: people of a value
        no output lists) on an unknown not fixed at 0."""
        free = ~self.zero if self.zero is not None else np.ones(self.unknowns, dtype=bool)
        return [
            key
            for key, (columns, _, coefficients) in self.equalities.items()
            if coefficients is None or not np.isnan(coefficients[free[columns]]).any()
        ]

    def at_least(self, columns: np.ndarray, value: float) -> None:
        self.inequalities.setdefault(columns.tobytes(), (columns, value, None))

    def matrices(self) -> tuple[np.ndarray, SparseRows | None, np.ndarray, SparseRows | None, np.ndarray]:
        """(position of each unknown among those not fixed at 0 (-1 if fixed), A_eq, b_eq, A_ub, b_ub)."""
        free = ~self.zero if self.zero is not None else np.ones(self.unknowns, dtype=bool)
        position = np.where(free, np.cumsum(free) - 1, -1)

        def stack(
            items: list[tuple[np.ndarray, float, np.ndarray | None]], sign: float
        ) -> tuple[SparseRows | None, np.ndarray]:
            """One row per item, the unknowns fixed at 0 left out: every item's entries mapped at once
            (one indexing of the concatenated columns, not two per row: 3.5 -> 1 ms per model)."""
            if not items:
                return None, np.zeros(0)
            columns = np.concatenate([cols for cols, _, _ in items])
            values = sign * np.concatenate([_coefficients(cols, c) for cols, _, c in items])
            row = np.repeat(np.arange(len(items)), [cols.size for cols, _, _ in items])
            mapped = position[columns]
            kept = mapped >= 0
            matrix = SparseRows(row[kept], mapped[kept], values[kept], (len(items), int(free.sum())))
            return matrix, sign * np.array([value for _, value, _ in items], dtype=float)

        a_eq, b_eq = stack([self.equalities[key] for key in self._usable()], 1.0)
        a_ub, b_ub = stack(list(self.inequalities.values()), -1.0)
        return position, a_eq, b_eq, a_ub, b_ub


class Universe:
    """The cells and states shared by linked outputs, and the columns of any group's figure."""

    def __init__(self, outputs: list[Output]) -> None:
        self.outputs = outputs
        self.attributes: list[str] = []
        values: dict[str, list[str | None]] = {}
        listed: dict[str, set[str | None]] = {}  # the values a group's rows list
        self.stages: list[str] = []
        for output in outputs:
            members = output.members()
            kept = output.cells or ((), frozenset())
            for expression in [*output.groups, *output.restriction, *kept[0]]:
                if expression not in values:
                    self.attributes.append(expression)
                    values[expression] = []
            for expression, allowed in output.restriction.items():
                _extend(values[expression], allowed)
            for i, expression in enumerate(kept[0]):
                # in a fixed order (NULL first), so that the same releases name the same unknowns
                _extend(
                    values[expression],
                    sorted({c[i] for c in kept[1]}, key=lambda v: (v is not None, v or "")),
                )
            units: set[tuple[str, str | None]] = set()  # a group's rows all name the same values
            for row in output.rows:
                position = members.get(row["attribute"])
                unit = (row["attribute"], row["group"])
                if position is None or unit in units or base_metric(row["metric"]) is None:
                    continue  # e.g. fpr_max_min_ratio's "(highest/lowest)": no group, no counts of its own
                units.add(unit)
                key = output.key(row["attribute"], row["group"], position)
                for i, value in zip(position, key, strict=True):
                    _extend(values[output.groups[i]], [value])
                    listed.setdefault(output.groups[i], set()).add(value)
            _extend(self.stages, output.stages.values())
        self.values = [values[a] for a in self.attributes]
        self.listed = listed  # per group expression, the values its rows list
        #: names the unknowns: audits of the same signature share them (and may share feasible points)
        self.signature = repr((self.attributes, self.values, self.stages))
        shape = tuple(len(v) + 1 for v in self.values)  # + the "other value" slot
        self.cells = int(np.prod(shape))
        self.coords = np.indices(shape).reshape(len(shape), -1).T if shape else np.zeros((1, 0), dtype=int)
        flags = (
            np.indices((2,) * len(self.stages)).reshape(len(self.stages), -1).T
            if self.stages
            else np.zeros((1, 0), dtype=int)
        )
        self.flags = np.repeat(flags, 3, axis=0)
        self.truth = np.tile(np.array([1, 0, -1]), flags.shape[0])
        self.unknowns = self.cells * self.truth.size
        if self.unknowns > MAX_UNKNOWNS:
            raise InputError(
                f"the outputs span {self.unknowns:,} unknown counts (group values x stages), more than the "
                f"{MAX_UNKNOWNS:,} the disclosure audit solves; audit fewer or coarser groups together"
            )

    def population(self, output: Output) -> np.ndarray:
        keep = np.ones(self.cells, dtype=bool)
        for expression, allowed in output.restriction.items():
            a = self.attributes.index(expression)
            index = [self.values[a].index(v) for v in allowed]
            keep &= np.isin(self.coords[:, a], index)
        if output.cells is not None:  # the cells a --where keeps (every other value's slot: not kept)
            columns = [self.attributes.index(expression) for expression in output.cells[0]]
            codes = {
                tuple(self.values[a].index(v) for a, v in zip(columns, cell, strict=True))
                for cell in output.cells[1]
            }
            keep &= np.fromiter(
                (tuple(c) in codes for c in self.coords[:, columns].tolist()), bool, self.cells
            )
        return keep

    def group(self, output: Output, members: tuple[int, ...], key: Key) -> np.ndarray:
        keep = self.population(output)
        for i, value in zip(members, key, strict=True):
            a = self.attributes.index(output.groups[i])
            keep &= self.coords[:, a] == self.values[a].index(value)
        return keep

    def states(self, output: Output, stage: str, metric: str, part: int) -> np.ndarray:
        """Which states a figure's numerator (part 0) or denominator (part 1) counts."""
        before, arrow, after = stage.partition("->")
        names = (before, after) if arrow else (stage, stage)
        now, then = (
            self.flags[:, self.stages.index(output.stages[name])]
            if name in output.stages
            else np.zeros(self.truth.size, dtype=int)
            for name in (names[1], names[0])
        )
        predicate = FIGURES[metric][0] if part == 0 else FIGURES[metric][1]
        return np.asarray(predicate(now, then, self.truth), dtype=bool)

    def unknown_weights(self, output: Output) -> np.ndarray | None:
        """Each unknown's weight as the output's reader works it out (NaN where the truth is unknown, or
        in a group expression's "other value" slot), or None where the reader does not know the weights."""
        weights = output.weights
        if weights is None:
            return None
        used = [self.attributes.index(output.groups[g]) for g in weights.groups]
        table = weights.table(tuple(tuple(self.values[a]) for a in used))
        if table is None:
            return None
        flags = [self.flags[:, self.stages.index(stage)] for stage in weights.stages]
        # per cell, its values of the groups the weight uses (-1: the "other value" slot)
        keys = [np.where(self.coords[:, a] < len(self.values[a]), self.coords[:, a], -1) for a in used]
        cell_keys, cell_of = (
            np.unique(np.stack(keys, axis=1), axis=0, return_inverse=True)
            if used
            else (
                np.zeros((1, 0), dtype=int),
                np.zeros(self.cells, dtype=int),
            )
        )
        by_key = np.full((len(cell_keys), self.truth.size), np.nan)
        for k, key in enumerate(cell_keys):
            if (key < 0).any():
                continue
            values = tuple(self.values[a][int(i)] for a, i in zip(used, key, strict=True))
            for s in np.nonzero(self.truth >= 0)[0]:
                truth = (int(self.truth[s]),) if weights.uses_truth else ()
                by_key[k, s] = table[(*values, *(int(f[s]) for f in flags), *truth)]
        return by_key[np.asarray(cell_of).ravel()].ravel()

    def columns(self, cells: np.ndarray, states: np.ndarray) -> np.ndarray:
        """The unknowns of those cells in those states (each a boolean mask, or the positions it holds)."""
        cells = np.flatnonzero(cells) if cells.dtype == bool else cells
        states = np.flatnonzero(states) if states.dtype == bool else states
        return (cells[:, None] * self.truth.size + states[None, :]).ravel()


def _coefficients(columns: np.ndarray, given: np.ndarray | None) -> np.ndarray:
    return np.ones(columns.size) if given is None else given


def _extend(target: list[Any], items: Iterable[Any]) -> None:
    for item in items:
        if item not in target:
            target.append(item)
