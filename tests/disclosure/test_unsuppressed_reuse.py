"""The unsuppressed rows (the auditor's truth) are computed in the first suppression round and reused in
every later one (`decisions._disclosure.UnsuppressedRows`). The output must not change: each audit below is run
twice, once as shipped and once with the rows computed afresh in every round (as before the reuse), and
the two outputs (rows and metadata as JSON text) must be byte-identical. Three specs: an intersected table
needing secondary suppression, a weighted audit (strata by group, weights published), linked tables."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from misflag.decisions import audit_decisions
from misflag.decisions._disclosure import UnsuppressedRows


@pytest.fixture(scope="module")
def compas(compas_csv: Path) -> pa.Table:
    return duckdb.sql(
        "SELECT race, sex, age_cat, two_year_recid AS truth, "
        f"CAST(score_text IN ('Medium', 'High') AS INTEGER) AS flag FROM read_csv_auto('{compas_csv}')"
    ).to_arrow_table()


def _intersected(table: pa.Table) -> Any:
    return audit_decisions(table, flag="flag", truth="truth", groups=["race", "sex"], intersect=True)


def _weighted(table: pa.Table) -> Any:
    # a stratified audit sample: every flagged person audited at weight 1, cleared people of a race
    # other than Caucasian at weight 2 (the weight's expression and groups are published)
    return audit_decisions(
        table, flag="flag", truth="truth", groups=["race", "sex"], intersect=True,
        weight="CASE WHEN flag = 1 THEN 1 WHEN race = 'Caucasian' THEN 1 ELSE 2 END",
    )  # fmt: skip


def _linked(table: pa.Table) -> Any:
    return audit_decisions(
        table, flag="flag", truth="truth", table_sets=["race", "race, sex"], breakdown="age_cat"
    )


def _output(result: Any) -> bytes:
    return json.dumps({"rows": result.rows(), "metadata": result.metadata}, default=str).encode()


@pytest.mark.parametrize(
    "run", [_intersected, _weighted, _linked], ids=["secondary", "weighted", "table-set"]
)
def test_the_output_is_byte_identical_with_and_without_the_reuse(
    run: Callable[[pa.Table], Any], compas: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    computed: list[int] = []
    original = UnsuppressedRows.get

    def counted(self: UnsuppressedRows, compute: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        def counting() -> list[dict[str, Any]]:
            computed.append(1)
            return compute()

        return original(self, counting)

    monkeypatch.setattr(UnsuppressedRows, "get", counted)
    reused = run(compas)
    assert len(computed) == 1  # once per audit, whatever the number of rounds
    computed.clear()
    monkeypatch.setattr(UnsuppressedRows, "get", lambda self, compute: counted(UnsuppressedRows(), compute))
    afresh = run(compas)
    assert len(computed) > 1  # several suppression rounds, so the reuse has something to reuse
    assert any("(secondary)" in s["reason"] for s in afresh.metadata["suppressions"])
    assert _output(reused) == _output(afresh)
