"""The linkage LP audit's model of what a reader of the release can write down (docs/linkage-audit.md,
"Disclosure control"): the unknowns and what every reader knows of them; `linkage/_disclosure.py` adds
the published figures as equations, solves them and escalates.

A reader's unknowns, per group attribute (no table crosses two attributes, and the overall row every
attribute shares is published, so each attribute is a model of its own), are whole, non-negative counts:
per group and the overall row, the true and the false pairs touching it per score bin (the bins between
every threshold the audit publishes, curves included; true pairs also "never listed", and with
`--settings` split into reached or not by the blocking rules) and its people per bin of their highest
wrong-link score. Every published count is an equation: per shown unit its people, true pairs, pairs
reached by blocking, and at every threshold its TP and FP pairs and wrongly linked people (what
precision, recall, F1 and the wrongful-link rate publish as rate x denominator, and the curves as
counts), and the metadata's records and pairs rows. What every reader knows holds too: a person is in one
group, a pair touches one or two, each listed group holds someone, and a wrongly linked person has a
false pair in their group (and each such pair a wrongly linked person).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from misflag.result import OVERALL_ATTRIBUTE, OVERALL_GROUP

if TYPE_CHECKING:
    from misflag.linkage._evaluate import TruthCounts

Key = tuple[str, str]
#: The overall row's key: the unit every attribute's groups add up to.
OVERALL: Key = (OVERALL_ATTRIBUTE, OVERALL_GROUP)


@dataclass(frozen=True)
class Count:
    """One count over the unknowns (coefficient 1 on each column): its unit, name and true value."""

    unit: Key
    name: str
    columns: tuple[int, ...]
    value: int


@dataclass
class Model:
    """The unknowns of every unit (each attribute's groups and the overall row they share) and the
    constraints every reader knows; the published figures are added per audit."""

    attributes: dict[str, list[str]]
    bins: int
    blocking: bool
    people_total: int
    #: score bins no pair (of this family: "true", "false") or person ("wrong") falls in, overall; their
    #: unknowns are left out (held at 0: a reader of the overall curve knows as much, and a reader who
    #: does not is weaker than this model, never stronger)
    empty: dict[str, set[int]] = field(default_factory=dict)
    columns: dict[tuple[Any, ...], int] = field(default_factory=dict)
    rows: list[tuple[dict[int, float], float, float]] = field(default_factory=list)  # terms, low, high

    def col(self, *key: Any) -> int:
        return self.columns.setdefault(key, len(self.columns))

    def kinds(self) -> tuple[str, ...]:
        return ("true-reached", "true-missed", "false") if self.blocking else ("true", "false")

    def bin_names(self, kind: str) -> list[Any]:
        family = "true" if kind.startswith("true") else kind
        used = [b for b in range(self.bins) if b not in self.empty.get(family, set())]
        return (["unlisted"] if family == "true" else []) + used

    def pairs(
        self, unit: Key, true: bool, j: int, listed: bool = False, reached: bool = False
    ) -> tuple[int, ...]:
        """Pairs touching the unit at score >= threshold j - 1 of the grid (j = 0: every listed pair, and
        for true pairs also those never listed unless `listed`); `reached`: only those blocking reaches."""
        kinds = [
            k for k in self.kinds() if k.startswith("true") == true and (not reached or k != "true-missed")
        ]
        chosen = [
            self.col("pairs", unit, kind, b)
            for kind in kinds
            for b in self.bin_names(kind)
            if (b == "unlisted" and j == 0 and not listed) or (b != "unlisted" and b >= j)
        ]
        return tuple(chosen)

    def wrongly(self, unit: Key, j: int) -> tuple[int, ...]:
        """People of the unit linked at score >= threshold j - 1 to someone not themselves."""
        return tuple(self.col("wrong", unit, b) for b in self.bin_names("wrong") if b >= j)

    def people(self, unit: Key) -> tuple[int, ...]:
        return tuple(self.col("wrong", unit, b) for b in ["none", *self.bin_names("wrong")])

    def add(self, terms: dict[int, float], low: float, high: float) -> None:
        self.rows.append((terms, low, high))

    def units(self) -> list[Key]:
        return [(a, g) for a, groups in self.attributes.items() for g in groups] + [OVERALL]

    def build(self) -> None:
        """The unknowns of every unit, and what any reader knows of them (see the module's docstring)."""
        for unit in self.units():
            for kind in self.kinds():
                for b in self.bin_names(kind):
                    self.col("pairs", unit, kind, b)
            self.people(unit)
        for attribute, groups in self.attributes.items():
            for b in ["none", *self.bin_names("wrong")]:  # a person is in one group
                terms = {self.col("wrong", (attribute, g), b): 1.0 for g in groups}
                self.add({**terms, self.col("wrong", OVERALL, b): -1.0}, 0, 0)
            for kind in self.kinds():  # a pair touches one or two groups
                for b in self.bin_names(kind):
                    total = self.col("pairs", OVERALL, kind, b)
                    touching = {self.col("pairs", (attribute, g), kind, b): 1.0 for g in groups}
                    self.add({**touching, total: -1.0}, 0, np.inf)
                    self.add({**touching, total: -2.0}, -np.inf, 0)
                    for column in touching:
                        self.add({column: 1.0, total: -1.0}, -np.inf, 0)
        for unit in self.units():
            self.add(dict.fromkeys(self.people(unit), 1.0), 1, np.inf)  # each listed group holds someone
            for j in range(self.bins):
                wrong, false = self.wrongly(unit, j), self.pairs(unit, False, j)
                self.add({**dict.fromkeys(wrong, 1.0), **dict.fromkeys(false, -2.0)}, -np.inf, 0)
                limit = -(self.people_total - 1.0)
                self.add({**dict.fromkeys(false, 1.0), **dict.fromkeys(wrong, limit)}, -np.inf, 0)


def unit_counts(
    model: Model, counts: TruthCounts, g: int, unit: Key, audited: Sequence[float] | None
) -> list[Count]:
    """The counts behind a unit's rows: at every grid threshold when published (`audited` None: the
    curves), else at the audited thresholds (a withheld unit's sensitive counts, FN pairs included)."""
    true_pairs = whole(counts.true_pairs[g])
    out = [
        Count(unit, "people", model.people(unit), whole(counts.records[g])),
        Count(unit, "true_pairs", model.pairs(unit, True, 0), true_pairs),
    ]
    if counts.reached is not None:
        out.append(Count(unit, "reached", model.pairs(unit, True, 0, reached=True), whole(counts.reached[g])))
    for j, t in enumerate(counts.thresholds):
        if audited is not None and float(t) not in audited:
            continue
        tp = model.pairs(unit, True, j + 1)
        out.append(Count(unit, f"tp@{t:g}", tp, whole(counts.tp[g, j])))
        out.append(Count(unit, f"fp@{t:g}", model.pairs(unit, False, j + 1), whole(counts.fp[g, j])))
        out.append(
            Count(
                unit,
                f"wrongly_linked@{t:g}",
                model.wrongly(unit, j + 1),
                whole(counts.wrongly_linked[g, j]),
            )
        )
        if audited is not None:
            fn = tuple(c for c in model.pairs(unit, True, 0) if c not in set(tp))
            out.append(Count(unit, f"fn@{t:g}", fn, true_pairs - whole(counts.tp[g, j])))
    return out


def empty_bins(counts: TruthCounts, index: dict[Key, int]) -> dict[str, set[int]]:
    """Score bins 1.. (between consecutive thresholds, the last open) that no true pair, false pair or
    wrongly linked person of the overall row falls in."""
    g = index[OVERALL]
    out = {}
    for family, cumulative in (("true", counts.tp), ("false", counts.fp), ("wrong", counts.wrongly_linked)):
        at = np.append(cumulative[g], 0.0)  # at or above each threshold, then above every one
        out[family] = {b + 1 for b in range(at.size - 1) if at[b] - at[b + 1] == 0}
    return out


def whole(value: float) -> int:
    """A count held as a float (the audit's arrays), as the whole number it is."""
    return round(float(value))
