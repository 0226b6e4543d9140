"""The LP attacker (tests/disclosure/attacker.py, written apart from misflag's disclosure code) against one
published intersectional audit, on COMPAS (race x sex x age band) and on the 1996 American National
Election Study shipped inside statsmodels: no withheld count of 1 to 9 people can be pinned inside fewer
than 5 people while ruling out zero. The control: primary suppression alone (groups and denominators
under 10 withheld, nothing else), built by the test from the raw counts, is broken by the same attacker.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from misflag.decisions import audit_decisions
from tests.disclosure.attacker import COUNTED, Attacker, exposed, truth_counts

MIN_CELL = 10


@pytest.fixture(scope="module")
def compas(compas_csv: Path) -> tuple[pa.Table, list[str]]:
    table = duckdb.sql(
        f"SELECT race, sex, age_cat, two_year_recid AS truth, "
        f"CAST(score_text IN ('Medium', 'High') AS INTEGER) AS flag FROM read_csv_auto('{compas_csv}')"
    ).to_arrow_table()
    return table, ["race", "sex", "age_cat"]


@pytest.fixture(scope="module")
def anes() -> tuple[pa.Table, list[str]]:
    """ANES 1996 (944 people): flag = voted Dole, truth = leans Republican (PID >= 4)."""
    from statsmodels.datasets import anes96

    frame = duckdb.from_df(anes96.load_pandas().data)
    table = frame.query(
        "frame",
        "SELECT CAST(CAST(educ AS INTEGER) AS VARCHAR) AS educ, "
        "CASE WHEN income < 12 THEN 'low' WHEN income < 19 THEN 'middle' ELSE 'high' END AS income, "
        "CASE WHEN age < 35 THEN 'under 35' WHEN age < 60 THEN '35-59' ELSE '60+' END AS age, "
        "CAST(PID >= 4 AS INTEGER) AS truth, CAST(vote AS INTEGER) AS flag FROM frame",
    ).to_arrow_table()
    return table, ["educ", "income", "age"]


def _attacker(table: pa.Table, names: list[str]) -> Attacker:
    return Attacker({name: sorted({str(v) for v in table.column(name).to_pylist()}) for name in names})


_AUDITED: dict[str, tuple[Attacker, Any, Any]] = {}


def _audited(dataset: str, request: pytest.FixtureRequest) -> tuple[Attacker, Any, Any]:
    """The audit as published (cost-aware suppression), read by the attacker; once per dataset."""
    if dataset not in _AUDITED:
        table, names = request.getfixturevalue(dataset)
        result = audit_decisions(table, flag="flag", truth="truth", groups=names, intersect=True)
        attacker = _attacker(table, names)
        attacker.read(0, result.rows(), {}, result.metadata["rows_audited"])
        _AUDITED[dataset] = (attacker, truth_counts(attacker, table, "truth", "flag"), result)
    return _AUDITED[dataset]


@pytest.mark.parametrize("dataset", ["compas", "anes"])
def test_no_withheld_count_is_pinned_down(dataset: str, request: pytest.FixtureRequest) -> None:
    attacker, counts, result = _audited(dataset, request)
    small = [c for c in attacker.targets if 1 <= counts[list(c)].sum() < MIN_CELL]
    assert small  # the audit withholds sensitive counts, so the attack has something to find
    assert exposed(attacker, counts, MIN_CELL) == []
    summary = result.metadata["disclosure_audit"].auditor_only  # the auditor's diagnostics, never written
    assert summary["withheld_counts_checked"] == summary["withheld_counts_protected"] > 0
    assert summary["secondary_suppression"]["method"] == "milp"


@pytest.mark.parametrize("dataset", ["compas", "anes"])
def test_the_optimiser_withholds_no_more_than_the_greedy_fallback(
    dataset: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Information loss on the same table: people in groups withheld whole, groups whose rates are
    withheld, figures withheld; the published result above already passed the attacker."""
    _, _, optimal = _audited(dataset, request)
    table, names = request.getfixturevalue(dataset)
    monkeypatch.setattr("misflag.decisions._protect.OPTIMISER_ROUNDS", 0)
    greedy = audit_decisions(table, flag="flag", truth="truth", groups=names, intersect=True)
    assert greedy.metadata["disclosure_audit"].auditor_only["secondary_suppression"]["method"] == "greedy"
    sizes = {
        (r["attribute"], r["group"]): r["value"]
        for r in audit_decisions(
            table, flag="flag", truth="truth", groups=names, intersect=True, min_cell=1
        ).rows()
        if r["metric"] == "n"
    }
    assert sum(v for v in sizes.values()) == table.num_rows * (2 ** len(names))  # each grouping covers all
    loss = {name: _loss(result.rows(), sizes) for name, result in (("optimal", optimal), ("greedy", greedy))}
    assert all(o <= g for o, g in zip(loss["optimal"], loss["greedy"], strict=True))
    assert loss["optimal"][0] < loss["greedy"][0]  # strictly fewer people withheld whole


def _loss(rows: list[dict[str, Any]], sizes: dict[Any, Any]) -> tuple[float, float, int]:
    """(people in groups withheld whole, people in groups with a rate withheld, figures withheld)."""
    whole = {(r["attribute"], r["group"]) for r in rows if r["metric"] == "n" and r["suppressed"]}
    rates = {(r["attribute"], r["group"]) for r in rows if r["metric"] != "n" and r["suppressed"]}
    figures = sum(r["suppressed"] for r in rows if not r["metric"].endswith(("_ratio", "_diff")))
    return sum(sizes[u] for u in whole), sum(sizes[u] for u in rates), figures


def _naive_rows(attacker: Attacker, counts: Any, names: list[str]) -> list[dict[str, Any]]:
    """Primary suppression only: a group under 10 people, or a rate on fewer than 10, is withheld."""
    rows = []
    for size in range(len(names) + 1):
        for members in combinations(names, size):
            values = [attacker_values for attacker_values in _values(attacker, members)]
            for key in values:
                where = dict(zip(members, key, strict=True))
                n = counts[list(attacker._columns(where, COUNTED["n"][1]))].sum()
                if n == 0:
                    continue
                attribute = " & ".join(members) or "overall"
                group = " & ".join(key) or "all"
                for metric, (top, bottom) in COUNTED.items():
                    den = counts[list(attacker._columns(where, bottom))].sum()
                    num = counts[list(attacker._columns(where, top))].sum()
                    withheld = n < MIN_CELL or 0 < den < MIN_CELL
                    rows.append(
                        {
                            "attribute": attribute,
                            "group": group,
                            "stage": "all" if metric in ("n", "base_rate") else "decision",
                            "metric": metric,
                            "value": None if withheld or den == 0 else (n if metric == "n" else num / den),
                            "denominator": None if withheld else den,
                            "suppressed": withheld,
                            "warning": None,
                        }
                    )
    return rows


def _values(attacker: Attacker, members: tuple[str, ...]) -> list[tuple[str, ...]]:
    from itertools import product

    return list(
        product(*(sorted({cell[attacker.names.index(m)] for cell in attacker.cells}) for m in members))
    )


@pytest.mark.parametrize("dataset", ["compas", "anes"])
def test_the_same_attacker_breaks_primary_suppression_alone(
    dataset: str, request: pytest.FixtureRequest
) -> None:
    table, names = request.getfixturevalue(dataset)
    attacker = _attacker(table, names)
    counts = truth_counts(attacker, table, "truth", "flag")
    attacker.read(0, _naive_rows(attacker, counts, names), {}, table.num_rows)
    found = exposed(attacker, counts, MIN_CELL)
    assert found
    assert any(high == low for _, low, high, _, _ in found)  # some withheld counts are recovered exactly
