"""Issue 20's `--weight` bomb: a weight distinct on every row makes one cell (and one stratum) per row.
Time and peak RSS of `misflag decisions audit` with and without it, and their ratios.

    python benchmarks/decisions_weight.py [--rows N] [--source-tree DIR]   # DIR/src on PYTHONPATH

The issue's bar: within 10 s and at most 512 MB over the unweighted run's peak RSS.
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

MB = 1024 * 1024


def write_log(path: Path, rows: int) -> None:
    """rid, race (4 values), flag and truth (0/1), seeded: the issue's 26 MB file at 2M rows."""
    rng = np.random.default_rng(1)
    race = rng.choice(["A", "B", "C", "D"], rows)
    flag, truth = rng.integers(0, 2, rows), rng.integers(0, 2, rows)
    with path.open("w") as out:
        out.write("rid,race,flag,truth\n")
        out.writelines(f"{i},{race[i]},{flag[i]},{truth[i]}\n" for i in range(rows))


def measure(arguments: list[str], env: dict[str, str]) -> tuple[float, float, bytes]:
    """Seconds, peak RSS in MB (this child alone: each run is its own `time`-wrapped process), output."""
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "misflag.cli", *arguments],
        capture_output=True,
        env=env,
        check=True,
    )
    seconds = time.perf_counter() - start
    peak_kb = int(done.stderr.decode().strip().splitlines()[-1])
    return seconds, peak_kb * 1024 / MB, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--source-tree", type=Path)
    options = parser.parse_args()
    env = dict(os.environ)
    if options.source_tree:
        env["PYTHONPATH"] = str(options.source_tree / "src")
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) before the runs")
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "log.csv"
        write_log(log, options.rows)
        common = ["decisions", "audit", str(log), "--flag", "flag", "--truth", "truth", "--group", "race"]
        common += ["--format", "csv"]
        base_s, base_mb, _ = measure(common, env)
        bomb_s, bomb_mb, _ = measure([*common, "--weight", "1 + rid/1e9"], env)
    print(f"{options.rows:,} rows; load average {os.getloadavg()[0]:.2f} after")
    print(f"baseline (no --weight): {base_s:6.2f} s {base_mb:7.0f} MB")
    print(f"--weight '1 + rid/1e9': {bomb_s:6.2f} s {bomb_mb:7.0f} MB")
    print(
        f"ratio: time x{bomb_s / base_s:.1f}, peak RSS x{bomb_mb / base_mb:.2f} (+{bomb_mb - base_mb:.0f} MB)"
    )
    verdict = "meets" if bomb_s <= 10 and bomb_mb - base_mb <= 512 else "misses"
    print(f"{verdict} the issue's bar (<= 10 s, <= +512 MB)")


if __name__ == "__main__":
    main()
