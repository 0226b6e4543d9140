"""Disclosure control: primary suppression by each rate's denominator, complementary suppression so
that nothing withheld can be recovered by subtraction.

Every published figure is a count or rests on counts (a rate with its denominator gives its numerator),
and counts add up: each group of an attribute (or intersection) is the sum of the groups that refine it
by one more attribute, and every attribute's groups sum to the overall row. A withheld count is
recoverable exactly when it is determined by those linear relations given the published counts, i.e.
when its unit vector lies in the row space of the relation matrix restricted to the withheld units.
Suppression is planned per family of figures that share counts (a group's size; its truth margins; its
confusion matrix at one stage; one stage-to-stage transition): while any withheld unit is determined,
the smallest published unit of a relation that determines it is withheld too (complementary
suppression, as statistical agencies do for tables with margins).

The plan keeps why each figure is withheld (primary, complementary, secondary: the auditor's own
knowledge), but every published figure withheld for disclosure carries the one `misflag._withheld.public_reason`: a
reason that differed would tell a reader a bound (under min_cell, or at least min_cell) that the
disclosure audit does not model (docs/disclosure.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from itertools import product
from typing import TYPE_CHECKING, Any

import numpy as np

from misflag.decisions._groups import Grouping

if TYPE_CHECKING:
    from threadpoolctl import ThreadpoolController

Unit = tuple[int, int]  # (grouping position, group position)
CUBE_CHOICES = 6  # values tried per attribute when looking for the cheapest hypercube
COMPLEMENTARY = (
    "suppressed (complementary): withheld so that another withheld figure cannot be recovered by subtraction"
)
SECONDARY = (
    "suppressed (secondary): the disclosure audit (linear programming) found that a withheld count could "
    "otherwise be narrowed too far"
)


#: Groups the disclosure audit withholds on top of the primary rule: "n" (every figure of the group) or
#: "detail" (every figure but n), as (attribute, group as published).
Forced = dict[str, set[tuple[str, str | None]]]


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


def family_of(stage: str, metric: str) -> str:
    """Figures that share counts are withheld together (a rate's siblings would give it back)."""
    if metric == "n":
        return "n"
    if metric == "selection_rate":
        return "selection"
    if metric == "base_rate":
        return "base_rate"
    if "->" in stage:
        return f"transition@{stage}"
    return f"confusion@{stage}"


def plan_suppression(
    min_cell: int,
    all_groupings: list[Grouping],
    rows: list[np.ndarray],
    denominators: list[dict[tuple[str, str], np.ndarray]],
    forced: Forced | None = None,
) -> dict[str, Family]:
    """Every family's withheld groups: primary (group or a denominator under min_cell), then complementary.

    `denominators[k][(stage, metric)]` holds grouping k's rows behind each rate's denominator; `forced`
    adds the groups the disclosure audit withholds (its secondary suppressions), protected alike.
    """
    links = relations(all_groupings)
    small = f"fewer than {min_cell} people"
    forced = forced or {}
    n_family = Family.primary(
        [r < min_cell for r in rows],
        [[f"suppressed: {small} in this group" if x < min_cell else None for x in r] for r in rows],
    )
    for k, grouping in enumerate(all_groupings):
        for g in np.nonzero(_forced(grouping, forced.get("n", set())))[0]:
            n_family.withhold((k, int(g)), SECONDARY)
    plan = {"n": protect(n_family, all_groupings, links, rows)}
    keys = sorted({key for table in denominators for key in table}, key=lambda k: ("->" in k[0], k))
    families: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for stage, metric in keys:
        families[family_of(stage, metric)].append((stage, metric))
    # a thin denominator is also a sum of other figures' counts (positives = n x base_rate, negatives =
    # known truth - positives, ...): a group with one thin rate has all of its rates withheld, n aside
    thin_any = [
        np.logical_or.reduce(
            [(d > 0) & (d < min_cell) for (_, metric), d in table.items() if family_of(_, metric) != "n"]
            or [np.zeros(len(all_groupings[k].labels), dtype=bool)]
        )
        for k, table in enumerate(denominators)
    ]
    for name, members in families.items():
        if name == "n":
            continue
        masks, reasons = [], []
        for k in range(len(all_groupings)):
            inherited = plan["n"].withheld[k].copy()
            reason = list(plan["n"].reasons[k])
            for stage, metric in members:
                denominator = denominators[k][(stage, metric)]
                thin = (denominator > 0) & (denominator < min_cell) & ~inherited
                for g in np.nonzero(thin)[0]:
                    reason[g] = f"suppressed: {metric} at {stage} rests on {small}"
                inherited |= thin
            for g in np.nonzero(thin_any[k] & ~inherited)[0]:
                reason[g] = (
                    f"suppressed: another rate of this group rests on {small}, which this figure would give back"
                )
            inherited |= thin_any[k]
            for stage in _stages_of(name):
                family = plan.get(f"confusion@{stage}")
                if family is not None:
                    for g in np.nonzero(family.withheld[k] & ~inherited)[0]:
                        reason[g] = "suppressed: the confusion matrix of an adjacent stage is withheld"
                    inherited |= family.withheld[k]
            detail = _forced(all_groupings[k], forced.get("detail", set())) & ~inherited
            for g in np.nonzero(detail)[0]:
                reason[g] = SECONDARY
            inherited |= detail
            masks.append(inherited)
            reasons.append(reason)
        plan[name] = protect(Family.primary(masks, reasons), all_groupings, links, rows)
    return plan


def open_plan(plan: dict[str, Family]) -> dict[str, Family]:
    """The same families with nothing withheld: the figures as they would read unsuppressed (for the audit)."""
    return {
        name: Family([np.zeros_like(mask) for mask in family.withheld], family.reasons)
        for name, family in plan.items()
    }


class UnsuppressedRows:
    """The rows as they would read with nothing withheld, the auditor's truth for the disclosure audit.

    Computed in the first suppression round and reused in every later one: the figures the audit reads
    from them (n, value, denominator of each group's figures) do not depend on the suppression pattern;
    only ratio rows (references move with it) do, and the audit never reads those."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] | None = None

    def get(self, compute: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        """The first round's rows, computed by `compute` on the first call."""
        if self.rows is None:
            self.rows = compute()
        return self.rows


def _forced(grouping: Grouping, groups: set[tuple[str, str | None]]) -> np.ndarray:
    return np.array(
        [(grouping.attribute, grouping.output_label(g)) in groups for g in range(len(grouping.labels))],
        dtype=bool,
    )


def _stages_of(family: str) -> tuple[str, ...]:
    if not family.startswith("transition@"):
        return ()
    before, _, after = family.removeprefix("transition@").partition("->")
    return (before, after)
