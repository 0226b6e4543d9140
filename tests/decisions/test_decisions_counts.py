"""Counts mode (`--count COLUMN`): a table of counts audits exactly like the rows it stands for.

The must-show test aggregates COMPAS by race x sex x age band x flag x truth with DuckDB and checks that
every figure of the counts-mode audit (values, intervals with the same seed, disparities, withheld cells,
the disclosure audit's outcome) equals the audit of the 7,214 rows. Toy tables are checked against Wilson
intervals from scipy and Newcombe's differences computed here, and bad counts against their one line.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from scipy.stats import binomtest

from misflag.cli import main
from misflag.decisions import DecisionSpec, audit_decisions
from misflag.decisions._forms import counts_table
from misflag.errors import InputError

FLAG = "score_text IN ('Medium', 'High')"
AGE_BAND = "CASE WHEN age < 25 THEN 'under 25' WHEN age <= 45 THEN '25-45' ELSE 'over 45' END"
GROUPS = ["race", "sex", "age_band"]


def _arrow(query: str, **tables: pa.Table) -> pa.Table:
    """A DuckDB query's result, over Arrow tables registered under the given names."""
    connection = duckdb.connect()
    for name, table in tables.items():
        connection.register(name, table)
    return connection.sql(query).to_arrow_table()


@pytest.fixture(scope="module")
def compas_rows(compas_csv: Path) -> pa.Table:
    return _arrow(
        f"SELECT race, sex, {AGE_BAND} AS age_band, CAST({FLAG} AS INT) AS flagged, two_year_recid AS truth, "
        f"decile_score FROM '{compas_csv}'"
    )


@pytest.fixture(scope="module")
def compas_counts(compas_rows: pa.Table) -> pa.Table:
    """COMPAS as a published table would give it: one row per race x sex x age band x flag x truth."""
    return _arrow(
        "SELECT race, sex, age_band, flagged, truth, COUNT(*) AS people FROM rows GROUP BY ALL ORDER BY ALL",
        rows=compas_rows,
    )


def test_compas_counts_table_audits_exactly_like_its_rows(
    compas_rows: pa.Table, compas_counts: pa.Table
) -> None:
    assert compas_counts.num_rows < 200 and sum(compas_counts.column("people").to_pylist()) == 7214
    options: dict[str, Any] = {
        "flag": "flagged",
        "truth": "truth",
        "groups": GROUPS,
        "intersect": True,
        "reference": "Caucasian",
    }
    by_rows = audit_decisions(compas_rows, **options)
    by_counts = audit_decisions(compas_counts, count="people", **options)
    assert by_counts.rows() == by_rows.rows()  # values, intervals, ratios, differences, warnings
    withheld = [r for r in by_rows.rows() if r["suppressed"]]
    assert any(r["metric"] == "n" for r in withheld), "the test must cover withheld groups"
    for key in ("suppressions", "disclosure_audit", "interval_methods", "references"):
        assert by_counts.metadata[key] == by_rows.metadata[key], key
    assert by_counts.metadata["rows_audited"] == by_rows.metadata["rows_audited"] == 7214
    assert by_counts.metadata["input"]["rows"] == compas_counts.num_rows
    assert by_counts.summary == by_rows.summary


def test_compas_score_audit_with_counts_resamples_the_same_people(
    compas_rows: pa.Table, compas_csv: Path
) -> None:
    """The bootstrap of the highest/lowest FPR ratio is a multinomial draw over cells, so a table of
    counts and its rows give the same replicates, seed for seed."""
    counts = _arrow(
        "SELECT race, decile_score, truth, COUNT(*) AS people FROM rows GROUP BY ALL", rows=compas_rows
    )
    options: dict[str, Any] = {
        "flag": "decile_score >= 5",
        "truth": "truth",
        "groups": ["race"],
        "score": "decile_score",
        "target_fpr": 0.3,
        "seed": 7,
        "replicates": 500,
    }
    by_rows = audit_decisions(compas_rows, **options)
    by_counts = audit_decisions(counts, count="people", **options)
    assert by_counts.rows() == by_rows.rows()
    assert any(r["metric"] == "fpr_max_min_ratio" for r in by_counts.rows())
    assert by_counts.extras["threshold_curves"].equals(by_rows.extras["threshold_curves"])


TOY = [  # group, flagged, truth, people
    ("a", 1, 1, 30),
    ("a", 1, 0, 12),
    ("a", 0, 0, 48),
    ("a", 0, 1, 20),
    ("b", 1, 1, 25),
    ("b", 1, 0, 30),
    ("b", 0, 0, 30),
    ("b", 0, 1, 15),
]
Z = 1.959963984540054


def _toy_table(rows: list[tuple[str, int, int, Any]] = TOY) -> pa.Table:
    group, flagged, truth, people = zip(*rows, strict=True)
    return pa.table({"grp": group, "flagged": flagged, "truth": truth, "people": people})


def _wilson(successes: int, n: int) -> tuple[float, float]:
    """Wilson's score interval, from scipy (a second implementation)."""
    interval = binomtest(successes, n).proportion_ci(0.95, method="wilson")
    return interval.low, interval.high


def _row(rows: list[dict[str, Any]], group: str, metric: str) -> dict[str, Any]:
    (found,) = [r for r in rows if r["group"] == group and r["metric"] == metric and r["stage"] != "all"]
    return found


def test_toy_table_against_hand_computed_wilson_newcombe_and_mover() -> None:
    rows = audit_decisions(
        _toy_table(), flag="flagged", truth="truth", groups=["grp"], count="people", reference="a"
    ).rows()
    fpr_a, fpr_b = 12 / 60, 30 / 60
    for group, successes, n in (("a", 12, 60), ("b", 30, 60)):
        row = _row(rows, group, "fpr")
        assert row["value"] == pytest.approx(successes / n, abs=1e-15) and row["denominator"] == n
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(_wilson(successes, n), abs=1e-12)
    assert _row(rows, "b", "selection_rate")["value"] == pytest.approx(55 / 100, abs=1e-15)
    (low_a, high_a), (low_b, high_b) = _wilson(12, 60), _wilson(30, 60)
    diff = _row(rows, "b", "fpr_diff")  # Newcombe (1998) method 10
    assert diff["value"] == pytest.approx(fpr_b - fpr_a, abs=1e-15)
    assert diff["ci_low"] == pytest.approx(
        fpr_b - fpr_a - math.sqrt((fpr_b - low_b) ** 2 + (high_a - fpr_a) ** 2), abs=1e-12
    )
    assert diff["ci_high"] == pytest.approx(
        fpr_b - fpr_a + math.sqrt((high_b - fpr_b) ** 2 + (fpr_a - low_a) ** 2), abs=1e-12
    )
    ratio = _row(rows, "b", "fpr_ratio")  # MOVER-R, Donner & Zou (2012) eq. 7
    product = fpr_a * fpr_b
    low = (product - math.sqrt(product**2 - low_b * high_a * (2 * fpr_b - low_b) * (2 * fpr_a - high_a))) / (
        high_a * (2 * fpr_a - high_a)
    )
    high = (product + math.sqrt(product**2 - high_b * low_a * (2 * fpr_b - high_b) * (2 * fpr_a - low_a))) / (
        low_a * (2 * fpr_a - low_a)
    )
    assert ratio["value"] == pytest.approx(2.5, abs=1e-15)
    assert (ratio["ci_low"], ratio["ci_high"]) == pytest.approx((low, high), abs=1e-12)


def test_a_billion_people_in_a_few_cells() -> None:
    people = [(g, f, t, n * 10_000_000) for g, f, t, n in TOY]
    rows = audit_decisions(
        _toy_table(people), flag="flagged", truth="truth", groups=["grp"], count="people"
    ).rows()
    overall = _row(rows, "all", "fpr")
    assert overall["value"] == pytest.approx(42 / 120, abs=1e-15) and overall["denominator"] == 1_200_000_000
    assert (overall["ci_low"], overall["ci_high"]) == pytest.approx(
        _wilson(420_000_000, 1_200_000_000), abs=1e-12
    )
    (total,) = [r for r in rows if r["group"] == "all" and r["metric"] == "n"]
    assert total["value"] == 2_100_000_000


def test_repeated_and_zero_count_rows_are_the_rows_they_stand_for(tmp_path: Path) -> None:
    """Split cells, zero counts and a group of only zeros read as the expanded rows (DuckDB's range)."""
    split = [*TOY, ("a", 1, 0, 3), ("a", 1, 0, 0), ("c", 0, 1, 0), ("b", 0, 0, 7)]
    expanded = _arrow("SELECT grp, flagged, truth FROM cells, range(people)", cells=_toy_table(split))
    assert expanded.num_rows == sum(n for *_, n in split)
    options: dict[str, Any] = {"flag": "flagged", "truth": "truth", "groups": ["grp"]}
    by_counts = audit_decisions(_toy_table(split), count="people", **options)
    assert by_counts.rows() == audit_decisions(expanded, **options).rows()
    assert not any(r["group"] == "c" for r in by_counts.rows())


def test_cli_counts_mode_equals_the_row_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    counts_file, rows_file = tmp_path / "counts.csv", tmp_path / "rows.csv"
    connection = duckdb.connect()
    connection.register("cells", _toy_table())
    connection.execute(f"COPY cells TO '{counts_file}' (HEADER)")
    connection.execute(
        f"COPY (SELECT grp, flagged, truth FROM cells, range(people)) TO '{rows_file}' (HEADER)"
    )
    common = ["--flag", "flagged", "--truth", "truth", "--group", "grp", "--format", "json"]
    assert main(["decisions", "audit", str(counts_file), "--count", "people", *common]) == 0
    by_counts = json.loads(capsys.readouterr().out)
    assert main(["decisions", "audit", str(rows_file), *common]) == 0
    assert by_counts == json.loads(capsys.readouterr().out)


BAD_COUNTS = [
    ("-3", "is negative in 1 input row(s)"),
    ("2.5", "is not a whole number in 1 input row(s)"),
    ("'nan'", "is not finite (NaN or infinite) in 1 input row(s)"),
    ("'inf'", "is not finite (NaN or infinite) in 1 input row(s)"),
    ("NULL", "is NULL or not a number in 1 input row(s)"),
    ("'ten'", "is NULL or not a number in 1 input row(s)"),
]


@pytest.mark.parametrize(("value", "problem"), BAD_COUNTS)
def test_bad_counts_are_refused_in_one_line(
    value: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    connection = duckdb.connect()
    connection.register("cells", _toy_table())
    connection.execute(
        f"COPY (SELECT grp, flagged, truth, CAST(people AS VARCHAR) AS people FROM cells UNION ALL "
        f"SELECT 'b', 1, 1, CAST({value} AS VARCHAR)) TO '{path}' (HEADER)"
    )
    with pytest.raises(InputError) as refused:
        audit_decisions(path, flag="flagged", truth="truth", groups=["grp"], count="people")
    assert str(refused.value) == (
        f"count {problem}; each row's count must be a whole number of people, 0 or more"
    )
    code = main(
        ["decisions", "audit", str(path), "--flag", "flagged", "--truth", "truth", "--count", "people"]
    )
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.strip().splitlines() == [
        f"error: --count {problem}; each row's count must be a whole number of people, 0 or more"
    ]


def test_count_with_weight_is_refused_and_all_zero_counts_leave_nothing() -> None:
    with pytest.raises(InputError, match="not both"):
        audit_decisions(_toy_table(), flag="flagged", truth="truth", count="people", weight="1")
    zeros = _toy_table([(g, f, t, 0) for g, f, t, _ in TOY])
    with pytest.raises(InputError, match="no rows are left to audit"):
        audit_decisions(zeros, flag="flagged", truth="truth", count="people")


def test_selection_form_gives_hand_computed_rates_ratios_and_the_two_percent_exclusion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An LL144-style table: selection rates, impact ratios against the highest rate (MOVER-R from scipy's
    Wilson limits, Donner & Zou eq. 7) and a category under 2% left out of the ratios."""
    path = tmp_path / "ll144.csv"
    path.write_text("category,selected,total\nA,60,100\nB,30,100\nC,1,3\n", encoding="utf-8")
    code = main(
        [
            "decisions", "audit", str(path), "--counts-form", "selection", "--group", "category",
            "--reference", "A", "--impact-ratio-min-share", "0.02", "--min-cell", "1", "--format", "json",
        ]
    )  # fmt: skip
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    rate_b = _row(rows, "B", "selection_rate")
    assert rate_b["value"] == pytest.approx(0.3, abs=1e-15) and rate_b["denominator"] == 100
    assert (rate_b["ci_low"], rate_b["ci_high"]) == pytest.approx(_wilson(30, 100), abs=1e-12)
    (low_b, high_b), (low_a, high_a) = _wilson(30, 100), _wilson(60, 100)
    p_b, p_a = 0.3, 0.6
    product = p_a * p_b
    low = (product - math.sqrt(product**2 - low_b * high_a * (2 * p_b - low_b) * (2 * p_a - high_a))) / (
        high_a * (2 * p_a - high_a)
    )
    high = (product + math.sqrt(product**2 - high_b * low_a * (2 * p_b - high_b) * (2 * p_a - low_a))) / (
        low_a * (2 * p_a - low_a)
    )
    ratio = _row(rows, "B", "selection_rate_ratio")
    assert ratio["value"] == pytest.approx(0.5, abs=1e-15)
    assert (ratio["ci_low"], ratio["ci_high"]) == pytest.approx((low, high), abs=1e-12)
    excluded = _row(rows, "C", "selection_rate_ratio")  # 3 of 203 people: 1.5% < 2%
    assert excluded["value"] is None and "Local Law 144" in excluded["warning"]
    assert _row(rows, "C", "selection_rate")["value"] == pytest.approx(1 / 3, abs=1e-15)


def test_confusion_form_equals_the_cells_it_stands_for(tmp_path: Path) -> None:
    path = tmp_path / "confusion.csv"
    path.write_text("grp,tp,fp,tn,fn\na,30,12,48,20\nb,25,30,30,15\n", encoding="utf-8")
    cells = counts_table(path, "confusion", ["grp"])
    assert cells.num_rows == 8 and sum(cells.column("people").to_pylist()) == 210
    options: dict[str, Any] = {"flag": "flagged", "truth": "truth", "groups": ["grp"], "count": "people"}
    assert audit_decisions(cells, **options).rows() == audit_decisions(_toy_table(), **options).rows()


@pytest.mark.parametrize(
    ("content", "form", "message"),
    [
        ("category,selected,total\nA,5,4\n", "selection", "selected is more than total in 1 row(s)"),
        ("category,selected\nA,5\n", "selection", "a selection table needs the column 'total'"),
        ("grp,tp,fp,tn\na,1,2,3\n", "confusion", "a confusion table needs the column 'fn'"),
        ("grp,tp,fp,tn,fn\na,1,2,3,4\n", "both", "the counts form must be one of selection, confusion"),
    ],
)
def test_forms_refuse_tables_that_do_not_fit(content: str, form: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "table.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(message)):
        counts_table(path, form, ["category" if "category" in content else "grp"])


def test_margins_printed_and_a_margin_that_does_not_add_up_warned_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "counts.csv"
    path.write_text(
        "grp,flagged,truth,people,total\na,1,1,30,110\na,1,0,12,110\na,0,0,48,110\na,0,1,20,110\n"
        "b,1,1,25,99\nb,1,0,30,99\nb,0,0,30,99\nb,0,1,15,99\n",
        encoding="utf-8",
    )
    base = ["decisions", "audit", str(path), "--flag", "flagged", "--truth", "truth", "--group", "grp"]
    assert main([*base, "--count", "people", "--margin", "total"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "warning: the counts of 1 of 2 group(s) do not add up to their published margin (e.g. b): "
        "check the table's totals"
    )  # b's rows add up to 100, not 99
    assert err[1].startswith("Margins of this table of counts") and "(8 input rows)" in err[1]
    assert err[2] == "  overall: all 210 people, 97 flagged, 90 with truth 1"
    assert (
        err[3]
        == "  grp: a 110 people, 42 flagged, 50 with truth 1; b 100 people, 55 flagged, 40 with truth 1"
    )
    result = audit_decisions(
        path, flag="flagged", truth="truth", groups=["grp"], count="people", margin="total"
    )
    assert "1 of 2 group(s)" in result.metadata["counts"]["margin_warning"]
    fixed = audit_decisions(
        path,
        flag="flagged",
        truth="truth",
        groups=["grp"],
        count="people",
        margin="CASE WHEN grp = 'b' THEN 100 ELSE total END",
    )
    assert fixed.metadata["counts"]["margin_warning"] is None
    with pytest.raises(InputError, match="give count too"):
        audit_decisions(path, flag="flagged", truth="truth", margin="total")


@pytest.mark.spark
@pytest.mark.slow
def test_counts_mode_on_spark_equals_duckdb(tmp_path: Path, spark_available: None) -> None:
    """The count checks and sums are transpiled to Spark SQL: the same figures, the same refusal."""
    path = tmp_path / "counts.csv"
    connection = duckdb.connect()
    connection.register("cells", _toy_table([*TOY, ("b", 0, 0, 0)]))
    connection.execute(f"COPY cells TO '{path}' (HEADER)")
    options: dict[str, Any] = {"flag": "flagged", "truth": "truth", "groups": ["grp"], "count": "people"}
    on_duckdb = audit_decisions(path, engine="duckdb", margin="110", **options)
    on_spark = audit_decisions(path, engine="spark", margin="110", **options)
    assert on_spark.metadata["counts"] == on_duckdb.metadata["counts"]  # b's 100 people, not 110
    assert "1 of 2 group(s)" in on_spark.metadata["counts"]["margin_warning"]
    duck, spark = on_duckdb.rows(), on_spark.rows()
    assert [(r["group"], r["metric"], r["denominator"]) for r in spark] == [
        (r["group"], r["metric"], r["denominator"]) for r in duck
    ]
    for left, right in zip(duck, spark, strict=True):
        for column in ("value", "ci_low", "ci_high"):
            assert (left[column] is None) == (right[column] is None)
            if left[column] is not None:
                assert right[column] == pytest.approx(left[column], abs=1e-12)
    bad = tmp_path / "bad.csv"
    bad.write_text("grp,flagged,truth,people\na,1,0,2.5\na,0,0,-1\n", encoding="utf-8")
    with pytest.raises(InputError, match="count is negative in 1 input row"):
        audit_decisions(bad, engine="spark", flag="flagged", truth="truth", count="people")


def test_count_and_margin_round_trip_through_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = DecisionSpec(truth="truth", flag="flagged", groups=("grp",), count="people", margin="110")
    assert DecisionSpec.from_dict(json.loads(spec.to_json())) == spec
    with pytest.raises(InputError, match="setting 'count' must be a SQL expression"):
        DecisionSpec.from_dict({"truth": "truth", "flag": "flagged", "count": 3})
    path, settings = tmp_path / "counts.csv", tmp_path / "settings.json"
    connection = duckdb.connect()
    connection.register("cells", _toy_table())
    connection.execute(f"COPY cells TO '{path}' (HEADER)")
    settings.write_text(spec.to_json(), encoding="utf-8")
    assert main(["decisions", "audit", str(path), "--settings", str(settings), "--format", "json"]) == 0
    assert "warning: the counts of 1 of 2 group(s)" in capsys.readouterr().err  # b's 100 people, not 110


def test_margins_leave_out_withheld_groups(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A group of 5 people is withheld (--min-cell 10), and so is its complement's partner: the margins
    list only what the audit publishes, so no withheld size is printed on stderr either."""
    path = tmp_path / "counts.csv"
    rows = [(g, f, t, n) for g, f, t, n in TOY] + [("c", 1, 0, 2), ("c", 0, 0, 3)]
    connection = duckdb.connect()
    connection.register("cells", _toy_table(rows))
    connection.execute(f"COPY cells TO '{path}' (HEADER)")
    args = ["decisions", "audit", str(path), "--flag", "flagged", "--truth", "truth", "--group", "grp"]
    assert main([*args, "--count", "people", "--format", "json"]) == 0
    published = {
        r["group"]: r["value"]
        for r in json.loads(capsys.readouterr().out)
        if r["metric"] == "n" and not r["suppressed"]
    }
    assert "c" not in published
    assert main([*args, "--count", "people"]) == 0
    margins = [line for line in capsys.readouterr().err.splitlines() if line.startswith("  grp:")]
    listed = {item.split()[0]: item for item in margins[0].removeprefix("  grp: ").split("; ")}
    assert set(listed) == set(published) - {"all"} and "c" not in listed
    for group, item in listed.items():
        assert item.startswith(f"{group} {published[group]:,.0f} people")


def test_form_messages_echo_user_text_as_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A column or form named like a placeholder ({flag}) is echoed as written, never rendered as --flag."""
    path = tmp_path / "table.csv"
    path.write_text('"{flag}",selected\nA,5\n', encoding="utf-8")
    code = main(["decisions", "audit", str(path), "--counts-form", "selection", "--group", "{flag}"])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "error: a selection table needs the column 'total'; the input has {flag}, selected"
    )
    assert main(["decisions", "audit", str(path), "--counts-form", "{truth}", "--group", "{flag}"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: the counts form must be one of selection, confusion, got '{truth}'"
    )


@pytest.mark.postgresql
def test_counts_table_in_postgresql_equals_the_arrow_table(postgres_url: str) -> None:
    """A published table kept in PostgreSQL (counts as NUMERIC) audits like the same counts in memory."""
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS misflag_counts_test")
        connection.execute(
            "CREATE TABLE misflag_counts_test (grp TEXT, flagged INTEGER, truth INTEGER, people NUMERIC(14, 0))"
        )
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO misflag_counts_test VALUES (%s, %s, %s, %s)", TOY)
    options: dict[str, Any] = {"flag": "flagged", "truth": "truth", "groups": ["grp"], "count": "people"}
    stored = audit_decisions(postgres_url, table="misflag_counts_test", **options)
    assert stored.rows() == audit_decisions(_toy_table(), **options).rows()
    assert stored.metadata["rows_audited"] == 210 and stored.metadata["counts"]["input_rows"] == 8
