"""Complementary suppression: withhold more groups until nothing withheld can be recovered by subtraction.

Every published figure is a count or rests on counts (a rate with its denominator gives its numerator),
and counts add up: each group of an attribute (or intersection) is the sum of the groups that refine it
by one more attribute, and every attribute's groups sum to the overall row. A withheld count is
recoverable exactly when it is determined by those linear relations given the published counts, i.e.
when its unit vector lies in the row space of the relation matrix restricted to the withheld units.
While any withheld unit of a family is determined, the smallest published unit of a relation that
determines it is withheld too (as statistical agencies do for tables with margins), after the
hypercubes of `protect` have covered every withheld group. The plan (`_disclosure`) calls this once per
family of figures.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from itertools import product
from typing import TYPE_CHECKING

import numpy as np

from misflag.decisions._groups import Grouping

if TYPE_CHECKING:
    from threadpoolctl import ThreadpoolController

Unit = tuple[int, int]  # (grouping position, group position)
CUBE_CHOICES = 6  # values tried per attribute when looking for the cheapest hypercube
COMPLEMENTARY = (
    "suppressed (complementary): withheld so that another withheld figure cannot be recovered by subtraction"
)


@dataclass
class Family:
    """Which groups of every grouping have this family of figures withheld, and why."""

    withheld: list[np.ndarray]
    reasons: list[list[str | None]] = field(default_factory=list)

    @classmethod
    def primary(cls, masks: list[np.ndarray], reasons: list[list[str | None]]) -> Family:
        return cls([np.asarray(m, dtype=bool).copy() for m in masks], [list(r) for r in reasons])

    def withhold(self, unit: Unit, reason: str) -> None:
        grouping, group = unit
        if not self.withheld[grouping][group]:
            self.withheld[grouping][group] = True
            self.reasons[grouping][group] = reason

    def units(self) -> list[Unit]:
        return [(k, int(g)) for k, mask in enumerate(self.withheld) for g in np.nonzero(mask)[0]]


def relations(all_groupings: list[Grouping]) -> list[tuple[Unit, list[Unit]]]:
    """(parent, children): every group is the sum of the groups refining it by one more attribute."""
    position = {grouping.members: k for k, grouping in enumerate(all_groupings)}
    lookup = [{key: g for g, key in enumerate(grouping.keys)} for grouping in all_groupings]
    out: list[tuple[Unit, list[Unit]]] = []
    for k, grouping in enumerate(all_groupings):
        for drop in range(len(grouping.members)):
            parent_members = grouping.members[:drop] + grouping.members[drop + 1 :]
            if parent_members not in position:
                continue
            parent = position[parent_members]
            children: dict[Unit, list[Unit]] = defaultdict(list)
            for g, key in enumerate(grouping.keys):
                parent_key = key[:drop] + key[drop + 1 :]
                children[(parent, lookup[parent][parent_key])].append((k, g))
            out.extend(children.items())
    return out


def recoverable(withheld: list[Unit], links: list[tuple[Unit, list[Unit]]]) -> list[Unit]:
    """The withheld units that the published counts determine exactly (the subtraction attack, in full)."""
    if not withheld:
        return []
    column = {unit: i for i, unit in enumerate(withheld)}
    equations = []
    for parent, children in links:
        row = np.zeros(len(withheld))
        for unit, sign in [(parent, 1.0)] + [(child, -1.0) for child in children]:
            if unit in column:
                row[column[unit]] += sign
        if row.any():
            equations.append(row)
    if not equations:
        return []
    free = _null_space(np.vstack(equations))
    if free.shape[1] == 0:
        return list(withheld)
    return [unit for unit, i in column.items() if np.abs(free[i]).max() < 1e-9]


def _null_space(matrix: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns) of the null space, from the SVD (as scipy.linalg.null_space).

    BLAS runs on one thread for it: these matrices are small (up to about 100 x 100 on ANES 1996), and
    OpenBLAS's threads cost far more than they save there; on 2 busy cores its SVDs of ANES took 5.8 s of
    CPU against 0.09 s on one thread (docs/disclosure.md, "Time"). The limit is process-wide and given
    back after; threadpoolctl lets one thread at a time change it (others run as BLAS is set)."""
    with _blas().limit(limits=1, user_api="blas"):
        _, singular, right = np.linalg.svd(matrix, full_matrices=True)
    tolerance = max(matrix.shape) * np.finfo(float).eps * (singular.max() if singular.size else 0.0)
    rank = int((singular > tolerance).sum())
    return right[rank:].T.conj()


@cache
def _blas() -> ThreadpoolController:
    """The process's BLAS libraries (threadpoolctl, imported at the first SVD: about 3 ms of CPU)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def protect(
    family: Family,
    all_groupings: list[Grouping],
    links: list[tuple[Unit, list[Unit]]],
    rows: list[np.ndarray],
) -> Family:
    """Complementary suppression by hypercubes, then the exact check (with a greedy fallback).

    For a withheld group with attribute set M and values v, pick another value a_i for every attribute
    in M and one value e_j for every other attribute: the cells (v or a on M, e elsewhere) of every
    audited grouping that contains M carry alternating +d/-d changes that leave every published sum
    unchanged, so none of them can be recovered (the hypercube method of statistical agencies, extended
    to the margins misflag publishes). The cheapest such cube (fewest newly withheld people) is used.
    """
    position = {grouping.members: k for k, grouping in enumerate(all_groupings)}
    lookup = [{key: g for g, key in enumerate(grouping.keys)} for grouping in all_groupings]
    values = {
        members[0]: [int(g) for g in np.argsort(rows[k], kind="stable")]
        for members, k in position.items()
        if len(members) == 1
    }
    covered: set[Unit] = set()
    for unit in sorted(family.units(), key=lambda u: (len(all_groupings[u[0]].members), u)):
        if unit in covered or not all_groupings[unit[0]].members:
            continue
        cube = _cheapest_cube(unit, family, all_groupings, position, lookup, values, rows)
        for cell in cube:
            family.withhold(cell, COMPLEMENTARY)
            covered.add(cell)
    return complete(family, links, rows)


def _cheapest_cube(
    unit: Unit,
    family: Family,
    all_groupings: list[Grouping],
    position: dict[tuple[int, ...], int],
    lookup: list[dict[tuple[str | None, ...], int]],
    values: dict[int, list[int]],
    rows: list[np.ndarray],
) -> list[Unit]:
    k, g = unit
    members = all_groupings[k].members
    key = dict(zip(members, all_groupings[k].keys[g], strict=True))
    supersets = [m for m in position if set(m) >= set(members)]
    others = sorted({i for m in supersets for i in m} - set(members))

    def value(attribute: int, g: int) -> str | None:
        return all_groupings[position[(attribute,)]].keys[g][0]

    if any(i not in values for i in (*members, *others)):
        return []
    alternatives = [[value(i, h) for h in values[i] if value(i, h) != key[i]][:CUBE_CHOICES] for i in members]
    extensions = [[value(j, h) for h in values[j]][:CUBE_CHOICES] for j in others]
    # per superset grouping, where each value of a cell's key comes from: a side of the cube (True, its
    # member's place) or the extension (False, its place in others); sizes and withheld as lists
    plans = [
        (
            position[m],
            lookup[position[m]],
            [(i in key, members.index(i) if i in key else others.index(i)) for i in m],
        )
        for m in supersets
    ]
    sizes = {k: rows[k].astype(float).tolist() for k, _, _ in plans}
    withheld = {k: family.withheld[k].tolist() for k, _, _ in plans}
    corners = list(product((0, 1), repeat=len(members)))
    best: tuple[float, list[Unit]] | None = None
    for alternative in product(*alternatives):
        sides = [(key[i], a) for i, a in zip(members, alternative, strict=True)]
        picks = [[sides[m][c] for m, c in enumerate(corner)] for corner in corners]
        for extension in product(*extensions):
            cells = _cube_cells(plans, picks, extension)
            if cells is None:
                continue
            cost = sum(sizes[c][h] for c, h in cells if not withheld[c][h])
            if best is None or cost < best[0]:
                best = (cost, cells)
    return [] if best is None else best[1]


def _cube_cells(
    plans: list[tuple[int, dict[tuple[str | None, ...], int], list[tuple[bool, int]]]],
    picks: list[list[str | None]],
    extension: tuple[str | None, ...],
) -> list[Unit] | None:
    """The cube's cells in every superset grouping, each corner in turn (None: a cell is absent, a known
    zero: no cube passes through it)."""
    cells = []
    for k, table, sources in plans:
        for pick in picks:
            g = table.get(tuple(pick[j] if member else extension[j] for member, j in sources))
            if g is None:
                return None
            cells.append((k, g))
    return cells


def complete(family: Family, links: list[tuple[Unit, list[Unit]]], rows: list[np.ndarray]) -> Family:
    """Add complementary suppressions until no withheld unit of the family is recoverable.

    One exposed unit at a time: of the published units in the relations that hold it (siblings by size,
    then parents, which are margins and worth more), withhold the one that leaves the fewest exposed
    units, and look again (a greedy heuristic; the check itself is exact).
    """
    while True:
        exposed = recoverable(family.units(), links)
        if not exposed:
            return family
        unit = exposed[0]
        candidates = _candidates(unit, family, links, rows)
        if not candidates:
            candidates = _neighbours(family, links, rows)
        if not candidates:
            return family
        choice = min(
            candidates,
            key=lambda c: (len(recoverable([*family.units(), c], links)), candidates.index(c)),
        )
        family.withhold(choice, COMPLEMENTARY)


def _candidates(
    unit: Unit, family: Family, links: list[tuple[Unit, list[Unit]]], rows: list[np.ndarray]
) -> list[Unit]:
    """Published members of the relations that hold the unit: siblings by size, then parents by size."""
    siblings: set[Unit] = set()
    parents: set[Unit] = set()
    for parent, children in links:
        if unit == parent:
            siblings.update(c for c in children if not family.withheld[c[0]][c[1]])
        elif unit in children:
            siblings.update(c for c in children if c != unit and not family.withheld[c[0]][c[1]])
            if not family.withheld[parent[0]][parent[1]]:
                parents.add(parent)
    by_size = sorted(siblings, key=lambda m: (float(rows[m[0]][m[1]]), m))
    return by_size + sorted(parents, key=lambda m: (float(rows[m[0]][m[1]]), m))


def _neighbours(family: Family, links: list[tuple[Unit, list[Unit]]], rows: list[np.ndarray]) -> list[Unit]:
    """Published members of any relation that holds a withheld unit, smallest first (a last resort)."""
    published = {
        member
        for parent, children in links
        if any(family.withheld[m[0]][m[1]] for m in [parent, *children])
        for member in [parent, *children]
        if not family.withheld[member[0]][member[1]]
    }
    return sorted(published, key=lambda m: (float(rows[m[0]][m[1]]), m))
