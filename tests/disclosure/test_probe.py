"""The probe (`disclosure._intervals.probe`): every count's LPs solved first on a second model beside the
audit's (primal simplex), its intervals taken where nothing is exposed, the audit's own model solving as
before where something is. Its promises (docs/disclosure.md, "How it is met", step 3):

- the cuts of every round of secondary suppression, and the published output, are exactly those of the
  audit without the probe (every audit on its own model) on COMPAS race x sex x age band, and the
  greedy fallback publishes the same output too;
- where an audit took the probe's intervals and a later one sharing its points must solve on its own
  model, the earlier audit's own points are found again (`_kept.Carried`, replay): every interval of
  the later audit, pins included, is that of the audits without the probe (and not so without the
  replay);
- which counts are exposed does not depend on the model that solved them: on tables where primary
  suppression alone leaves many exposures, the probe's intervals (taken exposed or not) have the exposed
  counts, and the ends of every count solved at both ends, of the audit's own model, and the attacker's
  own LP (tests/disclosure/attacker.py's WarmLp) agrees with both.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import misflag.decisions._protect as protect
from misflag.decisions import audit_decisions
from misflag.disclosure import Output, _audit, _kept, audit_outputs
from misflag.disclosure._equations import build
from misflag.disclosure._model import Universe
from tests.disclosure.attacker import WarmLp
from tests.disclosure.compas_specs import compas_log, output_bytes
from tests.disclosure.test_alternative_cuts import _table
from tests.disclosure.test_certified_by_points import _output

PROTECTION = 5.0
SLACK = 1e-6


def _small(seed: int) -> pa.Table:
    """300 people, 4 x 2 x 3 groups, random truth and flag (seed 5: the greedy runs 3 rounds)."""
    rng = np.random.default_rng(seed)
    size = 300
    return pa.table(
        {
            "a": rng.choice(["x", "y", "z", "w"], size, p=[0.4, 0.3, 0.2, 0.1]),
            "b": rng.choice(["u", "v"], size, p=[0.7, 0.3]),
            "c": rng.choice(["p", "q", "r"], size, p=[0.5, 0.3, 0.2]),
            "truth": rng.integers(0, 2, size),
            "flag": rng.integers(0, 2, size),
        }
    )


@pytest.fixture(scope="module")
def compas(compas_csv: Path) -> pa.Table:
    return compas_log(compas_csv)


def _audited(table: pa.Table, groups: list[str], probe: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The published output, the cuts handed to the MILP in each round, and what the probe and the
    replays did; without `probe`, every audit solves on its own model (the audit before the probe)."""
    cuts: list[frozenset[Any]] = []
    happened: Counter[str] = Counter()
    cheapest, original_probe, exact = protect.cheapest, _audit.probe, _kept.Carried.exact

    def recorded(sizes: Any, given: Any, seconds: float) -> Any:
        cuts.append(frozenset(given))
        return cheapest(sizes, given, seconds)

    def probed(*args: Any) -> Any:
        taken = original_probe(*args) if probe else None
        happened["taken" if taken is not None else "not taken"] += 1
        return taken

    def replayed(self: _kept.Carried) -> Any:
        happened["replays"] += not self.known
        return exact(self)

    with monkeypatch.context() as patch:
        patch.setattr(protect, "cheapest", recorded)
        patch.setattr(_audit, "probe", probed)
        patch.setattr(_kept.Carried, "exact", replayed)
        result = audit_decisions(table, flag="flag", truth="truth", groups=groups, intersect=True)
    secondary = result.metadata["disclosure_audit"].auditor_only["secondary_suppression"]
    happened[secondary["method"]] += 1
    return output_bytes(result), cuts, happened


def test_same_cuts_and_output_as_without_the_probe(compas: pa.Table, monkeypatch: pytest.MonkeyPatch) -> None:
    table, groups = compas, ["race", "sex", "age_cat"]
    published, cuts, happened = _audited(table, groups, True, monkeypatch)
    before, cuts_before, _ = _audited(table, groups, False, monkeypatch)
    assert len(cuts) >= 3  # several rounds of secondary suppression, each with its cuts
    assert cuts == cuts_before
    assert published == before
    assert happened["milp"] == 1
    assert happened["taken"] >= 1  # the probe's intervals were published from, not only tried


def test_greedy_fallback_publishes_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """The greedy reads only which counts are exposed: it takes the probe's intervals, exposed or not."""
    monkeypatch.setattr(protect, "OPTIMISER_ROUNDS", 0)
    table = _small(5)
    published, _, happened = _audited(table, ["a", "b", "c"], True, monkeypatch)
    before, _, _ = _audited(table, ["a", "b", "c"], False, monkeypatch)
    assert published == before
    assert happened["greedy"] == 1
    assert happened["taken"] >= 2  # rounds with counts exposed among them


@pytest.mark.parametrize("seed", range(6))
def test_exposed_counts_and_ends_do_not_depend_on_the_model(seed: int) -> None:
    output = _output(_table(seed), ["a", "b"])
    beside = audit_outputs([output], PROTECTION, pins=False)  # the probe's intervals, exposed or not
    own = audit_outputs([output], PROTECTION)  # something is exposed: the audit's own model solves all
    assert beside.exposed, "primary suppression alone leaves exposures"

    def exposed(audit: Any) -> list[bytes]:
        return sorted(i.target.columns.tobytes() for i in audit.exposed)

    assert exposed(beside) == exposed(own)
    model, _ = build(Universe([output]), 0)
    position, a_eq, b_eq, a_ub, b_ub = model.matrices()
    lp = WarmLp(
        None if a_eq is None else a_eq.to_scipy(), b_eq, None if a_ub is None else a_ub.to_scipy(), b_ub
    )
    solved = 0
    for interval in beside.intervals:
        objective = np.zeros(lp.size)
        columns = interval.target.columns
        objective[position[columns][position[columns] >= 0]] = 1.0
        low, high = lp.least(objective), -lp.least(-objective)
        assert low - SLACK <= interval.low <= interval.high <= high + SLACK
        if interval.exact:
            solved += 1
            assert interval.low == pytest.approx(low, abs=SLACK)
            assert interval.high == pytest.approx(high, abs=SLACK)
    assert solved >= len(beside.exposed)


def _published(seed: int) -> Output:
    """A small random table's protected output (`--min-cell 3`), as a reader holds it."""
    table = _table(seed)
    result = audit_decisions(table, flag="flag", truth="truth", groups=["a", "b"], intersect=True, min_cell=3)
    return Output(
        name="published",
        rows=result.rows(),
        groups=("a", "b"),
        stages={"decision": "flag"},
        truth="truth",
        weighted=False,
        population="test",
        rows_audited=float(table.num_rows),
    )


def _twice(output: Output, probe: bool, broken: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The output audited at protection 3 as its own audit did (counts of 3 or more not sensitive: nothing
    exposed, so the probe's intervals are taken and the own model's points wait), then at 8, every count
    sensitive (counts exposed: the own model solves, from the first audit's own
    points), sharing the points as the optimiser's rounds do; `broken` takes the probe's points for the
    own model's instead of replaying. Returns the second audit's intervals and how many replays ran."""
    exact, replays = _kept.Carried.exact, []

    def replayed(self: _kept.Carried) -> Any:
        replays.append(not self.known)
        if broken and not self.known:
            self._exact, self._replay = list(self.extra), None
        return exact(self)

    points: dict[str, _kept.Carried] = {}
    with monkeypatch.context() as patch:
        patch.setattr(_kept.Carried, "exact", replayed)
        if not probe:
            patch.setattr(_audit, "probe", lambda *args: None)
        first = audit_outputs([output], 3.0, sensitive_below=3, points=points)
        second = audit_outputs([output], 8.0, points=points)
    assert not first.exposed and second.exposed
    return [(i.low, i.high, i.exact, i.pins) for i in second.intervals], sum(replays)


@pytest.mark.parametrize("seed", range(3))
def test_own_points_found_again_when_a_later_audit_needs_them(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = _published(seed)
    replayed, replays = _twice(output, True, False, monkeypatch)
    before, _ = _twice(output, False, False, monkeypatch)
    broken, _ = _twice(output, True, True, monkeypatch)
    assert replays == 1
    assert replayed == before
    assert broken != before  # the control: the probe's points steer the own model elsewhere
