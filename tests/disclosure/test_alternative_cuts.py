"""A count exposed again after its cut gets more cuts per round (`disclosure._audit._alternatives`): other
sets of equations that pin it, each found with the sets before it taken out. Each must be a valid cut: with
every equation outside the set withheld (the most a pattern keeping the set can withhold), the count is
still pinned, solved here by scipy's `linprog` on the set's rows alone. Asking for them changes no
interval of the audit. Tried on primary suppression alone over small random tables (exposures abound).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy.optimize import linprog

from misflag.disclosure import Output, audit_outputs
from misflag.disclosure._equations import build
from misflag.disclosure._model import Universe
from tests.disclosure.test_certified_by_points import _output

PROTECTION = 5.0


def _table(seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    size = 80
    return pa.table(
        {
            "a": rng.choice(["x", "y", "z"], size, p=[0.6, 0.3, 0.1]),
            "b": rng.choice(["u", "v"], size, p=[0.8, 0.2]),
            "truth": rng.integers(0, 2, size),
            "flag": rng.integers(0, 2, size),
        }
    )


def _interval_on(
    output: Output, keep: frozenset[frozenset[object]], columns: np.ndarray
) -> tuple[float, float]:
    """The count's interval with only the equations in `keep` published (and every at-least row)."""
    model, _ = build(Universe([output]), 0)
    position, a_eq, b_eq, a_ub, b_ub = model.matrices()
    rows = [k for k, source in enumerate(model.equality_sources()) if source in keep]
    assert a_eq is not None and rows
    equal = a_eq.to_scipy().tocsr()[rows]
    objective = np.zeros(int((position >= 0).sum()))
    objective[position[columns][position[columns] >= 0]] = 1.0
    ends = []
    for sign in (1.0, -1.0):
        solved = linprog(
            sign * objective, A_eq=equal, b_eq=b_eq[rows], bounds=(0, None), method="highs",
            A_ub=None if a_ub is None else a_ub.to_scipy(), b_ub=None if a_ub is None else b_ub,
        )  # fmt: skip
        ends.append(sign * solved.fun if solved.status == 0 else np.inf)
    return ends[0], ends[1]


@pytest.mark.parametrize("seed", range(4))
def test_every_alternative_set_pins_its_count_on_its_own(seed: int) -> None:
    output = _output(_table(seed), ["a", "b"])
    plain = audit_outputs([output], PROTECTION)
    audit = audit_outputs([output], PROTECTION, more=lambda target: 3, removable=lambda equation: True)
    assert [(i.low, i.high) for i in audit.intervals] == [(i.low, i.high) for i in plain.intervals]
    found = 0
    for interval in audit.exposed:
        sets = [interval.pins, *interval.alternatives]
        for k, cut in enumerate(sets):
            assert not any(cut & earlier for earlier in sets[:k])  # each found with the earlier ones out
            low, high = _interval_on(output, cut, interval.target.columns)
            assert low > 1e-6 and high - low < PROTECTION - 1e-6  # still pinned: a valid cut
        found += len(interval.alternatives)
    assert audit.exposed and found > 0  # some count had other sets: the test had something to check
