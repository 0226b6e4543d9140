"""Groupings of the comparisons: overall, by group, by the two samples' groups, same vs different group."""

from __future__ import annotations

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


def suppress(sizes: np.ndarray, minimum: int, subsets: Sequence[np.ndarray]) -> np.ndarray:
    """Groups under `minimum`, plus complementary suppression: wherever exactly one group of a subset
    whose total is published would be withheld, the next smallest is withheld too, so no withheld count
    can be recovered by subtracting the shown ones from the total."""
    hidden = sizes < minimum
    changed = True
    while changed:
        changed = False
        for members in subsets:
            if members.size > 1 and np.count_nonzero(hidden[members]) == 1:
                shown = members[~hidden[members]]
                hidden[shown[np.argmin(sizes[shown])]] = True
                changed = True
    return hidden
