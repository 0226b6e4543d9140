"""Disclosure control, attacked from the outside: published figures only, two independent attacks.

The attacks rebuild every count the output publishes (a group's n; a rate's numerator = value x
denominator, and its denominator), write down every sum the output implies (each group is the sum of the
groups refining it by one more attribute, every attribute sums to the overall row) and try to solve for
the withheld counts: by repeated subtraction, and by linear algebra (a withheld count is determined when
its unit vector is in the row space of the equations, tested with numpy's matrix_rank).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from misflag.decisions import audit_decisions
from misflag.errors import InputError

FLAG = "score_text IN ('Medium', 'High')"
Unit = tuple[tuple[str, ...], tuple[str, ...]]  # (attributes, values)


@pytest.fixture(scope="module")
def compas_2000(compas_csv: Path) -> pa.Table:
    query = f"SELECT * FROM read_csv_auto('{compas_csv}') USING SAMPLE 2000 ROWS (reservoir, 7)"
    return duckdb.sql(query).to_arrow_table()


@pytest.fixture(scope="module")
def intersectional(compas_2000: pa.Table) -> Any:
    """The 2,000-row intersectional audit by race x sex x age band, default settings: it runs to the end."""
    return audit_decisions(
        compas_2000, flag=FLAG, truth="two_year_recid", groups=["race", "sex", "age_cat"], intersect=True
    )


def _unit(row: dict[str, Any]) -> Unit:
    if row["attribute"] == "overall":
        return ((), ())
    return (tuple(row["attribute"].split(" & ")), tuple(row["group"].split(" & ")))


def _published(rows: list[dict[str, Any]], stage: str, metric: str, part: str) -> dict[Unit, float | None]:
    """Every unit's count for one figure (None = withheld); absent intersections are known zeros."""
    out: dict[Unit, float | None] = {}
    for row in rows:
        if row["metric"] == "n" and row["warning"] and row["warning"].startswith("absent"):
            out[_unit(row)] = 0.0
        elif row["stage"] == stage and row["metric"] == metric:
            if row["suppressed"]:
                out[_unit(row)] = None
            elif part == "denominator" or metric == "n":
                out[_unit(row)] = row["denominator"] if metric != "n" else row["value"]
            else:
                out[_unit(row)] = 0.0 if row["value"] is None else row["value"] * row["denominator"]
    return out


def _equations(units: dict[Unit, float | None]) -> list[tuple[Unit, list[Unit]]]:
    by_attributes: dict[tuple[str, ...], list[Unit]] = defaultdict(list)
    for unit in units:
        by_attributes[unit[0]].append(unit)
    out = []
    for attributes, members in by_attributes.items():
        for drop in range(len(attributes)):
            parents: dict[Unit, list[Unit]] = defaultdict(list)
            for unit in members:
                parent = (attributes[:drop] + attributes[drop + 1 :], unit[1][:drop] + unit[1][drop + 1 :])
                parents[parent].append(unit)
            out += [(parent, children) for parent, children in parents.items() if parent in units]
    return out


def subtraction_attack(units: dict[Unit, float | None]) -> set[Unit]:
    """Overall minus the published groups, repeated until nothing new comes out."""
    known = dict(units)
    recovered: set[Unit] = set()
    progress = True
    while progress:
        progress = False
        for parent, children in _equations(units):
            unknown = [u for u in [parent, *children] if known[u] is None]
            if len(unknown) != 1:
                continue
            (target,) = unknown
            rest = sum(known[c] or 0.0 for c in children if c != target)
            known[target] = (known[parent] or 0.0) - rest if target != parent else rest
            recovered.add(target)
            progress = True
    return recovered


def linear_attack(units: dict[Unit, float | None]) -> set[Unit]:
    """Withheld counts that the equations determine exactly (rank test, independent of misflag's null space)."""
    hidden = sorted(u for u, v in units.items() if v is None)
    if not hidden:
        return set()
    column = {u: i for i, u in enumerate(hidden)}
    rows = []
    for parent, children in _equations(units):
        row = np.zeros(len(hidden))
        for unit, sign in [(parent, 1.0)] + [(c, -1.0) for c in children]:
            if unit in column:
                row[column[unit]] += sign
        if row.any():
            rows.append(row)
    if not rows:
        return set()
    matrix = np.vstack(rows)
    rank = np.linalg.matrix_rank(matrix)
    return {
        u
        for u, i in column.items()
        if np.linalg.matrix_rank(np.vstack([matrix, np.eye(len(hidden))[i]])) == rank
    }


FIGURES = [
    ("all", "n", "value"),
    ("all", "base_rate", "numerator"),
    ("all", "base_rate", "denominator"),
    ("decision", "selection_rate", "numerator"),
    *[("decision", m, p) for m in ("fpr", "fnr", "precision", "npv") for p in ("numerator", "denominator")],
]


def test_intersectional_compas_audit_runs_to_the_end_with_defaults(intersectional: Any) -> None:
    rows = intersectional.rows()
    attributes = {r["attribute"] for r in rows}
    assert "race & sex & age_cat" in attributes and len(attributes) == 8
    assert intersectional.metadata["rows_audited"] == 2000
    assert any(r["suppressed"] for r in rows) and any(r["value"] is not None for r in rows)


@pytest.mark.parametrize(("stage", "metric", "part"), FIGURES)
def test_subtraction_attack_recovers_nothing(intersectional: Any, stage: str, metric: str, part: str) -> None:
    units = _published(intersectional.rows(), stage, metric, part)
    assert any(v is None for v in units.values())  # there is something to attack
    assert subtraction_attack(units) == set()
    assert linear_attack(units) == set()


def test_the_attack_would_succeed_against_primary_suppression_alone(compas_2000: pa.Table) -> None:
    """The attacks have teeth: withholding only the groups under 10 people gives some of them back."""
    full = audit_decisions(
        compas_2000,
        flag=FLAG,
        truth="two_year_recid",
        groups=["race", "sex", "age_cat"],
        intersect=True,
        min_cell=1,
    )
    units = _published(full.rows(), "all", "n", "value")
    naive = {unit: (None if value is not None and 0 < value < 10 else value) for unit, value in units.items()}
    assert any(v is None for v in naive.values())
    assert subtraction_attack(naive) and linear_attack(naive)


def test_every_suppression_is_listed_with_its_reason(intersectional: Any) -> None:
    listed = intersectional.metadata["suppressions"]
    withheld = [r for r in intersectional.rows() if r["suppressed"]]
    assert len(listed) == len(withheld)
    assert all(entry["reason"] and entry["reason"].startswith("suppressed") for entry in listed)


def test_rates_on_a_few_people_are_withheld_inside_a_large_group() -> None:
    # group a: 60 people, only 4 of them negatives -> its FPR (and every confusion rate) is withheld
    grp = ["a"] * 60 + ["b"] * 60
    truth = [0] * 4 + [1] * 56 + [0, 1] * 30
    flag = [1, 0] * 60
    table = pa.table({"grp": grp, "truth": truth, "flag": flag})
    result = audit_decisions(table, flag="flag", truth="truth", groups=["grp"])
    fpr = result.select(metric="fpr", group="a", attribute="grp", stage="decision")[0]
    precision = result.select(metric="precision", group="a", attribute="grp", stage="decision")[0]
    assert fpr["suppressed"]
    # the rule that withheld it is not published (docs/disclosure.md), but it is the 4 negatives:
    # with min_cell 4 the same FPR is published, 2 of 4 (negatives at rows 0 and 2 are flagged)
    lower = audit_decisions(table, flag="flag", truth="truth", groups=["grp"], min_cell=4)
    published = lower.select(metric="fpr", group="a", attribute="grp", stage="decision")[0]
    assert not published["suppressed"] and (published["value"], published["denominator"]) == (0.5, 4)
    assert precision["suppressed"]  # else fp = flagged x (1 - precision) would give the FPR back
    assert result.value("n", "a", attribute="grp") == 60
    # b is b's complement in the attribute (overall - b = a), so its confusion rates are withheld too
    assert result.select(metric="fpr", group="b", attribute="grp", stage="decision")[0]["suppressed"]


def test_a_withheld_group_cannot_be_the_reference(intersectional: Any, compas_2000: pa.Table) -> None:
    small = next(r["group"] for r in intersectional.select(metric="n", attribute="race") if r["suppressed"])
    with pytest.raises(InputError, match="is withheld"):
        audit_decisions(compas_2000, flag=FLAG, truth="two_year_recid", groups=["race"], reference=small)


def test_nyc_local_law_144_leaves_small_categories_out_of_ratios_only(compas_csv: Path) -> None:
    result = audit_decisions(
        compas_csv, flag=FLAG, truth="two_year_recid", groups=["race"], impact_ratio_min_share=0.02
    )
    # Asian (32 of 7,214) and Native American (18) are under 2%; Other (377) is not
    for group in ("Asian", "Native American"):
        assert result.value("n", group, attribute="race") > 0
        # its selection rate rests on fewer than 10 flagged people, so disclosure control withholds it;
        # had it been published, its ratio would be left out with the Local Law 144 note
        rate = result.select(metric="selection_rate", group=group, attribute="race")[0]
        ratio = result.select(metric="selection_rate_ratio", group=group, attribute="race")[0]
        assert ratio["value"] is None
        assert ratio["suppressed"] if rate["suppressed"] else "Local Law 144" in ratio["warning"]
    assert (
        result.select(metric="selection_rate_ratio", group="Other", attribute="race")[0]["value"] is not None
    )
    with pytest.raises(InputError, match="leaves out of ratios"):
        audit_decisions(
            compas_csv,
            flag=FLAG,
            truth="two_year_recid",
            groups=["race"],
            reference="Asian",
            impact_ratio_min_share=0.02,
        )


def test_a_reference_whose_rate_is_undefined_gets_no_ratio_of_one() -> None:
    # a: 20 people, all warranted (no negatives: FPR undefined), the reference; b: 20 and 20
    grp = ["a"] * 20 + ["b"] * 40
    truth = [1] * 20 + [0, 1] * 20
    flag = [1, 0] * 10 + [1, 1, 0, 0] * 10
    result = audit_decisions(
        pa.table({"grp": grp, "truth": truth, "flag": flag}),
        flag="flag",
        truth="truth",
        groups=["grp"],
        reference="a",
    )
    for metric in ("fpr_ratio", "fpr_diff"):
        for group in ("a", "b"):
            row = result.select(metric=metric, group=group, attribute="grp")[0]
            assert row["value"] is None and "undefined" in row["warning"], row
    assert result.value("fnr_ratio", "a", attribute="grp") == 1.0  # a defined reference rate still compares


def test_an_audit_of_fewer_than_min_cell_people_publishes_no_count_of_them(tmp_path: Path) -> None:
    # 9 people, one group: everything is withheld, and neither the metadata nor the saved bundle says 9
    log = tmp_path / "log.csv"
    log.write_text("g,truth,flag\n" + "a,1,1\na,0,0\na,1,0\n" * 3)
    result = audit_decisions(str(log), flag="flag", truth="truth", groups=["g"])
    assert result.metadata["rows_audited"] is None and result.metadata["input"]["rows"] is None
    saved = json.loads(result.save(tmp_path / "result.json").read_text())
    assert 9 not in set(_numbers(saved)) and "9 people" not in result.summary


def _numbers(value: Any) -> list[float]:
    """Every number anywhere in a JSON document."""
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return [value] if isinstance(value, int | float) and not isinstance(value, bool) else []


def test_a_score_audit_with_intersections_passes_its_disclosure_audit(compas_2000: pa.Table) -> None:
    # the max/min FPR row names no group ("(highest/lowest)"); the reader's model skips it
    result = audit_decisions(
        compas_2000, flag=FLAG, truth="two_year_recid", groups=["race", "sex"], intersect=True,
        score="decile_score", threshold=5, replicates=100,
    )  # fmt: skip
    assert result.select(metric="fpr_max_min_ratio", attribute="race & sex")
    summary = result.metadata["disclosure_audit"].auditor_only  # the auditor's diagnostics, never written
    assert summary["withheld_counts_checked"] == summary["withheld_counts_protected"]
