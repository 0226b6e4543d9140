"""Benchmark: misflag's biometric audit vs a pandas/numpy implementation of the same FMR/FNMR table.

100M comparisons (1% genuine) in 4 groups, written to Parquet in a temporary folder. Both sides read the
file, set the thresholds for FMR = 1e-3 and 1e-4 over all impostor pairs (exact order statistics),
count every group's false matches and false non-matches at those thresholds, and tabulate FMR and FNMR
per group at 2,000 score bins (the curves). misflag also computes intervals, ratios, summaries and the
EER; the pandas side does not. Prints both times and the ratio.

    python benchmarks/biometrics.py [--rows 100000000] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np

TARGETS = (1e-3, 1e-4)
BINS = 2000


def make_scores(path: Path, rows: int) -> None:
    """Groups g0..g3; impostor scores N(0.1 g, 1), genuine N(3, 1) (Box-Muller in SQL)."""
    duckdb.sql(f"""
        COPY (
            SELECT 'g' || (i % 4) AS grp, (hash(i) % 100 = 0)::TINYINT AS genuine,
                   CASE WHEN hash(i) % 100 = 0 THEN 3.0 ELSE 0.1 * (i % 4) END
                   + sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS score
            FROM range({rows}) t(i)
        ) TO '{path}' (FORMAT parquet)
    """)


def pandas_table(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """The same table with pandas and numpy: thresholds, per-group counts at them, per-group histograms."""
    import pandas as pd

    # groups read straight into a categorical (no Python string per row): the fast way to read them
    frame = pd.read_parquet(path, columns=["grp", "genuine", "score"], read_dictionary=["grp"])
    score = frame["score"].to_numpy()
    impostor = frame["genuine"].to_numpy() == 0
    imp_scores = score[impostor]
    thresholds = []
    for target in TARGETS:
        allowed = int(np.floor(target * imp_scores.size + 1e-9))
        statistic = np.partition(imp_scores, imp_scores.size - allowed - 1)[imp_scores.size - allowed - 1]
        thresholds.append(float(np.nextafter(statistic, np.inf)))
    span = (float(score.min()), float(score.max()))
    out: dict[str, dict[str, np.ndarray]] = {}
    for (group, genuine), part in frame.groupby(["grp", "genuine"], observed=True)["score"]:
        values = part.to_numpy()
        hits = np.asarray([np.count_nonzero(values >= t) for t in thresholds])
        counts, _ = np.histogram(values, bins=BINS, range=span)  # equal bins: numpy's fast path
        above = np.cumsum(counts[::-1])[::-1]
        key = "fmr" if genuine == 0 else "fnmr"
        rate = hits / values.size if genuine == 0 else (values.size - hits) / values.size
        curve = above / values.size if genuine == 0 else 1 - above / values.size
        out.setdefault(str(group), {})[key] = rate
        out[str(group)][f"{key}_curve"] = curve
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ["MISFLAG_THREADS"] = str(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scores.parquet"
        make_scores(path, args.rows)

        from misflag.biometrics import audit_biometrics

        start = time.perf_counter()
        result = audit_biometrics(
            path, score="score", genuine="genuine", group="grp", target_fmr=TARGETS, bins=BINS
        )
        misflag_seconds = time.perf_counter() - start

        start = time.perf_counter()
        table = pandas_table(path)
        pandas_seconds = time.perf_counter() - start

    for j, point in enumerate(result.metadata["operating_points"]):
        for group, rates in table.items():
            for metric in ("fmr", "fnmr"):
                ours = result.value(metric, group, attribute="grp", stage=point["stage"])
                assert ours == rates[metric][j], f"misflag and pandas disagree on {metric} of {group}"
    print(f"comparisons: {args.rows:,}; 4 groups; thresholds for FMR {', '.join(f'{t:g}' for t in TARGETS)}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (timings are wall-clock)")
    print(
        f"misflag (DuckDB, {args.threads} threads), table + intervals + summaries + EER: {misflag_seconds:8.2f} s"
    )
    print(f"pandas/numpy, the FMR/FNMR table and curves:                     {pandas_seconds:8.2f} s")
    print(f"ratio (pandas / misflag): {pandas_seconds / misflag_seconds:.1f}x")


if __name__ == "__main__":
    main()
