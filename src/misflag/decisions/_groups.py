"""Groupings of the cell table: overall, each attribute, and (with --intersect) every intersection."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from misflag.decisions._spec import DecisionSpec

OVERALL_ATTRIBUTE = "overall"
OVERALL_GROUP = "all"
JOIN = " & "


@dataclass(frozen=True)
class Grouping:
    """One attribute (or intersection): its group labels and which group every cell belongs to."""

    attribute: str
    labels: tuple[str, ...]
    index: np.ndarray  # cell -> position in labels
    absent: tuple[str, ...]  # intersections of present values with no rows
    reference_hint: str | None  # the group named by --reference for this attribute, if any

    @property
    def is_overall(self) -> bool:
        return self.attribute == OVERALL_ATTRIBUTE


def _reference_for(spec: DecisionSpec, attribute: str) -> str | None:
    if not spec.reference:
        return None
    name, separator, value = spec.reference.partition("=")
    if separator:
        return value.strip() if name.strip() == attribute else None
    return spec.reference


def groupings(spec: DecisionSpec, keys: tuple[np.ndarray, ...], cells: int) -> list[Grouping]:
    """Overall first, then each attribute set in order; labels sorted for stable output."""
    result = [Grouping(OVERALL_ATTRIBUTE, (OVERALL_GROUP,), np.zeros(cells, dtype=np.int64), (), None)]
    for members in spec.attribute_sets():
        attribute = JOIN.join(spec.groups[i] for i in members)
        combined = np.asarray(
            [JOIN.join(str(keys[i][c]) for i in members) for c in range(cells)], dtype=object
        )
        labels, index = np.unique(combined.astype(str), return_inverse=True)
        absent: tuple[str, ...] = ()
        if len(members) > 1:
            possible = {
                JOIN.join(combo) for combo in product(*(sorted({str(v) for v in keys[i]}) for i in members))
            }
            absent = tuple(sorted(possible - set(labels.tolist())))
        result.append(
            Grouping(
                attribute,
                tuple(labels.tolist()),
                index.astype(np.int64),
                absent,
                _reference_for(spec, attribute),
            )
        )
    return result


def reference_index(grouping: Grouping, rows: np.ndarray, suppressed: np.ndarray) -> int:
    """The reference group: the one named by --reference if present, else the largest unsuppressed group."""
    if grouping.reference_hint is not None and grouping.reference_hint in grouping.labels:
        return grouping.labels.index(grouping.reference_hint)
    candidates = np.where(~suppressed, rows, -1)
    return int(np.argmax(candidates))
