"""Benchmark: misflag's full decision audit vs Fairlearn's MetricFrame on the same synthetic log.

A 10M-row log with three attributes intersected. misflag computes every metric with 1,000-replicate
bootstrap intervals (reading Parquet included); Fairlearn computes point FPR, FNR and selection rate on
an in-memory pandas frame (loading excluded, which favours Fairlearn). Prints both times and the ratio.

    python benchmarks/decisions.py [--rows 10000000] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import duckdb


def make_log(path: Path, rows: int) -> None:
    """Synthetic log: race (5), sex (2), age band (3); truth and flag with group-dependent error rates."""
    duckdb.sql(f"""
        COPY (
            SELECT
                ['White', 'Black', 'Hispanic', 'Asian', 'Other'][1 + (hash(i) % 5)::INT] AS race,
                ['F', 'M'][1 + (hash(i + 1) % 2)::INT] AS sex,
                ['<25', '25-45', '>45'][1 + (hash(i + 2) % 3)::INT] AS age,
                (random() < 0.35)::INT AS truth,
                CASE WHEN random() < 0.7 THEN (random() < 0.4)::INT ELSE (random() < 0.2)::INT END AS flag
            FROM range({rows}) t(i)
        ) TO '{path}' (FORMAT parquet)
    """)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ["MISFLAG_THREADS"] = str(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.parquet"
        make_log(path, args.rows)

        from misflag.decisions import audit_decisions

        start = time.perf_counter()
        result = audit_decisions(
            path, flag="flag", truth="truth", groups=["race", "sex", "age"], intersect=True, replicates=1000
        )
        misflag_seconds = time.perf_counter() - start

        import pandas as pd
        from fairlearn.metrics import MetricFrame, false_negative_rate, false_positive_rate, selection_rate

        frame = pd.read_parquet(path)
        start = time.perf_counter()
        metric_frame = MetricFrame(
            metrics={
                "fpr": false_positive_rate,
                "fnr": false_negative_rate,
                "selection_rate": selection_rate,
            },
            y_true=frame["truth"],
            y_pred=frame["flag"],
            sensitive_features=frame[["race", "sex", "age"]],
        )
        fairlearn_seconds = time.perf_counter() - start

    first = metric_frame.by_group.index[0]
    label = " & ".join(first)
    ours = result.value("fpr", label, attribute="race & sex & age", stage="decision")
    assert abs(ours - metric_frame.by_group.loc[first, "fpr"]) < 1e-12, "misflag and Fairlearn disagree"
    print(
        f"rows: {args.rows:,}; attributes: race x sex x age intersected ({len(result.table):,} result rows)"
    )
    print(f"misflag  full audit, all metrics, 1,000-replicate intervals: {misflag_seconds:8.2f} s")
    print(f"Fairlearn MetricFrame, point FPR/FNR/selection rate:      {fairlearn_seconds:8.2f} s")
    print(f"ratio (Fairlearn / misflag): {fairlearn_seconds / misflag_seconds:.1f}x")


if __name__ == "__main__":
    main()
