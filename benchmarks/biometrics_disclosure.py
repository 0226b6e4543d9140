"""Benchmark: the cost of the biometric audit's LP audit (docs/biometrics.md, "Suppression").

A K x K cross table (`--group` equal to `--group-a`, two given thresholds) whose cells hold 2 to 200
comparisons (diagonal cells 5 to 200, a third of them genuine pairs), so that many cells are withheld and
their counts audited. The same audit at `--min-cell 10` runs twice, alternating, in this process after
a warm-up (so scipy and HiGHS are loaded in both): with the LP audit, and with the rules alone (the
audit's `protect` replaced by one that keeps the rules' levels: the same scan, rows and summaries, no
model built or solved); medians of CPU and wall seconds, their ratio, the withheld rows (equal where the
LP audit withheld nothing more, which the script says) and the audit's metadata. The load average is
printed: the machine may be shared.

    python benchmarks/biometrics_disclosure.py [--groups 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import numpy as np
import pandas as pd
from _timing import Timing, load_average, time_call

from misflag.biometrics import _disclosure, audit_biometrics

AUDIT = _disclosure.protect


def table(groups: int, seed: int = 1) -> pd.DataFrame:
    """One row per comparison of a groups x groups cross table with small and large cells."""
    rng = np.random.default_rng(seed)
    labels = [f"G{i}" for i in range(groups)]
    rows = []
    for a in labels:
        for b in labels:
            size = int(rng.choice([5, 8, 15, 30, 60, 200] if a == b else [2, 5, 8, 15, 30, 60, 200]))
            genuine = size // 3 if a == b else 0
            scores = rng.random(size) + 0.5 * (np.arange(size) < genuine)
            rows += [(scores[i], int(i < genuine), a, b) for i in range(size)]
    return pd.DataFrame(rows, columns=["score", "genuine", "ga", "gb"])


def rules_only(release: Any, levels: list[np.ndarray], min_cell: int) -> _disclosure.Outcome:
    """The baseline's `protect`: the rules' levels as they are, no LP audit."""
    return _disclosure.Outcome(levels, None)


def run(frame: pd.DataFrame, audited: bool) -> tuple[Timing, Any]:
    _disclosure.protect = AUDIT if audited else rules_only  # type: ignore[assignment]
    return time_call(
        lambda: audit_biometrics(
            frame,
            score="score",
            genuine="genuine",
            group="ga",
            group_a="ga",
            group_b="gb",
            threshold=[0.8, 0.95],
            min_cell=10,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    frame = table(args.groups)
    print(f"load average before: {load_average()}")
    run(frame, True)  # warm-up: imports, DuckDB, scipy and HiGHS
    times: dict[bool, list[Timing]] = {True: [], False: []}
    results = {}
    for _ in range(max(1, args.repeat)):
        for audited in (True, False):
            timing, results[audited] = run(frame, audited)
            times[audited].append(timing)
    print(f"{args.groups} x {args.groups} cells, {len(frame):,} comparisons; medians of {args.repeat} rounds")
    print(f"load average after: {load_average()}")
    cpu = {audited: statistics.median(t.cpu_seconds for t in times[audited]) for audited in times}
    for audited, label in ((True, "rules + LP audit"), (False, "rules alone")):
        wall = statistics.median(t.seconds for t in times[audited])
        withheld = sum(row["suppressed"] for row in results[audited].table.to_pylist())
        print(f"{label:18} CPU {cpu[audited]:6.2f} s  wall {wall:6.2f} s  withheld rows {withheld:,}")
    same = results[True].table.equals(results[False].table)
    print(f"LP audit / rules alone, CPU: {cpu[True] / cpu[False]:.2f}x (same rows: {same})")
    summary = results[True].metadata.get("disclosure_audit")
    print(f"disclosure_audit: {summary}; the auditor's: {getattr(summary, 'auditor_only', None)}")


if __name__ == "__main__":
    main()
