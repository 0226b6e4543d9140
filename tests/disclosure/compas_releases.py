"""The five COMPAS releases the register tests publish one after another (by race, by sex, race x sex,
race for each sex through --where; each intersected), the log they are published from, and the
independent LP attacker over any of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tests.disclosure.attacker import Attacker, exposed, truth_counts

RELEASE: list[tuple[list[str], str | None]] = [
    (["race"], None),
    (["sex"], None),
    (["race", "sex"], None),
    (["race"], "sex = 'Female'"),
    (["race"], "sex = 'Male'"),
]
#: One published output as the attacker reads it: its rows, its metadata and its --where.
Published = tuple[list[dict[str, Any]], dict[str, Any], str | None]


def write_log(compas_csv: Path, folder: Path) -> tuple[pa.Table, Path]:
    """COMPAS's race and sex, two-year reoffence as truth, Medium/High as the flag: the table and a Parquet copy."""
    table = duckdb.sql(
        f"SELECT race, sex, two_year_recid AS truth, CAST(score_text IN ('Medium', 'High') AS INTEGER) AS flag "
        f"FROM read_csv_auto('{compas_csv}')"
    ).to_arrow_table()
    path = folder / "log.parquet"
    pq.write_table(table, path)
    return table, path


def options(groups: list[str], where: str | None) -> dict[str, Any]:
    return {"flag": "flag", "truth": "truth", "groups": groups, "intersect": True, "where": where}


def attack(table: pa.Table, published: list[Published]) -> list[Any]:
    """The withheld counts the attacker pins more tightly than min_cell 10 allows, over these outputs."""
    attacker = Attacker(
        {name: sorted({str(v) for v in table.column(name).to_pylist()}) for name in ("race", "sex")}
    )
    for number, (rows, metadata, where) in enumerate(published):
        attacker.read(number, rows, {"sex": where.split("'")[1]} if where else {}, metadata["rows_audited"])
    return exposed(attacker, truth_counts(attacker, table, "truth", "flag"), 10)
