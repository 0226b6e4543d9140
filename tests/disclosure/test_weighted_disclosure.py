"""Weighted (audit-sample) outputs against LP attackers written apart from misflag's code.

A log audited whole at weight 1 publishes the unweighted rates, so `attacker.py` (every rate as value x
denominator) is its reader; a stratified audit sample whose weights follow the flag
(`CASE WHEN flag = 1 THEN 1 ELSE 3 END`, in the output's metadata) is read by `attacker_weighted.py`
(every weighted rate as sum(w x numerator) = value x sum(w x denominator)). Neither pins a sensitive
withheld count. The controls: the same audits protected by the earlier model, which read weighted rates
as estimates (the weights unknown to the reader), are broken by the same attackers.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import misflag.decisions._protect as protect_module
import misflag.disclosure._equations as equations_module
from misflag.decisions import audit_decisions
from misflag.disclosure._figures import reads_as_counts
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


GROUP_STRATA = "CASE WHEN a = 'x' AND flag = 0 THEN 4 WHEN flag = 0 THEN 2 ELSE 1 END"


def _group_log(seed: int, size: int) -> dict[str, list[Any]]:
    """Every flagged row audited; of the rest, a quarter in a = x, half elsewhere (GROUP_STRATA)."""
    random = np.random.default_rng(seed)
    a, b = random.choice(["x", "y", "z"], size), random.choice(["p", "q"], size)
    truth, flag = random.integers(0, 2, size), random.integers(0, 2, size)
    audited = (flag == 1) | (random.random(size) < np.where(a == "x", 1 / 4, 1 / 2))
    return {
        "a": a.tolist(),
        "b": b.tolist(),
        "truth": [int(t) if k else None for t, k in zip(truth, audited, strict=True)],
        "flag": flag.tolist(),
    }


def _group_strata_exposed(data: dict[str, list[Any]]) -> list[Any]:
    result = _audit(data, GROUP_STRATA)
    values = {k: sorted(set(data[k])) for k in ("a", "b")}
    weights = attacker_weighted.cell_weights(result.metadata["expressions"]["weight"], values)
    assert weights[("x", "p", 0)] == 4.0 and weights[("y", "q", 0)] == 2.0 and weights[("z", "p", 1)] == 1.0
    reader = attacker_weighted.WeightedAttacker(values, weights)
    reader.read(result.rows(), result.metadata["rows_audited"])
    return attacker_weighted.exposed(reader, attacker_weighted.truth_counts(reader, data), MIN_CELL)


def _as_estimates(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model before: a weighted rate read as an estimate, never as an equation over counts."""
    monkeypatch.setattr(protect_module, "state_weights", lambda *args: None)
    monkeypatch.setattr(protect_module, "reads_as_counts", lambda row: False)
    monkeypatch.setattr(equations_module, "reads_as_counts", lambda row: False)


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
    assert leaked  # counts of 1 or 2 pinned by value x denominator
    assert all(1 <= value < MIN_CELL and high - low < 2 for value, low, high, _, _ in leaked)


def test_which_weighted_rates_read_as_counts_whatever_the_weights() -> None:
    """0 and 1 only: FPR 1/3 of 3 audited negatives (2 flagged at weight 1, 1 cleared at weight 4: 2 / 6)
    publishes Wilson's interval of 1 of 3, which a design audited whole at weight 1 would publish too."""
    row = {"value": 1 / 3, "denominator": 3, "ci_low": 0.06149194472039626, "ci_high": 0.7923403991979523}
    assert not reads_as_counts(row)
    for value in (0.0, 1.0):  # positive weights: no one, or everyone, whatever the interval
        assert reads_as_counts({**row, "value": value})
    assert not reads_as_counts({**row, "value": None}) and not reads_as_counts({**row, "denominator": 0})


@pytest.mark.parametrize("seed", [1, 6, 7, 8])
def test_stratified_sample_with_published_weights_pins_nothing(seed: int) -> None:
    assert _stratified_exposed(_log(seed, 90, sampled=True)) == []


@pytest.mark.parametrize("seed", [6, 7, 8])
def test_stratified_control_leaks_with_rates_read_as_estimates(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seed 1's log leaks nothing even so since a weight class of 1 to --min-cell - 1 people withholds its
    group's weighted rates (decisions._disclosure): seed 7's, which still does, is the third control."""
    _as_estimates(monkeypatch)
    assert _stratified_exposed(_log(seed, 90, sampled=True))


@pytest.mark.parametrize("seed", [0, 6])
def test_strata_by_group_and_flag_with_published_weights_pin_nothing(seed: int) -> None:
    assert _group_strata_exposed(_group_log(seed, 120)) == []


@pytest.mark.parametrize("seed", [0, 6])
def test_group_strata_control_leaks_with_rates_read_as_estimates(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    _as_estimates(monkeypatch)
    assert _group_strata_exposed(_group_log(seed, 120))


def test_weights_a_reader_can_work_out() -> None:
    constant = state_weights("1", ("flag",), "truth")
    assert constant is not None and constant.table(()) == {(): 1.0}
    strata = state_weights("CASE WHEN (flag = 1) THEN 1 ELSE 4 END", ("flag = 1", "review"), "truth")
    assert strata is not None and strata.stages == ("flag = 1",)
    assert strata.table(()) == {(0,): 4.0, (1,): 1.0}
    by_truth = state_weights("CASE WHEN truth = 1 THEN 2 ELSE 5 END", ("flag",), "truth")
    assert by_truth is not None and by_truth.table(()) == {(1,): 2.0, (0,): 5.0}
    by_group = state_weights(
        "CASE WHEN race = 'x' AND flag = 0 THEN 2 ELSE 1 END", ("flag",), "t", ("sex", "race")
    )
    assert by_group is not None and by_group.groups == (1,) and by_group.stages == ("flag",)
    assert by_group.table((("x", "it's", None),)) == {
        ("x", 0): 2.0, ("x", 1): 1.0, ("it's", 0): 1.0, ("it's", 1): 1.0, (None, 0): 1.0, (None, 1): 1.0
    }  # fmt: skip
    numbers = state_weights("CASE WHEN educ = 1 THEN 3 ELSE 1 END", ("flag",), "t", ("educ",))
    assert numbers is not None and numbers.table((("1", "2"),)) == {("1",): 3.0, ("2",): 1.0}
    assert numbers.table((("1", "high school"),)) is None  # a label DuckDB cannot compare: unknown
    # unknown to the reader: a weight column, an unpublished column, a function, a query, not a positive
    # number, not SQL
    for hidden in ("w", "CASE WHEN race = 'x' THEN 2 ELSE 1 END", "abs(-2)", "(SELECT 1)", "0", "1 +", "x'"):
        assert state_weights(hidden, ("flag",), "truth") is None


def test_a_saved_weighted_output_carries_its_weights_to_the_check() -> None:
    result = _audit(_log(1, 90, sampled=True), STRATA)
    output = bundle_output("saved", result.rows(), result.metadata)
    assert output.weights is not None and output.weights.table(()) == {(0,): 3.0, (1,): 1.0}


def test_compas_at_weight_one_withholds_what_the_unweighted_audit_withholds(compas_csv: Any) -> None:
    """COMPAS race x sex x age band, audited whole at weight 1."""
    import duckdb

    table = duckdb.sql(
        "SELECT race, sex, age_cat, two_year_recid AS truth, "
        f"CAST(score_text IN ('Medium', 'High') AS INTEGER) AS flag FROM read_csv_auto('{compas_csv}')"
    ).to_arrow_table()
    rows = [
        audit_decisions(
            table, flag="flag", truth="truth", groups=["race", "sex", "age_cat"], intersect=True, weight=w
        ).rows()
        for w in (None, "1")
    ]
    assert [r["suppressed"] for r in rows[1]] == [r["suppressed"] for r in rows[0]]
    assert sum(r["suppressed"] for r in rows[0]) > 100


def test_disclosure_check_reads_the_weights_of_a_saved_output(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stratified output protected with rates read as estimates, saved: `misflag disclosure check` reads
    the weights from its metadata and lists every count the independent attacker pins; with the weights
    hidden from the check, it misses them."""
    from misflag.cli import main

    data = _log(6, 90, sampled=True)
    with monkeypatch.context() as patch:
        _as_estimates(patch)
        pinned = _stratified_exposed(data)
        saved = _audit(data, STRATA).save(tmp_path / "stratified.json")
    assert len(pinned) >= 3
    assert main(["disclosure", "check", str(saved), "--min-cell", str(MIN_CELL)]) == 3
    lines = capsys.readouterr().out.splitlines()
    assert f"; {len(pinned)} exposed" in lines[-1]
    for _, low, high, row, _ in pinned:
        found = f"a & b = {row['group']}, decision "
        ends = f": {round(low):g} to {round(high):g} people"
        assert any(found in line and ends in line and "numerator" in line for line in lines), (row, lines)
    monkeypatch.setattr("misflag.disclosure._load.state_weights", lambda *args: None)
    monkeypatch.setattr(equations_module, "reads_as_counts", lambda row: False)
    main(["disclosure", "check", str(saved), "--min-cell", str(MIN_CELL)])
    assert f"; {len(pinned)} exposed" not in capsys.readouterr().out


@pytest.mark.parametrize(
    "expressions",
    [{"weight": "((((1", "groups": ['"a"', '"b"']}, {"weight": "read_csv('/etc/passwd')"}, {"groups": 5}],
)
def test_a_saved_output_with_hostile_weight_metadata_is_read_without_weights(
    tmp_path: Any, expressions: dict[str, Any]
) -> None:
    from misflag.disclosure._load import load_output

    result = _audit(_log(1, 90, sampled=True), STRATA)
    saved = result.save(tmp_path / "stratified.json")
    bundle = json.loads(saved.read_text())
    bundle["metadata"]["expressions"].update(expressions)
    saved.write_text(json.dumps(bundle))
    assert load_output(saved).weights is None
