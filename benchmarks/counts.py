"""Issue 25's speed bar: a table of 1M counts standing for about 10^9 people audits in under 5 s.

    python benchmarks/counts.py [--cells N] [--people-per-cell M]

The table (Parquet, written by DuckDB) has one row per region (50) x age band (5) x sex (2) x flag x
truth x period, each standing for a seeded random number of people (mean M, 1,000 by default). The
timed command is the one a user runs, `misflag decisions audit FILE --count people --group region
--group sex --group age_band`, in a fresh process, so start-up and the disclosure audit are included;
the same audit is also timed in this process (`audit_decisions`), without start-up and imports.
As a baseline the same audit runs on the table summed over periods (4,000 cells, the same people):
both must print the same figures, and the ratio says what 1M rows of counts cost over 4,000.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from misflag.decisions import audit_decisions

GROUPS = ["--group", "region", "--group", "sex", "--group", "age_band"]


def write_tables(folder: Path, cells: int, mean: int) -> tuple[Path, Path, int]:
    """The 1M-cell table and the same people summed over periods; returns their people count."""
    big, small = folder / "counts.parquet", folder / "summed.parquet"
    connection = duckdb.connect()
    connection.execute("SELECT setseed(0.25)")
    connection.execute(
        f"""CREATE TABLE counts AS
        SELECT 'region ' || (i % 50) AS region, CASE WHEN (i // 50) % 2 = 0 THEN 'F' ELSE 'M' END AS sex,
               'band ' || ((i // 100) % 5) AS age_band, (i // 500) % 2 AS flagged, (i // 1000) % 2 AS truth,
               i // 2000 AS period, CAST(FLOOR(random() * {2 * mean + 1}) AS BIGINT) AS people
        FROM range({cells}) AS t(i)"""
    )
    connection.execute(f"COPY counts TO '{big}' (FORMAT parquet)")
    connection.execute(
        f"COPY (SELECT region, sex, age_band, flagged, truth, SUM(people) AS people FROM counts "
        f"GROUP BY ALL) TO '{small}' (FORMAT parquet)"
    )
    ((people,),) = connection.sql("SELECT SUM(people) FROM counts").fetchall()
    return big, small, int(people)


def timed(path: Path) -> tuple[float, bytes]:
    """Seconds of one `misflag decisions audit` run in its own process, and its JSON output."""
    command = [sys.executable, "-m", "misflag.cli", "decisions", "audit", str(path), "--flag", "flagged"]
    command += ["--truth", "truth", "--count", "people", *GROUPS, "--format", "json"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=True)
    return time.perf_counter() - start, done.stdout


def in_process(path: Path) -> float:
    """Seconds of the audit alone: `audit_decisions` in this process, imports already done."""
    start = time.perf_counter()
    audit_decisions(path, flag="flagged", truth="truth", count="people", groups=["region", "sex", "age_band"])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--people-per-cell", type=int, default=1000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        big, small, people = write_tables(Path(folder), options.cells, options.people_per_cell)
        print(f"{options.cells:,} cells standing for {people:,} people")
        print(f"load average {os.getloadavg()[0]:.2f} (1 min) before the runs")
        baseline, summed = timed(small)
        seconds, output = timed(big)
        in_process(small)  # imports and first-use costs, not timed
        audit_small, audit_big = in_process(small), in_process(big)
        print(f"load average {os.getloadavg()[0]:.2f} (1 min) after the runs")
    assert output == summed, "the 1M-cell table and its sum over periods must give the same figures"
    print(f"audit of the summed table (4,000 cells): {baseline:.2f} s")
    print(
        f"audit of the {options.cells:,}-cell table: {seconds:.2f} s ({seconds / baseline:.2f}x); bar: < 5 s"
    )
    print(
        f"in process (no start-up): {audit_big:.2f} s for {options.cells:,} cells, {audit_small:.2f} s for "
        f"4,000 ({audit_big / audit_small:.2f}x)"
    )


if __name__ == "__main__":
    main()
