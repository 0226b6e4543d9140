"""Which groups of a linkage audit to withhold: the primary rule, then as many more as keep each small
group's size out of a reader's reach.

A person is in exactly one group of an attribute, so the people of the withheld groups add up to the
overall row minus the shown groups. Every withheld group carries the one reason of
`misflag._withheld.public_reason`, so a reader cannot tell which group is under `min_cell`.
The plan is made safe even against the auditor's own knowledge (a primary group holds 1 to `min_cell` - 1
people, a complementary one `min_cell` or more but no more than the smallest shown group): given that
sum and those bounds, a primary group's size lies in a closed-form interval (`_size_interval`); the next
smallest shown group is withheld until every such interval is at least `ceil(min_cell / 2)` people wide,
the protection goal of docs/disclosure.md. A reader who knows less (the published, uniform reasons) can
only place it in a wider interval. With ground truth, `linkage/_disclosure.py` then audits every
withheld count by integer programming and may withhold more; tests/linkage/test_linkage_lp_attack.py
checks the result with an independent integer program over everything the audit publishes.
"""

from __future__ import annotations

import math

from misflag._withheld import public_reason
from misflag.result import OVERALL_ATTRIBUTE

Key = tuple[str, str]


def withheld_groups(sizes: dict[Key, int], min_cell: int) -> dict[Key, str]:
    """Groups with fewer than `min_cell` people, plus complementary suppression, each with the one
    published reason (the same for both, so that it tells a reader nothing about a group's size)."""
    reason = public_reason(min_cell)
    withheld = {key: reason for key, n in sizes.items() if n < min_cell}
    by_attribute: dict[str, list[Key]] = {}
    for key in sizes:
        if key[0] != OVERALL_ATTRIBUTE:
            by_attribute.setdefault(key[0], []).append(key)
    for members in by_attribute.values():
        primary = [key for key in members if key in withheld]
        shown = sorted((sizes[key], key) for key in members if key not in withheld)
        added: list[Key] = []
        while primary and shown and not _protected(sizes, primary, added, shown, min_cell):
            added.append(shown.pop(0)[1])
            withheld[added[-1]] = reason
    return withheld


def _protected(
    sizes: dict[Key, int], primary: list[Key], added: list[Key], shown: list[tuple[int, Key]], min_cell: int
) -> bool:
    """Whether every primary group's size interval is at least ceil(min_cell / 2) wide."""
    if len(primary) + len(added) < 2:
        return False  # the overall row minus the shown groups is the one withheld group's size
    total = sum(sizes[key] for key in (*primary, *added))
    largest_complement = shown[0][0] if shown else total
    bounds = [(1, min_cell - 1)] * len(primary) + [(min_cell, largest_complement)] * len(added)
    return all(
        _size_interval(total, bounds, i)[1] - _size_interval(total, bounds, i)[0] >= math.ceil(min_cell / 2)
        for i in range(len(primary))
    )


def _size_interval(total: int, bounds: list[tuple[int, int]], index: int) -> tuple[int, int]:
    """Least and most group `index` can hold when the groups sum to `total`, each within its bounds."""
    others = bounds[:index] + bounds[index + 1 :]
    low, high = bounds[index]
    return max(low, total - sum(u for _, u in others)), min(high, total - sum(lo for lo, _ in others))
