"""Benchmark: the decision audit with the disclosure audit by linear programming, against a baseline tree.

A 10M-row Parquet log, race (7) x sex (2) x age band (3) intersected: the log of benchmarks/decisions.py
with two rare races (about 10 and 50 people), so that intersections are small and cells ARE withheld.
Each run is `audit_decisions` in a fresh process; the two trees alternate `--repeat` times so a busy
machine slows both alike; medians, their ratio and the load average are printed.

    python benchmarks/disclosure.py --baseline /path/to/old/src [--rows 10000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

RUN = """
import sys, time
from misflag.decisions import audit_decisions
start = time.perf_counter()
result = audit_decisions(sys.argv[1], flag="flag", truth="truth", groups=["race", "sex", "age"], intersect=True)
withheld = sum(bool(row["suppressed"]) for row in result.rows())
secondary = result.metadata.get("disclosure_audit", {}).get("secondary_suppression", {})
print(time.perf_counter() - start, withheld, secondary.get("method", "none"))
"""


def make_log(path: Path, rows: int) -> None:
    """Synthetic log: race (5 common, 'Native' 1 in 200,000, 'Pacific' 1 in 1,000,000), sex, age band."""
    duckdb.sql(f"""
        COPY (
            SELECT
                CASE WHEN hash(i) % 1000000 = 7 THEN 'Pacific' WHEN hash(i) % 200000 = 3 THEN 'Native'
                     ELSE ['White', 'Black', 'Hispanic', 'Asian', 'Other'][1 + (hash(i) % 5)::INT] END AS race,
                ['F', 'M'][1 + (hash(i + 1) % 2)::INT] AS sex,
                ['<25', '25-45', '>45'][1 + (hash(i + 2) % 3)::INT] AS age,
                (random() < 0.35)::INT AS truth,
                CASE WHEN random() < 0.7 THEN (random() < 0.4)::INT ELSE (random() < 0.2)::INT END AS flag
            FROM range({rows}) t(i)
        ) TO '{path}' (FORMAT parquet)
    """)


def timed(path: Path, source: str | None) -> tuple[float, str]:
    """Seconds, and "ROWS withheld (secondary suppression: METHOD)" of one run in a fresh process."""
    env = {**os.environ, **({"PYTHONPATH": source} if source else {})}
    out = subprocess.run(
        [sys.executable, "-c", RUN, str(path)], check=True, capture_output=True, text=True, env=env
    )
    seconds, withheld, method = out.stdout.split()
    return float(seconds), f"{withheld} (secondary suppression: {method})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", required=True, help="the src folder of the tree to compare against")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.parquet"
        make_log(path, args.rows)
        now, before, withheld, withheld_before = [], [], "", ""
        for _ in range(args.repeat):
            seconds, withheld = timed(path, None)
            now.append(seconds)
            seconds, withheld_before = timed(path, args.baseline)
            before.append(seconds)
    print(
        f"rows {args.rows:,}; rows withheld: {withheld} with the LP audit, {withheld_before} in the baseline"
    )
    print(f"baseline median {statistics.median(before):.2f}s; with LP audit {statistics.median(now):.2f}s")
    print(f"ratio {statistics.median(now) / statistics.median(before):.2f}; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
