"""The audit certifies most withheld counts from feasible points, without LPs of their own. The shortcut
must never pass a count that the full LP (least and most, solved here on the same equations by the
attacker's own HiGHS model, tests/disclosure/attacker.py's WarmLp) finds narrower than the protection
level, and its interval must lie inside the full one.
Tried where exposures abound: primary suppression alone on COMPAS, on ANES 1996 and on small random tables.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from misflag.disclosure import Output, audit_outputs
from misflag.disclosure._equations import build
from misflag.disclosure._model import Universe
from tests.disclosure.attacker import WarmLp, truth_counts
from tests.disclosure.test_lp_attack_one_output import _attacker, _naive_rows, anes, compas

__all__ = ["anes", "compas"]  # the fixtures, shared with the attack tests
PROTECTION = 5.0
SLACK = 1e-6


def _output(table: pa.Table, names: list[str]) -> Output:
    attacker = _attacker(table, names)
    rows = _naive_rows(attacker, truth_counts(attacker, table, "truth", "flag"), names)
    return Output(
        name="naive",
        rows=rows,
        groups=tuple(names),
        stages={"decision": "flag"},
        truth="truth",
        weighted=False,
        population="test",
        rows_audited=float(table.num_rows),
    )


def _full_interval(columns: np.ndarray, position: np.ndarray, lp: WarmLp) -> tuple[float, float]:
    objective = np.zeros(lp.size)
    objective[position[columns][position[columns] >= 0]] = 1.0
    return lp.least(objective), -lp.least(-objective)


def _check(output: Output) -> int:
    """Every shortcut interval against the full LP; returns how many counts the shortcut certified."""
    audit = audit_outputs([output], PROTECTION)
    model, _ = build(Universe([output]), 0)
    position, a_eq, b_eq, a_ub, b_ub = model.matrices()
    lp = WarmLp(
        None if a_eq is None else a_eq.to_scipy(), b_eq, None if a_ub is None else a_ub.to_scipy(), b_ub
    )
    certified = [i for i in audit.intervals if not i.exact]
    for interval in certified:
        low, high = _full_interval(interval.target.columns, position, lp)
        assert low - SLACK <= interval.low <= interval.high <= high + SLACK
        assert high - low >= PROTECTION - SLACK or low <= SLACK
    for interval in audit.intervals:
        if interval.exact:
            low, high = _full_interval(interval.target.columns, position, lp)
            assert (interval.low, interval.high) == (pytest.approx(low, abs=SLACK), pytest.approx(high))
    assert len(audit.exposed) > 0  # primary suppression alone leaves exposures: the shortcut had some to miss
    return len(certified)


@pytest.mark.parametrize("dataset", ["compas", "anes"])
def test_no_count_certified_by_points_is_narrower_by_the_full_lp(
    dataset: str, request: pytest.FixtureRequest
) -> None:
    table, names = request.getfixturevalue(dataset)
    assert _check(_output(table, names)) > 0


@pytest.mark.parametrize("seed", range(8))
def test_small_random_tables(seed: int) -> None:
    """80 people, 3 x 2 groups, random truth and flag: few people per cell, many narrow intervals."""
    rng = np.random.default_rng(seed)
    size = 80
    table = pa.table(
        {
            "a": rng.choice(["x", "y", "z"], size, p=[0.6, 0.3, 0.1]),
            "b": rng.choice(["u", "v"], size, p=[0.8, 0.2]),
            "truth": rng.integers(0, 2, size),
            "flag": rng.integers(0, 2, size),
        }
    )
    _check(_output(table, ["a", "b"]))
