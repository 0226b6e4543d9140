"""COMPAS audits shared by the reuse tests: the log, three specs (secondary suppression, a weighted
stratified sample, linked tables) and the output as bytes to compare runs by."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from misflag.decisions import audit_decisions


def compas_log(compas_csv: Path) -> pa.Table:
    """COMPAS's race, sex and age band, with the two-year reoffence as truth and Medium/High as the flag."""
    return duckdb.sql(
        "SELECT race, sex, age_cat, two_year_recid AS truth, "
        f"CAST(score_text IN ('Medium', 'High') AS INTEGER) AS flag FROM read_csv_auto('{compas_csv}')"
    ).to_arrow_table()


def intersected(table: pa.Table) -> Any:
    return audit_decisions(table, flag="flag", truth="truth", groups=["race", "sex"], intersect=True)


def weighted(table: pa.Table) -> Any:
    # a stratified audit sample: every flagged person audited at weight 1, cleared people of a race
    # other than Caucasian at weight 2 (the weight's expression and groups are published)
    return audit_decisions(
        table, flag="flag", truth="truth", groups=["race", "sex"], intersect=True,
        weight="CASE WHEN flag = 1 THEN 1 WHEN race = 'Caucasian' THEN 1 ELSE 2 END",
    )  # fmt: skip


def linked(table: pa.Table) -> Any:
    return audit_decisions(
        table, flag="flag", truth="truth", table_sets=["race", "race, sex"], breakdown="age_cat"
    )


SPECS = [intersected, weighted, linked]
SPEC_IDS = ["secondary", "weighted", "table-set"]


def output_bytes(result: Any) -> bytes:
    """The published output (rows and metadata) as JSON text."""
    return json.dumps({"rows": result.rows(), "metadata": result.metadata}, default=str).encode()
