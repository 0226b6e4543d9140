"""Groupings of the comparisons: overall, by group, by the two samples' groups, same vs different group."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from misflag.biometrics._scan import MISSING_GROUP, Checked, label
from misflag.biometrics._spec import BiometricSpec
from misflag.result import OVERALL_ATTRIBUTE as OVERALL

ALL = "all"
PAIRING = "impostor pairing"
SAME, DIFFERENT = "same group", "different group"
CROSS = " × "


@dataclass(frozen=True)
class Grouping:
    """One attribute: its labels, which label each key belongs to, and how SQL names its keys."""

    attribute: str
    kind: str  # overall, group, cross or pairing
    labels: tuple[str, ...]
    index: np.ndarray  # key id -> label position
    sql_keys: tuple[tuple[str, str], ...]  # (expression over the comparisons, alias) for cluster sums
    label_for: Callable[[dict[str, Any]], str]  # a cluster-sums row's label, from its aliases

    def total(self, per_key: np.ndarray) -> np.ndarray:
        """Sum a per-key array (keys first) into per-label totals."""
        out = np.zeros((len(self.labels), *per_key.shape[1:]))
        np.add.at(out, self.index, per_key)
        return out


def _grouping(
    attribute: str,
    kind: str,
    key_labels: Sequence[str],
    sql_keys: tuple[tuple[str, str], ...],
    label_for: Callable[[dict[str, Any]], str],
) -> Grouping:
    labels, index = np.unique(np.asarray(key_labels, dtype=object).astype(str), return_inverse=True)
    return Grouping(attribute, kind, tuple(labels.tolist()), index.astype(np.int64), sql_keys, label_for)


def groupings(spec: BiometricSpec, checked: Checked, keys: list[tuple[Any, ...]]) -> list[Grouping]:
    """Overall first, then the group attribute, then (with --group-a/--group-b) the cross-group cells and
    the same-group / different-group split of impostor pairs.

    In a search log group A is the searched person's and group B the returned candidate's (the top one of
    a non-mated search, the mate of a mated one): a cell's FPIR is over the non-mated searches of A whose
    top candidate is of B. A search whose candidate has no group (none was returned) is in B's
    `(missing)` column and in neither pairing.
    """
    names = checked.key_names
    values = [dict(zip(names, key, strict=False)) for key in keys]
    out = [_grouping(OVERALL, "overall", [ALL] * len(keys), (), lambda row: ALL)]
    if checked.group:
        out.append(
            _grouping(
                str(spec.group),
                "group",
                [label(v["g"]) for v in values],
                (("g", "g"),),
                lambda row: label(row["g"]),
            )
        )
    if checked.group_a:

        def cell(row: dict[str, Any]) -> str:
            return f"{label(row['ga'])}{CROSS}{label(row['gb'])}"

        def pairing(row: dict[str, Any]) -> str:
            if row["same"] is None:  # a search without a candidate group: neither same nor different
                return MISSING_GROUP
            return SAME if row["same"] else DIFFERENT

        def paired(value: dict[str, Any]) -> str:
            if spec.search and value["gb"] is None:
                return MISSING_GROUP
            return SAME if label(value["ga"]) == label(value["gb"]) else DIFFERENT

        same = "CAST(ga AS VARCHAR) IS NOT DISTINCT FROM CAST(gb AS VARCHAR)"
        if spec.search:
            same = f"CASE WHEN gb IS NULL THEN NULL ELSE {same} END"

        out.append(
            _grouping(
                f"{spec.group_a}{CROSS}{spec.group_b}",
                "cross",
                [cell(v) for v in values],
                (("ga", "ga"), ("gb", "gb")),
                cell,
            )
        )
        out.append(
            _grouping(
                PAIRING,
                "pairing",
                [paired(v) for v in values],
                ((same, "same"),),
                pairing,
            )
        )
    return out


def suppress(
    sizes: np.ndarray, minimum: int, subsets: Sequence[np.ndarray], withheld_totals: Sequence[bool] = ()
) -> np.ndarray:
    """Groups under `minimum`, plus complementary suppression: wherever a subset whose total is published
    would have one group withheld, or withheld groups that hold, beyond one each, fewer than
    ceil(minimum / 2) between them, the next smallest is withheld too, so that subtracting the shown ones
    from the total leaves each withheld count a range at least that wide. A subset whose total is itself
    withheld (`withheld_totals`, one flag per subset, published where not given) keeps at least two of
    its groups withheld (all, if it has fewer), so that the shown ones do not give that total back."""
    hidden = sizes < minimum
    slack = math.ceil(minimum / 2)
    flags = list(withheld_totals) + [False] * (len(subsets) - len(withheld_totals))
    changed = True
    while changed:
        changed = False
        for members, total_withheld in zip(subsets, flags, strict=True):
            withheld = members[hidden[members]]
            if total_withheld:
                short = withheld.size < min(2, members.size)
            else:
                short = withheld.size == 1 or (
                    withheld.size > 1 and sizes[withheld].sum() - withheld.size < slack
                )
            if short and withheld.size < members.size:
                shown = members[~hidden[members]]
                hidden[shown[np.argmin(sizes[shown])]] = True
                changed = True
    return hidden


def linked_subsets(
    cross: Grouping, other: Grouping, other_hidden: np.ndarray
) -> list[tuple[np.ndarray, bool]]:
    """The cross cells each label of another grouping adds up, with whether that label is withheld:
    for every label whose keys are exactly those of whole cells (the same-group and different-group
    pairs, or a --group that is --group-a's or --group-b's expression), its published total is the sum
    of its cells, and its withheld total is the sum of theirs."""
    owner = np.full(len(cross.labels), -1)
    mixed = np.zeros(len(cross.labels), dtype=bool)
    for cell, label_of_other in zip(cross.index, other.index, strict=True):
        mixed[cell] |= owner[cell] not in (-1, label_of_other)
        owner[cell] = label_of_other
    if mixed.any():  # the other grouping cuts through cells: no relation between its totals and theirs
        return []
    cells = np.arange(len(cross.labels))
    return [
        (cells[owner == g], bool(other_hidden[g])) for g in range(len(other.labels)) if (owner == g).any()
    ]
