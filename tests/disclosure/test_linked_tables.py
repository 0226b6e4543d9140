"""Linked tables in one call (`--table-set`, `--breakdown`): every table is published in one output,
LP-audited and suppressed jointly. The independent LP attacker (tests/disclosure/attacker.py) over the
joint output finds no withheld count pinned down, on COMPAS (race, race x sex, each within every age
band, and the age bands: 5 tables) and on ANES 1996 (education, income, each within every age band, and
the age bands: 5 tables). The control: the same tables published one by one (the breakdowns as `--where`
outputs), each protected on its own, are broken by the same attacker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from misflag.cli import main
from misflag.decisions import DecisionSpec, audit_decisions
from misflag.errors import InputError
from tests.disclosure.attacker import Attacker, exposed, truth_counts

MIN_CELL = 10
#: dataset -> (its columns, the table sets, the breakdown)
DESIGNS: dict[str, tuple[list[str], list[str], str]] = {
    "compas": (["race", "sex", "age_cat"], ["race", "race, sex"], "age_cat"),
    "anes": (["educ", "income", "age"], ["educ", "income"], "age"),
}


@pytest.fixture(scope="module")
def compas(compas_csv: Path) -> pa.Table:
    return duckdb.sql(
        f"SELECT race, sex, age_cat, two_year_recid AS truth, "
        f"CAST(score_text IN ('Medium', 'High') AS INTEGER) AS flag FROM read_csv_auto('{compas_csv}')"
    ).to_arrow_table()


@pytest.fixture(scope="module")
def anes() -> pa.Table:
    """ANES 1996 (944 people): flag = voted Dole, truth = leans Republican (PID >= 4)."""
    from statsmodels.datasets import anes96

    frame = duckdb.from_df(anes96.load_pandas().data)
    return frame.query(
        "frame",
        "SELECT CAST(CAST(educ AS INTEGER) AS VARCHAR) AS educ, "
        "CASE WHEN income < 12 THEN 'low' WHEN income < 19 THEN 'middle' ELSE 'high' END AS income, "
        "CASE WHEN age < 35 THEN 'under 35' WHEN age < 60 THEN '35-59' ELSE '60+' END AS age, "
        "CAST(PID >= 4 AS INTEGER) AS truth, CAST(vote AS INTEGER) AS flag FROM frame",
    ).to_arrow_table()


def _attacker(table: pa.Table, names: list[str]) -> Attacker:
    return Attacker({name: sorted({str(v) for v in table.column(name).to_pylist()}) for name in names})


def _tables(rows: list[dict[str, Any]]) -> set[str]:
    return {r["attribute"] for r in rows if r["attribute"] != "overall"}


@pytest.mark.parametrize("dataset", ["compas", "anes"])
def test_the_joint_output_leaves_nothing_pinned(dataset: str, request: pytest.FixtureRequest) -> None:
    table = request.getfixturevalue(dataset)
    names, sets, breakdown = DESIGNS[dataset]
    result = audit_decisions(table, flag="flag", truth="truth", table_sets=sets, breakdown=breakdown)
    rows = result.rows()
    # the tables asked for, each within every breakdown value (as the table intersected with it), and
    # the breakdown's own table: 5, with nothing else (no --intersect's other combinations)
    expected = {s.replace(", ", " & ") for s in sets}
    expected |= {" & ".join(n for n in names if n in {*s.split(", "), breakdown}) for s in sets}
    assert _tables(rows) == expected | {breakdown} and len(expected | {breakdown}) == 5
    attacker = _attacker(table, names)
    attacker.read(0, rows, {}, result.metadata["rows_audited"])
    counts = truth_counts(attacker, table, "truth", "flag")
    assert [c for c in attacker.targets if 1 <= counts[list(c)].sum() < MIN_CELL]  # something to find
    assert exposed(attacker, counts, MIN_CELL) == []
    summary = result.metadata["disclosure_audit"].auditor_only  # the auditor's, never written
    assert summary["withheld_counts_checked"] == summary["withheld_counts_protected"] > 0


@pytest.mark.parametrize("dataset", ["compas", "anes"])
def test_the_same_tables_published_one_by_one_are_broken(
    dataset: str, request: pytest.FixtureRequest
) -> None:
    """Each table its own audit: the table sets, the breakdown alone, and each table set within each
    breakdown value as a `--where` output (which the attacker reads as breakdown = value)."""
    table = request.getfixturevalue(dataset)
    names, sets, breakdown = DESIGNS[dataset]
    attacker = _attacker(table, names)
    values = sorted({str(v) for v in table.column(breakdown).to_pylist()})
    outputs: list[tuple[list[str], str | None]] = [(s.split(", "), None) for s in sets]
    outputs += [([breakdown], None)]
    outputs += [(s.split(", "), value) for s in sets for value in values]
    for number, (groups, value) in enumerate(outputs):
        where = None if value is None else f"{breakdown} = '{value}'"
        result = audit_decisions(
            table, flag="flag", truth="truth", groups=groups, intersect=True, where=where
        )
        within = {} if value is None else {breakdown: value}
        attacker.read(number, result.rows(), within, result.metadata["rows_audited"])
    assert exposed(attacker, truth_counts(attacker, table, "truth", "flag"), MIN_CELL) != []


def test_table_sets_name_the_tables_and_round_trip() -> None:
    spec = DecisionSpec(truth="t", flag="f", table_sets=("race", "coalesce(a, b), sex"), breakdown="age")
    assert spec.groups == ("race", "coalesce(a, b)", "sex", "age")
    # race; coalesce & sex; each with age; age alone (indices in the groups' order)
    assert spec.attribute_sets() == [(0,), (1, 2), (0, 3), (1, 2, 3), (3,)]
    again = DecisionSpec.from_dict(spec.to_dict())
    assert again == spec and again.attribute_sets() == spec.attribute_sets()
    assert DecisionSpec(truth="t", flag="f", groups=("race", "sex"), breakdown="sex").attribute_sets() == [
        (0,),
        (0, 1),
        (1,),
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"table_sets": ("race",), "intersect": True}, "not both"),
        ({"table_sets": ("race,",)}, "empty expression"),
        ({"table_sets": ("race, race",)}, "names an expression twice"),
        (
            {"table_sets": ("{flag}, {flag}",)},
            r"'\{flag\}, \{flag\}' names an expression twice",
        ),  # as written
        ({"table_sets": ("race",), "groups": ("sex",)}, "'sex' is in no table_sets"),
        ({"breakdown": "sex"}, "needs a table to break down"),
        ({"breakdown": "sex", "groups": ("sex",)}, "needs a table to break down"),
        ({"table_sets": tuple(f"g{k}" for k in range(65))}, "at most 64"),
        ({"table_sets": (", ".join(f"g{k}" for k in range(11)),)}, "name 11 group expressions; at most 10"),
        ({"table_sets": ("a", "b"), "breakdown": ", ".join(f"g{k}" for k in range(9))}, None),
    ],
)
def test_table_sets_refused_in_one_line(options: dict[str, Any], message: str | None) -> None:
    if message is None:  # a breakdown is one expression, commas and all: 3 expressions in all
        assert len(DecisionSpec(truth="t", flag="f", **options).groups) == 3
        return
    with pytest.raises(InputError, match=message):
        DecisionSpec(truth="t", flag="f", **options)


def test_the_cli_publishes_every_table_in_one_output(
    compas_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flag = "score_text IN ('Medium','High')"
    args = ["decisions", "audit", str(compas_csv), "--flag", flag, "--truth", "two_year_recid"]
    saved = tmp_path / "joint.json"
    code = main(
        [*args, "--table-set", "race", "--table-set", "race,sex", "--breakdown", "sex", "--save", str(saved)]
    )
    assert code == 0
    from misflag.result import AuditResult

    assert _tables(AuditResult.load(saved).rows()) == {"race", "race & sex", "sex"}
    capsys.readouterr()
    assert main([*args, "--table-set", "race", "--intersect"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: give --table-set (the tables to publish) or --intersect (every combination), not both"
    ]
