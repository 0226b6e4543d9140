"""The probe (`disclosure._intervals.probe`): every count's LPs solved first on a second model beside the
audit's (primal simplex), its intervals taken where nothing is exposed, the audit's own model solving as
before where something is. Its promises (docs/disclosure.md, "How it is met", step 3):

- the cuts of every round of secondary suppression, and the published output, are exactly those of the
  audit without the probe (every audit on its own model), on COMPAS race x sex x age band and on a small
  random table where an earlier audit's own points had to be found again (`_kept.Carried`, replay);
  the greedy fallback publishes the same output too;
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
from misflag.disclosure import _audit, _kept, audit_outputs
from misflag.disclosure._equations import build
from misflag.disclosure._model import Universe
from tests.disclosure.attacker import WarmLp
from tests.disclosure.compas_specs import compas_log, output_bytes
from tests.disclosure.test_alternative_cuts import _table
from tests.disclosure.test_certified_by_points import _output

PROTECTION = 5.0
SLACK = 1e-6


def _small(seed: int) -> pa.Table:
    """300 people, 4 x 2 x 3 groups, random truth and flag. On seed 69 a full audit after a passing round
    of secondary suppression finds a count exposed again, so the passing round's own points are found
    again (`Carried.exact` replays it), and with the probe's points taken for them instead, the next
    rounds' cuts differ (of seeds 0 to 79, 8 replay, and on 69 alone the cuts differ without it)."""
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


@pytest.mark.parametrize("design", ["compas", "small-69"])
def test_same_cuts_and_output_as_without_the_probe(
    design: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    if design == "compas":
        table, groups = request.getfixturevalue("compas"), ["race", "sex", "age_cat"]
    else:
        table, groups = _small(int(design.split("-")[1])), ["a", "b", "c"]
    published, cuts, happened = _audited(table, groups, True, monkeypatch)
    before, cuts_before, _ = _audited(table, groups, False, monkeypatch)
    assert len(cuts) >= 3  # several rounds of secondary suppression, each with its cuts
    assert cuts == cuts_before
    assert published == before
    assert happened["milp"] == 1
    assert happened["taken"] >= 1  # the probe's intervals were published from, not only tried
    if design != "compas":
        assert happened["replays"] >= 1  # an audit's own points were found again


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
