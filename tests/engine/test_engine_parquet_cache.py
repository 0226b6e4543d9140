"""A sandboxed (audit) engine caches Parquet footers for its own queries only: a file replaced between two
audits, even with its old size and modification time, is read afresh by the next engine."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from misflag.engine import DuckDBEngine, get_engine
from misflag.io import load_input


def _setting(engine: DuckDBEngine) -> bool:
    return bool(engine.sql("SELECT current_setting('parquet_metadata_cache') AS s").column(0)[0].as_py())


def test_only_audit_engines_cache_footers() -> None:
    audit, plain = get_engine("duckdb"), DuckDBEngine()
    try:
        assert isinstance(audit, DuckDBEngine)
        assert _setting(audit) is True
        assert _setting(plain) is False  # engines that write and re-read files keep DuckDB's default
    finally:
        audit.close()
        plain.close()


def test_a_replaced_file_is_read_afresh_by_the_next_engine(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    pq.write_table(pa.table({"flag": [0, 1, 1]}), path)
    first = get_engine("duckdb")
    try:
        info = load_input(first, path)
        assert info.rows == 3
        assert first.sql('SELECT SUM("flag") AS s FROM "input"').column(0)[0].as_py() == 2
        stat = path.stat()
        pq.write_table(pa.table({"flag": [1, 1, 1, 1, 1], "grp": ["a"] * 5}), path)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the old time: a cache keyed on it would lie
    finally:
        first.close()
    second = get_engine("duckdb")
    try:
        info = load_input(second, path)
        assert (info.rows, info.columns) == (5, ("flag", "grp"))
        assert second.sql('SELECT SUM("flag") AS s FROM "input"').column(0)[0].as_py() == 5
    finally:
        second.close()
