"""The hypercube search of the suppression plan (`decisions._complementary._cheapest_cube`) against a brute
force written here: every call a real audit makes (COMPAS race x sex x age band intersected, the MILP's
rounds included) is replayed, every candidate cube enumerated from the groupings' own key lists (no
lookup table, no precomputed plan), and the chosen cube must be a valid one of least cost.

A cube for a withheld group with values v on its attributes M: for each attribute of M one other value
a, for each other attribute one value e (both among the CUBE_CHOICES smallest groups of that attribute,
the search's stated limit); its cells are, in every published grouping containing M, the groups with v
or a on M and e elsewhere; valid when all of them are present; its cost is the people of those cells not
already withheld.
"""

from __future__ import annotations

from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from misflag.decisions import _complementary, audit_decisions
from tests.disclosure.compas_specs import compas_log


def _cubes(
    unit: tuple[int, int], groupings: list[Any], rows: list[np.ndarray]
) -> list[list[tuple[int, int]]]:
    """Every valid cube, by brute force over the groupings' key lists."""
    k, g = unit
    members = groupings[k].members
    value = dict(zip(members, groupings[k].keys[g], strict=True))
    supersets = [j for j, grouping in enumerate(groupings) if set(grouping.members) >= set(members)]
    others = sorted({i for j in supersets for i in groupings[j].members} - set(members))
    single = {grouping.members[0]: j for j, grouping in enumerate(groupings) if len(grouping.members) == 1}

    def smallest(attribute: int) -> list[Any]:
        j = single[attribute]
        order = sorted(range(len(groupings[j].keys)), key=lambda h: (rows[j][h], h))
        return [groupings[j].keys[h][0] for h in order]

    alternatives = [[v for v in smallest(i) if v != value[i]][: _complementary.CUBE_CHOICES] for i in members]
    extensions = [smallest(i)[: _complementary.CUBE_CHOICES] for i in others]
    out = []
    for alternative in product(*alternatives):
        for extension in product(*extensions):
            chosen = dict(zip(others, extension, strict=True))
            cells = []
            for j in supersets:
                for corner in product((0, 1), repeat=len(members)):
                    side = {i: (value[i], a)[c] for i, a, c in zip(members, alternative, corner, strict=True)}
                    key = tuple(side.get(i, chosen.get(i)) for i in groupings[j].members)
                    if key not in groupings[j].keys:
                        break
                    cells.append((j, groupings[j].keys.index(key)))
                else:
                    continue
                break
            else:
                out.append(cells)
    return out


@pytest.fixture(scope="module")
def calls(compas_csv: Path) -> list[tuple[Any, ...]]:
    table: pa.Table = compas_log(compas_csv)
    recorded: list[tuple[Any, ...]] = []
    original = _complementary._cheapest_cube

    def record(
        unit: Any, family: Any, groupings: Any, position: Any, lookup: Any, values: Any, rows: Any
    ) -> Any:
        withheld = [mask.copy() for mask in family.withheld]
        chosen = original(unit, family, groupings, position, lookup, values, rows)
        recorded.append((unit, withheld, groupings, rows, chosen))
        return chosen

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_complementary, "_cheapest_cube", record)
        audit_decisions(table, flag="flag", truth="truth", groups=["race", "sex", "age_cat"], intersect=True)
    return recorded


def test_every_chosen_cube_is_a_cheapest_valid_one(calls: list[tuple[Any, ...]]) -> None:
    assert len(calls) > 50
    chosen_some = 0
    for unit, withheld, groupings, rows, chosen in calls:

        def cost(
            cells: list[tuple[int, int]], withheld: list[np.ndarray] = withheld, rows: Any = rows
        ) -> float:
            return sum(float(rows[j][h]) for j, h in cells if not withheld[j][h])

        cubes = _cubes(unit, groupings, rows)
        if not cubes:
            assert chosen == []
            continue
        assert chosen in cubes
        assert cost(chosen) == min(cost(cube) for cube in cubes)
        chosen_some += 1
    assert chosen_some > 50
