"""Weighted (audit-sample) outputs against LP attackers written apart from misflag's code.

A log audited whole at weight 1 publishes the unweighted rates, so `attacker.py` (every rate as value x
denominator) is its reader; a stratified audit sample whose weights follow the flag
(`CASE WHEN flag = 1 THEN 1 ELSE 3 END`, in the output's metadata) is read by `attacker_weighted.py`
(every weighted rate as sum(w x numerator) = value x sum(w x denominator)). Neither pins a sensitive
withheld count. The controls: the same audits protected by the earlier model, which read weighted rates
as estimates (the weights unknown to the reader), are broken by the same attackers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import misflag.decisions._protect as protect_module
from misflag.decisions import audit_decisions
from misflag.disclosure._load import bundle_output
from misflag.disclosure._weights import state_weights
from tests.disclosure import attacker, attacker_weighted

MIN_CELL = 3
STRATA = "CASE WHEN flag = 1 THEN 1 ELSE 3 END"


def _log(seed: int, size: int, sampled: bool) -> dict[str, list[Any]]:
    """Two attributes, random truth and flag; `sampled`: every flagged row audited, a third of the rest."""
    random = np.random.default_rng(seed)
    a, b = random.choice(["x", "y", "z"], size), random.choice(["p", "q"], size)
    truth, flag = random.integers(0, 2, size), random.integers(0, 2, size)
    audited = (flag == 1) | (random.random(size) < 1 / 3) if sampled else np.ones(size, dtype=bool)
    return {
        "a": a.tolist(),
        "b": b.tolist(),
        "truth": [int(t) if k else None for t, k in zip(truth, audited, strict=True)],
        "flag": flag.tolist(),
    }


def _audit(data: dict[str, list[Any]], weight: str | None) -> Any:
    return audit_decisions(
        pa.table(data), flag="flag", truth="truth", groups=["a", "b"], intersect=True, min_cell=MIN_CELL,
        weight=weight,
    )  # fmt: skip


def _weight_one_exposed(data: dict[str, list[Any]]) -> list[Any]:
    result = _audit(data, "1")
    reader = attacker.Attacker({k: sorted(set(data[k])) for k in ("a", "b")})
    reader.read(0, result.rows(), {}, result.metadata["rows_audited"])
    return attacker.exposed(reader, attacker.truth_counts(reader, pa.table(data), "truth", "flag"), MIN_CELL)


def _stratified_exposed(data: dict[str, list[Any]]) -> list[Any]:
    result = _audit(data, STRATA)
    weights = attacker_weighted.flag_weights(result.metadata["expressions"]["weight"])
    assert weights == {0: 3.0, 1: 1.0}  # what the metadata tells the reader
    reader = attacker_weighted.WeightedAttacker({k: sorted(set(data[k])) for k in ("a", "b")}, weights)
    reader.read(result.rows(), result.metadata["rows_audited"])
    return attacker_weighted.exposed(reader, attacker_weighted.truth_counts(reader, data), MIN_CELL)


def _as_estimates(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model before: a weighted rate read as an estimate, never as an equation over counts."""
    monkeypatch.setattr(protect_module, "state_weights", lambda *args: None)


@pytest.mark.parametrize("seed", [2, 3])
def test_weight_one_is_protected_exactly_as_unweighted(seed: int) -> None:
    data = _log(seed, 60, sampled=False)
    assert _weight_one_exposed(data) == []
    plain, weighted = _audit(data, None).rows(), _audit(data, "1").rows()
    key = ("attribute", "group", "stage", "metric")
    assert {tuple(r[k] for k in key): r["suppressed"] for r in weighted} == {
        tuple(r[k] for k in key): r["suppressed"] for r in plain
    }
    assert sum(r["suppressed"] for r in plain) > 0


def test_weight_one_control_leaks_with_rates_read_as_estimates(monkeypatch: pytest.MonkeyPatch) -> None:
    _as_estimates(monkeypatch)
    leaked = _weight_one_exposed(_log(2, 60, sampled=False))
    assert leaked  # e.g. a count of 1 or 2 pinned exactly by value x denominator
    assert all(1 <= value < MIN_CELL and high - low < 2 for value, low, high, _, _ in leaked)


@pytest.mark.parametrize("seed", [1, 6, 8])
def test_stratified_sample_with_published_weights_pins_nothing(seed: int) -> None:
    assert _stratified_exposed(_log(seed, 90, sampled=True)) == []


@pytest.mark.parametrize("seed", [1, 6, 8])
def test_stratified_control_leaks_with_rates_read_as_estimates(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    _as_estimates(monkeypatch)
    assert _stratified_exposed(_log(seed, 90, sampled=True))


def test_weights_a_reader_can_work_out() -> None:
    constant = state_weights("1", ("flag",), "truth")
    assert constant is not None and constant.table == {(): 1.0}
    strata = state_weights("CASE WHEN (flag = 1) THEN 1 ELSE 4 END", ("flag = 1", "review"), "truth")
    assert strata is not None and strata.stages == ("flag = 1",) and strata.table == {(0,): 4.0, (1,): 1.0}
    by_truth = state_weights("CASE WHEN truth = 1 THEN 2 ELSE 5 END", ("flag",), "truth")
    assert by_truth is not None and by_truth.table == {(1,): 2.0, (0,): 5.0}
    # unknown to the reader: a weight column, a group column, a function, a query, not a positive number
    for hidden in ("w", "CASE WHEN race = 'x' THEN 2 ELSE 1 END", "abs(-2)", "(SELECT 1)", "0", "1 +", "x'"):
        assert state_weights(hidden, ("flag",), "truth") is None


def test_a_saved_weighted_output_carries_its_weights_to_the_check() -> None:
    result = _audit(_log(1, 90, sampled=True), STRATA)
    output = bundle_output("saved", result.rows(), result.metadata)
    assert output.weights is not None and sorted(output.weights.table.values()) == [1.0, 3.0]
