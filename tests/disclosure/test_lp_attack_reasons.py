"""The reader of reasons: the LP attacker (tests/disclosure/attacker.py) that also reads why each row is
withheld. Had each reason said which rule withheld it (as misflag's did: "fewer than 10 people in this
group", "(complementary)", "fpr ... rests on fewer than 10 people"), a reader would add bounds the
disclosure audit never modelled: a primary group holds 1..min_cell - 1 people, a complementary one at
least min_cell, a thin rate's denominator 1..min_cell - 1. The control shows those bounds pin withheld
counts of COMPAS race x age band that the plain reader cannot; the published reasons are one text for
every withheld figure, so the reader of them learns exactly what the plain reader does.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from misflag.decisions import audit_decisions
from tests.disclosure.attacker import COUNTED, Attacker, exposed, truth_counts

MIN_CELL = 10
NAMES = ["race", "age_cat"]
# the reasons misflag published before they were made uniform, as a reader would parse them
PRIMARY = re.compile(r"fewer than (\d+) people in this group")
RULE_AWARE = re.compile(r"\((complementary|secondary)\)")
THIN = re.compile(r"(\w+) at (\w+) rests on fewer than (\d+) people")


@pytest.fixture(scope="module")
def compas(compas_csv: Path) -> pa.Table:
    return duckdb.sql(
        "SELECT race, age_cat, two_year_recid AS truth, "
        f"CAST(score_text IN ('Medium', 'High') AS INTEGER) AS flag FROM read_csv_auto('{compas_csv}')"
    ).to_arrow_table()


@pytest.fixture(scope="module")
def published(compas: pa.Table) -> Any:
    return audit_decisions(
        compas, flag="flag", truth="truth", groups=NAMES, intersect=True, min_cell=MIN_CELL
    )


def _reader(table: pa.Table, result: Any, rows: list[dict[str, Any]]) -> Attacker:
    attacker = Attacker({name: sorted({str(v) for v in table.column(name).to_pylist()}) for name in NAMES})
    attacker.read(0, rows, {}, result.metadata["rows_audited"])
    return attacker


def _read_reasons(attacker: Attacker) -> None:
    """Bounds read from each withheld row's warning text, as a reader of reasons would."""
    for columns, entries in attacker.targets.items():
        for _, row, part in entries:
            why = row["warning"] or ""
            if part != "denominator":
                continue
            if row["metric"] == "n" and (found := PRIMARY.search(why)):
                attacker.ranges[columns] = (1, int(found.group(1)) - 1)
            elif row["metric"] == "n" and RULE_AWARE.search(why):
                attacker.ranges[columns] = (MIN_CELL, math.inf)
            elif (found := THIN.search(why)) and found.group(1) == row["metric"]:
                attacker.ranges[columns] = (1, int(found.group(3)) - 1)


def _with_rule_reasons(rows: list[dict[str, Any]], counts: Any, attacker: Attacker) -> list[dict[str, Any]]:
    """The same rows with each withheld figure's reason saying which rule withheld it, worked out from
    the raw counts: a group under MIN_CELL is primary, any other withheld group complementary, and a
    rate of a shown group whose own denominator is 1..MIN_CELL - 1 is thin."""
    out = []
    for row in rows:
        row = dict(row)
        if row["suppressed"] and row["stage"] in ("all", "decision"):
            group = {}
            if row["attribute"] != "overall":
                group = dict(zip(row["attribute"].split(" & "), row["group"].split(" & "), strict=True))
            metric = row["metric"].removesuffix("_ratio").removesuffix("_diff")
            size = counts[list(attacker._columns(group, COUNTED[metric][1]))].sum()
            if row["metric"] == "n":
                small = size < MIN_CELL
                row["warning"] = (
                    f"suppressed: fewer than {MIN_CELL} people in this group"
                    if small
                    else "suppressed (complementary)"
                )
            elif 0 < size < MIN_CELL:
                row["warning"] = (
                    f"suppressed: {row['metric']} at {row['stage']} rests on fewer than {MIN_CELL} people"
                )
        out.append(row)
    return out


def test_every_figure_withheld_for_disclosure_gives_one_reason(published: Any) -> None:
    reasons = {
        r["warning"]
        for r in published.rows()
        if r["suppressed"] and r["warning"] != "suppressed: the reference group's rate is withheld"
    }
    assert reasons == {
        "suppressed: withheld for disclosure control (--min-cell 10): a small count, "
        "or a figure that would give one back"
    }
    # the metadata's list of suppressions repeats the rows' reasons, so it says no more
    assert {s["reason"] for s in published.metadata["suppressions"]} <= reasons | {
        "suppressed: the reference group's rate is withheld"
    }


def test_rule_reasons_pin_counts_the_plain_reader_cannot(compas: pa.Table, published: Any) -> None:
    """The control: the published pattern with reasons that name the rule is broken by the reader of them."""
    plain = _reader(compas, published, published.rows())
    counts = truth_counts(plain, compas, "truth", "flag")
    assert exposed(plain, counts, MIN_CELL) == []
    told = _reader(compas, published, _with_rule_reasons(published.rows(), counts, plain))
    _read_reasons(told)
    assert told.ranges  # the rule-naming text did give the reader bounds
    found = exposed(told, counts, MIN_CELL)
    assert found
    # e.g. Native American & Greater than 45 (3 people) is placed at 3 or 4 once reasons name the rule
    pinned = {(r["group"], r["metric"]): (value, low, high) for value, low, high, r, _ in found}
    # Native American & Greater than 45 holds 3 people: placed at 2 to 4 once reasons name the rule ...
    value, low, high = pinned[("Native American & Greater than 45", "n")]
    assert value == 3 and low <= 3 <= high and high - low <= 2
    # ... where the plain reader of the same published figures cannot narrow it below 5 people
    where = {"race": "Native American", "age_cat": "Greater than 45"}
    plain_low, plain_high = plain.intervals()[plain._columns(where, COUNTED["n"][1])]
    assert plain_high - plain_low >= math.ceil(MIN_CELL / 2)


def test_the_published_reasons_tell_the_reader_nothing_more(compas: pa.Table, published: Any) -> None:
    plain = _reader(compas, published, published.rows())
    told = _reader(compas, published, published.rows())
    _read_reasons(told)
    assert told.ranges == {}
    assert told.intervals() == plain.intervals()
    summary = published.metadata["disclosure_audit"].auditor_only  # the auditor's, never written
    assert summary["withheld_counts_checked"] == summary["withheld_counts_protected"] > 0
