"""Benchmark: the decision audit with the disclosure audit by linear programming, against a baseline tree.

A 10M-row Parquet log, race (5) x sex (2) x age band (3) intersected (the log of benchmarks/decisions.py).
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

sys.path.insert(0, str(Path(__file__).parent))
from decisions import make_log

RUN = """
import sys, time
from misflag.decisions import audit_decisions
start = time.perf_counter()
result = audit_decisions(sys.argv[1], flag="flag", truth="truth", groups=["race", "sex", "age"], intersect=True)
print(time.perf_counter() - start, result.metadata.get("disclosure_audit", {}).get("withheld_counts_checked"))
"""


def timed(path: Path, source: str | None) -> tuple[float, str]:
    env = {**os.environ, **({"PYTHONPATH": source} if source else {})}
    out = subprocess.run(
        [sys.executable, "-c", RUN, str(path)], check=True, capture_output=True, text=True, env=env
    )
    seconds, checked = out.stdout.split()
    return float(seconds), checked


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", required=True, help="the src folder of the tree to compare against")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.parquet"
        make_log(path, args.rows)
        now, before, checked = [], [], ""
        for _ in range(args.repeat):
            seconds, checked = timed(path, None)
            now.append(seconds)
            before.append(timed(path, args.baseline)[0])
    print(f"rows {args.rows:,}; withheld counts checked by LP: {checked}")
    print(f"baseline median {statistics.median(before):.2f}s; with LP audit {statistics.median(now):.2f}s")
    print(f"ratio {statistics.median(now) / statistics.median(before):.2f}; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
