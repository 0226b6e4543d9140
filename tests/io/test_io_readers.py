"""Readers: every bad file is an InputError naming the problem; hypothesis fuzzes them with random bytes."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from misflag.engine import DuckDBEngine
from misflag.errors import EngineError, ExpressionError, InputError
from misflag.io import check_expression, load_input


def _load(path: Path) -> int:
    engine = DuckDBEngine()
    try:
        return load_input(engine, path).rows
    finally:
        engine.close()


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".csv", ".parquet", ".txt"]))
def test_random_bytes_are_read_or_rejected_cleanly(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(data)
        try:
            assert _load(path) > 0
        except InputError as error:
            assert "\n" not in str(error) and str(error)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.text(max_size=6), min_size=1, max_size=4), min_size=1, max_size=8))
def test_random_csv_text_is_read_or_rejected_cleanly(rows: list[list[str]]) -> None:
    text = "\n".join(",".join(cell.replace("\x00", "") for cell in row) for row in rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.csv"
        path.write_text(text, encoding="utf-8")
        with contextlib.suppress(InputError):
            _load(path)


def test_frames_of_every_kind_load() -> None:
    for frame in (pd.DataFrame({"a": [1, 2]}), pl.DataFrame({"a": [1, 2]}), pa.table({"a": [1, 2]})):
        engine = DuckDBEngine()
        assert load_input(engine, frame).rows == 2
        engine.close()


def test_duckdb_table_source(tmp_path: Path) -> None:
    database = tmp_path / "log.duckdb"
    connection = duckdb.connect(str(database))
    connection.execute("CREATE TABLE decisions AS SELECT range AS id, range % 2 AS flag FROM range(10)")
    connection.close()
    engine = DuckDBEngine()
    info = load_input(engine, database, table="decisions")
    assert (info.rows, info.columns) == (10, ("id", "flag"))
    with pytest.raises(InputError, match=r"say which table to read \(table\)") as raised:
        load_input(DuckDBEngine(), database)
    assert raised.value.parameter == "table"  # the CLI prints it as --table


def test_postgresql_table_source(postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS misflag_io_test")
        connection.execute(
            "CREATE TABLE misflag_io_test AS SELECT g AS id, g % 2 AS flag FROM generate_series(1, 12) g"
        )
    engine = DuckDBEngine()
    info = load_input(engine, postgres_url, table="misflag_io_test")
    assert info.rows == 12
    assert engine.sql("SELECT SUM(flag) AS s FROM input").column(0)[0].as_py() == 6


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a +", "does not parse"),
        ("b > 1", "names column 'b'"),
        ("1; select 2", "single SQL expression"),
        ("", "is empty"),
        ("*", "single SQL expression"),
    ],
)
def test_expressions_are_checked(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        check_expression(text, ["a"], "--flag")


def test_expression_columns_are_case_insensitive() -> None:
    # The rendered SQL names the input's real column, quoted, whatever case the user wrote.
    assert check_expression("A > 1", ["a"], "--flag") == '"a" > 1'
    assert check_expression("a > 1", ["A", "a"], "--flag") == '"a" > 1'


def test_sandboxed_engine_reads_its_inputs_and_nothing_else(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("a,b\n1,x\n2,y\n", encoding="utf-8")
    other = tmp_path / "other.csv"
    other.write_text("secret\n42\n", encoding="utf-8")
    engine = DuckDBEngine(sandbox=True)
    try:
        assert load_input(engine, log).rows == 2
        assert engine.sql("SELECT SUM(a) AS s FROM input").column(0)[0].as_py() == 3
        with pytest.raises(EngineError, match=r"(?i)permission|disabled"):
            engine.sql(f"SELECT * FROM read_csv('{other}')")
        with pytest.raises(EngineError, match="one statement"):
            engine.sql("SELECT 1; SELECT 2")
        with pytest.raises(EngineError):
            engine.sql("SET enable_external_access = true")
    finally:
        engine.close()


def test_csv_errors_found_after_the_sniffer_are_input_errors(tmp_path: Path) -> None:
    # A bad row far below what the sniffer reads is still found when the input is loaded: an InputError.
    path = tmp_path / "late.csv"
    path.write_text("a,b\n" + "1,2\n" * 30000 + 'x,"unclosed\n', encoding="utf-8")
    engine = DuckDBEngine(sandbox=True)
    try:
        with pytest.raises(InputError, match=r"late\.csv"):
            load_input(engine, path)
    finally:
        engine.close()
