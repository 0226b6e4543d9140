"""Issue 23's speed bar: a 10M-row decision audit with worst-case bounds (truth NULL for every unflagged
person and a fifth of the flagged) against the same audit with every truth known; the ratio is printed.

    python benchmarks/missing_truth.py [--rows N]

The bar: the audit with bounds within 1.5x the full-label audit's time. One run of each (the bounds are
computed on the cell table, not on rows, so the two differ by the few extra cells only).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def write_log(path: Path, rows: int) -> None:
    """race (4 values), flag, truth (0/1) and truth_seen (truth, NULL where it was never followed up)."""
    rng = np.random.default_rng(23)
    race = rng.choice(np.array(["A", "B", "C", "D"]), rows)
    truth = (rng.random(rows) < 0.35).astype(np.int8)
    flag = np.where(truth == 1, rng.random(rows) < 0.7, rng.random(rows) < 0.2).astype(np.int8)
    seen = (flag == 1) & (rng.random(rows) < 0.8)
    table = pa.table({"race": race, "flag": flag, "truth": truth, "truth_seen": pa.array(truth, mask=~seen)})
    pq.write_table(table, path)


def measure(arguments: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "misflag.cli", *arguments], capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    options = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) before the runs")
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "log.parquet"
        write_log(log, options.rows)
        common = ["decisions", "audit", str(log), "--flag", "flag", "--group", "race", "--format", "csv"]
        full = measure([*common, "--truth", "truth"])
        bounded = measure([*common, "--truth", "truth_seen"])
    print(f"{options.rows:,} rows; load average {os.getloadavg()[0]:.2f} after")
    print(f"full labels:            {full:6.2f} s")
    print(f"missing truth (bounds): {bounded:6.2f} s")
    ratio = bounded / full
    print(f"ratio: x{ratio:.2f} ({'meets' if ratio <= 1.5 else 'misses'} the issue's bar of 1.5x)")


if __name__ == "__main__":
    main()
