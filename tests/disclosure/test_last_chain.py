"""The last alternative-cut pass of a model skips the lower end where the upper end alone frees the count
(`disclosure._audit._alternatives`, `last`): no solve follows it, so its basis decides nothing. Every
interval, its pins and its alternative sets must be exactly those of the passes without the shortcut,
and fewer LPs must be solved; and a whole decision audit (COMPAS race x sex x age band, 8 rounds of
secondary suppression) must publish byte-identical rows and metadata either way, with fewer solves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from misflag.decisions import audit_decisions
from misflag.disclosure import _audit, audit_outputs
from misflag.disclosure._lp import Problem
from tests.disclosure.compas_specs import compas_log, output_bytes
from tests.disclosure.test_alternative_cuts import PROTECTION, _table
from tests.disclosure.test_certified_by_points import _output


def _without_shortcut(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pass as if another solve followed it (the audit before the shortcut)."""
    original = _audit._alternatives

    def every_end(problem: Problem, interval: Any, columns: np.ndarray, limits: Any, removable: Any) -> Any:
        return original(problem, interval, columns, (*limits[:3], False), removable)

    monkeypatch.setattr(_audit, "_alternatives", every_end)


def _counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    solves: list[int] = []
    original = Problem.solve

    def solve(self: Problem, objective: np.ndarray) -> Any:
        solves.append(1)
        return original(self, objective)

    monkeypatch.setattr(Problem, "solve", solve)
    return solves


def _described(audit: Any) -> list[tuple[Any, ...]]:
    return [(i.low, i.high, i.exact, i.pins, i.alternatives) for i in audit.intervals]


def test_same_cuts_fewer_solves(monkeypatch: pytest.MonkeyPatch) -> None:
    solves = _counted(monkeypatch)
    shipped, counts = [], []
    for seed in range(8):
        output = _output(_table(seed), ["a", "b"])
        solves.clear()
        shipped.append(
            _described(audit_outputs([output], PROTECTION, more=lambda t: 3, removable=lambda e: True))
        )
        counts.append(len(solves))
    _without_shortcut(monkeypatch)
    for seed in range(8):
        output = _output(_table(seed), ["a", "b"])
        solves.clear()
        full = _described(audit_outputs([output], PROTECTION, more=lambda t: 3, removable=lambda e: True))
        assert full == shipped[seed]
        assert counts[seed] <= len(solves)
        counts[seed] -= len(solves)
    assert min(counts) < 0  # the shortcut saved a solve somewhere: the comparison had something to check


@pytest.fixture(scope="module")
def compas(compas_csv: Path) -> pa.Table:
    return compas_log(compas_csv)


def test_decision_audit_byte_identical(compas: pa.Table, monkeypatch: pytest.MonkeyPatch) -> None:
    def audit() -> Any:
        return audit_decisions(
            compas, flag="flag", truth="truth", groups=["race", "sex", "age_cat"], intersect=True
        )

    solves = _counted(monkeypatch)
    shipped = audit()
    fewer = len(solves)
    diagnostics = shipped.metadata["disclosure_audit"].auditor_only  # never written with the output
    secondary = diagnostics["secondary_suppression"]
    assert secondary["method"] == "milp" and secondary["rounds"] > 2  # alternative cuts were asked for
    _without_shortcut(monkeypatch)
    solves.clear()
    again = audit()
    assert output_bytes(again) == output_bytes(shipped)
    assert again.metadata["disclosure_audit"].auditor_only == diagnostics
    assert fewer < len(solves)
