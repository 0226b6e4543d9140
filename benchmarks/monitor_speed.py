"""Speed of `misflag monitor` against pandas, numpy and DuckDB (moved from benchmarks/monitor.py).

    python benchmarks/monitor_speed.py [--rows 100000000] [--threads 2]

A timestamped Parquet log, 5 groups, 365 days; `misflag.monitor` (read included) against three plain ways
to get the same counts, read included: pandas groupby, numpy bincount (columns read with pyarrow) and one
DuckDB GROUP BY; prints each ratio.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def make_log(path: Path, rows: int) -> None:
    """Timestamped log: 5 groups, 365 days, truth 30%, false positive rate 5% (group g4: 6%)."""
    import duckdb

    duckdb.sql(f"""
        COPY (
            SELECT ts, grp, truth,
                   CASE WHEN truth = 1 THEN (u < 0.7)::INT ELSE (u < CASE WHEN grp = 'g4' THEN 0.06 ELSE 0.05 END)::INT
                   END AS flag
            FROM (
                SELECT TIMESTAMP '2024-01-01' + to_seconds((hash(i) % (365 * 86400))::BIGINT) AS ts,
                       'g' || (hash(i + 7) % 5)::VARCHAR AS grp,
                       (random() < 0.3)::INT AS truth, random() AS u
                FROM range({rows}) t(i)
            )
        ) TO '{path}' (FORMAT parquet)
    """)


def speed(rows: int, threads: int) -> None:
    os.environ["MISFLAG_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.parquet"
        start = time.perf_counter()
        make_log(path, rows)
        print(
            f"wrote {rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.1f} s"
        )

        from misflag.monitor import monitor

        start = time.perf_counter()
        result = monitor(path, time="ts", group="grp", reference="g0", truth="truth", flag="flag")
        misflag_seconds = time.perf_counter() - start
        print(f"misflag monitor ({threads} threads): {misflag_seconds:.1f} s; {result.summary[:160]}")

        import pandas as pd

        start = time.perf_counter()
        # the group column read as a categorical (dictionary) keeps pandas' memory at ~15 bytes per row
        frame = pd.read_parquet(path, columns=["ts", "grp", "flag", "truth"], read_dictionary=["grp"])
        counts = frame.groupby([frame["ts"].dt.floor("D"), "grp", "flag", "truth"], observed=True).size()
        pandas_seconds = time.perf_counter() - start
        print(f"pandas read + groupby of the same counts ({len(counts):,} cells): {pandas_seconds:.1f} s")
        del frame
        start = time.perf_counter()
        cells = bincount_counts(path)
        numpy_seconds = time.perf_counter() - start
        print(f"numpy bincount of the same counts ({np.count_nonzero(cells):,} cells): {numpy_seconds:.1f} s")
        start = time.perf_counter()
        grouped = duckdb_counts(path, threads)
        duckdb_seconds = time.perf_counter() - start
        print(
            f"DuckDB GROUP BY of the same counts ({grouped:,} cells, {threads} threads): {duckdb_seconds:.1f} s"
        )
        assert np.count_nonzero(cells) == grouped == len(counts), "the baselines disagree on the count cells"
    for name, seconds in (
        ("pandas", pandas_seconds),
        ("numpy bincount", numpy_seconds),
        ("DuckDB", duckdb_seconds),
    ):
        print(f"ratio {name} / misflag: {seconds / misflag_seconds:.2f}")
    strongest = min(pandas_seconds, numpy_seconds, duckdb_seconds)
    print(f"strongest baseline / misflag: {strongest / misflag_seconds:.2f}")


def bincount_counts(path: Path) -> np.ndarray:
    """The plain numpy alternative: read the columns with pyarrow, one bincount over day x group x flag x truth."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["ts", "grp", "flag", "truth"], read_dictionary=["grp"])
    day = pc.cast(table["ts"], "int64").to_numpy() // (86_400 * 10**6)  # microseconds since 1970
    day -= day.min()
    groups = table["grp"].combine_chunks()
    code = groups.indices.to_numpy().astype(np.int64)
    width = len(groups.dictionary)
    flag = table["flag"].to_numpy().astype(np.int64)
    truth = table["truth"].to_numpy().astype(np.int64)
    key = ((day * width + code) * 2 + flag) * 2 + truth
    return np.bincount(key)


def duckdb_counts(path: Path, threads: int) -> int:
    """The plain SQL alternative: one DuckDB GROUP BY over the same keys; returns the number of cells."""
    import duckdb

    connection = duckdb.connect()
    connection.execute(f"SET threads = {threads}")
    query = (
        f"SELECT date_trunc('day', ts) AS d, grp, flag, truth, COUNT(*) AS n FROM read_parquet('{path}') "
        "GROUP BY ALL"
    )
    rows = connection.sql(query).fetchall()
    connection.close()
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    speed(args.rows, args.threads)


if __name__ == "__main__":
    main()
