"""Groupings of the cell table: overall, each attribute, and (with --intersect) every intersection.

A NULL group value (or one listed in `missing_values`) is a missing value, not a group name: it is
null in the JSON/Arrow output of a single attribute and shown as MISSING_LABEL inside intersection
labels; if the data hold a real value equal to that label, the display label gains more parentheses
until it is unique, so a missing value never merges with a real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from misflag._text import clipped, shown
from misflag.decisions._spec import DecisionSpec
from misflag.errors import InputError, literal
from misflag.io import close_names, did_you_mean, name_list
from misflag.result import JOIN, OVERALL_ATTRIBUTE, OVERALL_GROUP

MISSING_LABEL = "(missing)"
#: Most groups (over every attribute and intersection) an audit publishes: disclosure control checks
#: exactly that no withheld count can be recovered by subtraction, and that check grows with the
#: square of the number of groups (a few thousand is what a table for people to read holds anyway).
MAX_GROUPS = 5_000

Key = tuple[str | None, ...]


@dataclass(frozen=True)
class Grouping:
    """One attribute (or intersection): its group labels and which group every cell belongs to."""

    attribute: str
    labels: tuple[str, ...]  # display labels, unique
    index: np.ndarray  # cell -> position in labels
    absent: tuple[str, ...]  # intersections of present values with no rows
    reference_hint: str | None  # the group named by --reference for this attribute, if any
    members: tuple[int, ...] = ()  # which group expressions make up the attribute (empty: overall)
    keys: tuple[Key, ...] = ()  # per label: the raw value of each member (None = missing)

    @property
    def is_overall(self) -> bool:
        return self.attribute == OVERALL_ATTRIBUTE

    def output_label(self, g: int) -> str | None:
        """The group as written to the long table: null for a missing value of a single attribute."""
        if len(self.members) == 1 and self.keys[g][0] is None:
            return None
        return self.labels[g]


def missing_label(keys: tuple[np.ndarray, ...]) -> str:
    """'(missing)', or more parentheses around it while any real group value equals it."""
    values = {str(v) for column in keys for v in set(column.tolist()) if v is not None}
    label = MISSING_LABEL
    while label in values:
        label = f"({label})"
    return label


def _reference_for(spec: DecisionSpec, attribute: str) -> str | None:
    if not spec.reference:
        return None
    name, separator, value = spec.reference.partition("=")
    if separator:
        return value.strip() if name.strip() == attribute else None
    return spec.reference


def unknown_reference(spec: DecisionSpec, all_groupings: list[Grouping]) -> InputError:
    """The error for a --reference that names no group: the groups it could name, the closest first.

    Only the groups of the attribute it names (ATTRIBUTE=GROUP), else of every attribute, are listed, in
    whole names and at most a line's worth. The list is read from the input before any group is withheld,
    so it can name a small group: it goes only to whoever ran the audit on their own file, never into a
    result, report or saved output.
    """
    reference = spec.reference or ""
    named = [g for g in all_groupings if not g.is_overall and g.reference_hint is not None]
    labels = [label for g in named for label in g.labels]
    wanted = _reference_for(spec, named[0].attribute) if named else reference
    hint = did_you_mean(wanted or "", labels)
    attribute = reference.partition("=")[0].strip() if "=" in reference else None
    if attribute is not None and not named:
        attributes = [g.attribute for g in all_groupings if not g.is_overall]
        return InputError(
            f"{{reference}} {literal(shown(reference))} names attribute {literal(shown(attribute))}, which "
            f"is not a {{groups}} attribute{did_you_mean(attribute, attributes)} (attributes: "
            f"{name_list(attributes)})"
        )
    return InputError(
        f"{{reference}} {literal(shown(reference))} names no group of any {{groups}} attribute{hint} "
        f"(groups: {name_list(labels, first=close_names(wanted or '', labels))})"
    )


def groupings(spec: DecisionSpec, keys: tuple[np.ndarray, ...], cells: int) -> list[Grouping]:
    """Overall first, then each attribute set in order; labels sorted for stable output."""
    result = [
        Grouping(OVERALL_ATTRIBUTE, (OVERALL_GROUP,), np.zeros(cells, dtype=np.int64), (), None, (), ((),))
    ]
    missing = missing_label(keys)
    shown = [sorted({missing if v is None else str(v) for v in set(column.tolist())}) for column in keys]
    total = 0
    for members in spec.attribute_sets():
        attribute = JOIN.join(spec.groups[i] for i in members)
        tuples = list(zip(*(keys[i] for i in members), strict=True)) if cells else []
        distinct = sorted(
            set(tuples), key=lambda key: tuple((v is None, "" if v is None else str(v)) for v in key)
        )
        total += len(distinct)
        if total > MAX_GROUPS:
            raise InputError(
                f"the audit would publish more than {MAX_GROUPS:,} groups ({literal(clipped(attribute))} alone has "
                f"{len(distinct):,}); disclosure control cannot be checked on so many: coarsen the "
                "{groups} expressions (e.g. CASE bands) or audit fewer intersections"
            )
        position = {key: k for k, key in enumerate(distinct)}
        index = np.fromiter((position[key] for key in tuples), dtype=np.int64, count=len(tuples))
        labels = tuple(JOIN.join(missing if v is None else str(v) for v in key) for key in distinct)
        absent: tuple[str, ...] = ()
        if len(members) > 1:
            possible = {JOIN.join(combo) for combo in product(*(shown[i] for i in members))}
            absent = tuple(sorted(possible - set(labels)))
        result.append(
            Grouping(
                attribute,
                labels,
                index,
                absent,
                _reference_for(spec, attribute),
                members,
                tuple(tuple(None if v is None else str(v) for v in key) for key in distinct),
            )
        )
    return result
