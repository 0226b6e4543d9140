"""Expressions an auditor really writes keep working under the allowlist, on DuckDB and on Spark.

Each runs over ProPublica's COMPAS file and is compared, row by row, with the same rule computed by hand
in Python from the CSV text (SQL's NULL rules written out: a comparison with NULL is NULL).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from misflag.engine import DuckDBEngine
from misflag.errors import MisflagError
from misflag.io import check_expression, load_input

Row = dict[str, Any]
INT_COLUMNS = (
    "id",
    "age",
    "decile_score",
    "priors_count",
    "juv_fel_count",
    "juv_misd_count",
    "days_b_screening_arrest",
    "r_days_from_arrest",
    "is_recid",
    "two_year_recid",
)
DATE_COLUMNS = ("dob", "compas_screening_date")


def _null(function: Callable[..., Any]) -> Callable[..., Any]:
    """SQL's rule: NULL in, NULL out."""
    return lambda *values: None if any(v is None for v in values) else function(*values)


def _like(value: str | None, needle: str, *, fold: bool = False) -> bool | None:
    if value is None:
        return None
    return needle.lower() in value.lower() if fold else needle in value


def _band(score: int) -> str:
    return "high" if score >= 8 else "medium" if score >= 5 else "low"


def _age_band(age: int) -> str:
    return "under 25" if age < 25 else "25-45" if age <= 45 else "over 45"


#: (expression, the same rule by hand over one row of the CSV)
EXPRESSIONS: list[tuple[str, Callable[[Row], Any]]] = [
    (
        "CASE WHEN decile_score >= 8 THEN 'high' WHEN decile_score >= 5 THEN 'medium' ELSE 'low' END",
        lambda r: _band(r["decile_score"]),
    ),
    (
        "CASE WHEN age < 25 THEN 'under 25' WHEN age <= 45 THEN '25-45' ELSE 'over 45' END",
        lambda r: _age_band(r["age"]),
    ),
    ("score_text IN ('Medium', 'High')", lambda r: r["score_text"] in ("Medium", "High")),
    ("age BETWEEN 18 AND 25", lambda r: 18 <= r["age"] <= 25),
    ("age NOT BETWEEN 25 AND 45", lambda r: not 25 <= r["age"] <= 45),
    ("c_charge_desc LIKE '%Cocaine%'", lambda r: _like(r["c_charge_desc"], "Cocaine")),
    ("c_charge_desc ILIKE '%battery%'", lambda r: _like(r["c_charge_desc"], "battery", fold=True)),
    ("COALESCE(c_charge_desc, '(none)')", lambda r: r["c_charge_desc"] or "(none)"),
    ("year(compas_screening_date)", lambda r: r["compas_screening_date"].year),
    ("month(compas_screening_date)", lambda r: r["compas_screening_date"].month),
    ("quarter(compas_screening_date)", lambda r: (r["compas_screening_date"].month - 1) // 3 + 1),
    ("EXTRACT(YEAR FROM dob)", lambda r: r["dob"].year),
    (
        "date_part('year', compas_screening_date) - date_part('year', dob)",
        lambda r: r["compas_screening_date"].year - r["dob"].year,
    ),
    (
        "date_diff('day', dob, compas_screening_date)",
        lambda r: (r["compas_screening_date"] - r["dob"]).days,
    ),
    (
        "date_trunc('month', compas_screening_date)",
        lambda r: r["compas_screening_date"].replace(day=1).isoformat(),
    ),
    (
        "compas_screening_date >= DATE '2013-07-01'",
        lambda r: r["compas_screening_date"] >= dt.date(2013, 7, 1),
    ),
    ("CAST(decile_score AS INTEGER) >= 5", lambda r: r["decile_score"] >= 5),
    (  # a date as a timestamp: its midnight, with no time zone to shift it to another day
        "CAST(compas_screening_date AS TIMESTAMP)",
        lambda r: dt.datetime.combine(r["compas_screening_date"], dt.time()),
    ),
    ("CAST(priors_count > 0 AS INTEGER)", lambda r: int(r["priors_count"] > 0)),
    ("race = 'African-American'", lambda r: r["race"] == "African-American"),
    (
        "race IN ('African-American', 'Caucasian') AND sex = 'Male'",
        lambda r: r["race"] in ("African-American", "Caucasian") and r["sex"] == "Male",
    ),
    ("NOT (race = 'Caucasian')", lambda r: r["race"] != "Caucasian"),
    ("r_charge_degree IS NOT NULL", lambda r: r["r_charge_degree"] is not None),
    ("lower(sex)", lambda r: r["sex"].lower()),
    ("upper(substr(race, 1, 3))", lambda r: r["race"][:3].upper()),
    ("length(c_charge_desc) > 20", lambda r: _null(lambda v: len(v) > 20)(r["c_charge_desc"])),
    ("decile_score / 10.0", lambda r: r["decile_score"] / 10),
    ("round(decile_score / 3.0, 2)", lambda r: round(r["decile_score"] / 3, 2)),
    (
        "abs(days_b_screening_arrest) <= 30",
        lambda r: _null(lambda v: abs(v) <= 30)(r["days_b_screening_arrest"]),
    ),
    ("nullif(score_text, 'Low')", lambda r: None if r["score_text"] == "Low" else r["score_text"]),
    ("greatest(juv_fel_count, juv_misd_count)", lambda r: max(r["juv_fel_count"], r["juv_misd_count"])),
    ("least(priors_count, 10)", lambda r: min(r["priors_count"], 10)),
    ("floor(age / 10) * 10", lambda r: math.floor(r["age"] / 10) * 10),
    ("starts_with(c_case_number, '13')", lambda r: _null(lambda v: v.startswith("13"))(r["c_case_number"])),
    ("concat(race, ' ', sex)", lambda r: f"{r['race']} {r['sex']}"),
    ("race || '/' || age_cat", lambda r: f"{r['race']}/{r['age_cat']}"),
    ("decile_score % 2 = 0", lambda r: r["decile_score"] % 2 == 0),
    (
        "TRY_CAST(r_days_from_arrest AS DOUBLE)",
        lambda r: _null(float)(r["r_days_from_arrest"]),
    ),
    (
        "CASE WHEN is_recid = 1 AND two_year_recid = 1 THEN 1 ELSE 0 END",
        lambda r: int(r["is_recid"] == 1 and r["two_year_recid"] == 1),
    ),
    ("IF(decile_score > 4, 1, 0)", lambda r: int(r["decile_score"] > 4)),
    ("replace(age_cat, ' ', '_')", lambda r: r["age_cat"].replace(" ", "_")),
    ("trim(c_charge_degree)", lambda r: r["c_charge_degree"].strip()),
    (
        "strpos(c_charge_desc, 'Battery') > 0",
        lambda r: _null(lambda v: "Battery" in v)(r["c_charge_desc"]),
    ),
    (
        "sign(days_b_screening_arrest)",
        lambda r: _null(lambda v: (v > 0) - (v < 0))(r["days_b_screening_arrest"]),
    ),
]


def _read_rows(path: Path) -> list[Row]:
    """The CSV as Python values: empty text is NULL, numbers and dates parsed, sorted by id."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    parsed: list[Row] = []
    for raw in rows:
        row: Row = {key: (value if value != "" else None) for key, value in raw.items()}
        for column in INT_COLUMNS:
            row[column] = None if row[column] is None else int(row[column])
        for column in DATE_COLUMNS:
            row[column] = dt.date.fromisoformat(row[column])
        parsed.append(row)
    return sorted(parsed, key=lambda r: r["id"])


def _normal(value: Any) -> Any:
    """Values compared across engines: booleans as 0/1, numbers as floats, dates as ISO dates."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float, Decimal)):
        return round(float(value), 9)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    if isinstance(value, str) and len(value) >= 10 and value[4] == "-" and value[:4].isdigit():
        return value[:10]
    return value


@pytest.fixture(scope="module")
def compas_rows(compas_csv: Path) -> list[Row]:
    return _read_rows(compas_csv)


def _evaluate_all(engine: Any, columns: tuple[str, ...], expressions: list[str]) -> list[list[Any]]:
    """Each expression's values by id, all from one query (a column each)."""
    items = ", ".join(f"{check_expression(e, columns, '--group')} AS v{i}" for i, e in enumerate(expressions))
    table = engine.sql(f"SELECT id, {items} FROM input ORDER BY id")
    return [[_normal(v) for v in table.column(f"v{i}").to_pylist()] for i in range(len(expressions))]


def _evaluate(engine: Any, columns: tuple[str, ...], expression: str) -> list[Any]:
    return _evaluate_all(engine, columns, [expression])[0]


def _expected(rows: list[Row], rule: Callable[[Row], Any]) -> list[Any]:
    return [_normal(rule(row)) for row in rows]


def test_there_are_at_least_thirty() -> None:
    assert len(EXPRESSIONS) >= 30


@pytest.fixture(scope="module")
def duckdb_input(compas_csv: Path) -> Any:
    engine = DuckDBEngine(sandbox=True)
    info = load_input(engine, compas_csv)
    yield engine, info.columns
    engine.close()


@pytest.mark.parametrize(("expression", "rule"), EXPRESSIONS, ids=[e for e, _ in EXPRESSIONS])
def test_on_duckdb(
    expression: str, rule: Callable[[Row], Any], duckdb_input: Any, compas_rows: list[Row]
) -> None:
    engine, columns = duckdb_input
    assert _evaluate(engine, columns, expression) == _expected(compas_rows, rule)


@pytest.fixture(scope="module")
def spark_input(compas_csv: Path, spark_available: None) -> Any:
    from misflag.engine.spark import SparkEngine

    engine = SparkEngine()
    info = load_input(engine, compas_csv)
    yield engine, info.columns


@pytest.fixture(scope="module")
def spark_values(spark_input: Any) -> dict[str, list[Any]]:
    """Every expression's values on Spark from one query (a Spark job per expression was most of this
    module's time); empty where that query fails, and each test then runs its own, to show its own error."""
    engine, columns = spark_input
    expressions = [expression for expression, _ in EXPRESSIONS]
    try:
        return dict(zip(expressions, _evaluate_all(engine, columns, expressions), strict=True))
    except MisflagError:
        return {}


@pytest.mark.spark
@pytest.mark.parametrize(("expression", "rule"), EXPRESSIONS, ids=[e for e, _ in EXPRESSIONS])
def test_on_spark(
    expression: str,
    rule: Callable[[Row], Any],
    spark_input: Any,
    spark_values: dict[str, list[Any]],
    compas_rows: list[Row],
) -> None:
    values = spark_values.get(expression)
    if values is None:  # the shared query failed: this expression alone
        engine, columns = spark_input
        values = _evaluate(engine, columns, expression)
    assert values == _expected(compas_rows, rule)
