"""Benchmark: misflag's biometric audit vs three plain implementations of the same FMR/FNMR table.

100M comparisons (1% genuine) in 4 groups, written to Parquet in a temporary folder. Both sides read the
file, set the thresholds for FMR = 1e-3 and 1e-4 over all impostor pairs (exact order statistics),
count every group's false matches and false non-matches at those thresholds, and tabulate FMR and FNMR
per group at 2,000 score bins (the curves). misflag also computes intervals, ratios, summaries and the
EER; the baselines do not. Baselines: pandas groupby with numpy, plain numpy (pyarrow read, np.bincount
over group x genuine and group x genuine x bin), and DuckDB SQL (ORDER BY ... OFFSET k for each threshold,
GROUP BY for counts and curves), each checked to give misflag's rates exactly. Prints every time and ratio.

Then issue 26's ratios: `--repeat` alternating runs (median) of one bare DuckDB GROUP BY over the file
(group, genuine: what any audit must at least read), the CLI `misflag biometrics audit` in a fresh process
(with its CPU time and peak memory, less noisy on a shared machine) and the in-process API. Targets: CLI
<= 3x and API <= 1.3x the bare GROUP BY.

    python benchmarks/biometrics.py [--rows 100000000] [--threads 2] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
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


def numpy_table(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """The plain numpy alternative: columns read with pyarrow, thresholds by np.partition, then
    np.bincount over group x genuine for the counts at each threshold and over group x genuine x bin for
    the curves."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["grp", "genuine", "score"], read_dictionary=["grp"])
    groups = table["grp"].combine_chunks()
    names = [str(name) for name in groups.dictionary.to_pylist()]
    genuine = table["genuine"].to_numpy().astype(np.int64)
    key = groups.indices.to_numpy().astype(np.int64) * 2 + genuine
    score = table["score"].to_numpy()
    imp_scores = score[genuine == 0]
    thresholds = []
    for target in TARGETS:
        allowed = int(np.floor(target * imp_scores.size + 1e-9))
        statistic = np.partition(imp_scores, imp_scores.size - allowed - 1)[imp_scores.size - allowed - 1]
        thresholds.append(float(np.nextafter(statistic, np.inf)))
    keys = 2 * len(names)
    sizes = np.bincount(key, minlength=keys)
    hits = np.stack([np.bincount(key[score >= t], minlength=keys) for t in thresholds], axis=1)
    lo, hi = float(score.min()), float(score.max())
    bins = np.minimum(((score - lo) / (hi - lo) * BINS).astype(np.int64), BINS - 1)
    counts = np.bincount(key * BINS + bins, minlength=keys * BINS).reshape(keys, BINS)
    above = np.cumsum(counts[:, ::-1], axis=1)[:, ::-1]
    out: dict[str, dict[str, np.ndarray]] = {}
    for g, name in enumerate(names):
        imp, gen = 2 * g, 2 * g + 1
        out[name] = {
            "fmr": hits[imp] / sizes[imp],
            "fnmr": (sizes[gen] - hits[gen]) / sizes[gen],
            "fmr_curve": above[imp] / sizes[imp],
            "fnmr_curve": 1 - above[gen] / sizes[gen],
        }
    return out


def duckdb_table(path: Path, threads: int) -> dict[str, dict[str, np.ndarray]]:
    """The plain SQL alternative: each threshold from the (k+1)-th highest impostor score (ORDER BY ...
    LIMIT 1 OFFSET k), then one GROUP BY for the counts at the thresholds and one for the curves."""
    connection = duckdb.connect()
    connection.execute(f"SET threads = {threads}")
    source = f"read_parquet('{path}')"
    impostors = connection.execute(f"SELECT COUNT(*) FROM {source} WHERE genuine = 0").fetchone()
    assert impostors is not None
    thresholds = []
    for target in TARGETS:
        allowed = int(np.floor(target * impostors[0] + 1e-9))
        found = connection.execute(
            f"SELECT score FROM {source} WHERE genuine = 0 ORDER BY score DESC LIMIT 1 OFFSET {allowed}"
        ).fetchone()
        assert found is not None
        thresholds.append(float(np.nextafter(found[0], np.inf)))
    marks = ", ".join(f"COUNT(*) FILTER (WHERE score >= {t!r})" for t in thresholds)
    rows = connection.execute(f"SELECT grp, genuine, COUNT(*), {marks} FROM {source} GROUP BY ALL").fetchall()
    span = connection.execute(f"SELECT MIN(score), MAX(score) FROM {source}").fetchone()
    assert span is not None
    lo, width = span[0], (span[1] - span[0]) / BINS
    curves = connection.execute(
        f"SELECT grp, genuine, LEAST(CAST(floor((score - {lo!r}) / {width!r}) AS BIGINT), {BINS - 1}) AS b, "
        f"COUNT(*) FROM {source} GROUP BY ALL"
    ).fetchall()
    connection.close()
    out: dict[str, dict[str, np.ndarray]] = {}
    for group, genuine, size, *hits in rows:
        rate = np.asarray(hits) / size if genuine == 0 else (size - np.asarray(hits)) / size
        out.setdefault(str(group), {})["fmr" if genuine == 0 else "fnmr"] = rate
    assert len(curves) > 0
    return out


def cli_run(path: Path, threads: int) -> tuple[float, float, float]:
    """Seconds, CPU seconds (user + system) and peak memory (MiB) of the CLI audit in a fresh process.

    The peak comes from /usr/bin/time where there is one: a child's ru_maxrss also counts the pages it
    shared with this (by then large) process before exec, so RUSAGE_CHILDREN alone overstates it.
    """
    command = [
        sys.executable, "-m", "misflag.cli", "biometrics", "audit", str(path), "--score", "score",
        "--genuine", "genuine", "--group", "grp", "--target-fmr", "0.001", "--target-fmr", "0.0001",
        "--bins", str(BINS), "--format", "json",
    ]  # fmt: skip
    timer = Path("/usr/bin/time")
    with tempfile.NamedTemporaryFile(suffix=".txt") as report:
        wrapped = [str(timer), "-f", "%M", "-o", report.name, *command] if timer.exists() else command
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            wrapped,
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "MISFLAG_THREADS": str(threads)},
        )
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_kib = float(Path(report.name).read_text().split()[-1]) if timer.exists() else after.ru_maxrss
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return seconds, cpu, peak_kib / 1024


def bare_group_by(path: Path, threads: int) -> float:
    """Seconds of one DuckDB GROUP BY over the group and genuine columns of the same file."""
    connection = duckdb.connect()
    connection.execute(f"SET threads = {threads}")
    start = time.perf_counter()
    connection.execute(f"SELECT grp, genuine, count(*) FROM read_parquet('{path}') GROUP BY ALL").fetchall()
    seconds = time.perf_counter() - start
    connection.close()
    return seconds


def ratios(path: Path, threads: int, repeat: int) -> None:
    """Issue 26's ratios: alternating bare GROUP BY, CLI and API runs; medians."""
    from misflag.biometrics import audit_biometrics

    bare, cli, cpu, peak, api = [], [], [], [], []
    for _ in range(repeat):
        bare.append(bare_group_by(path, threads))
        seconds, cpu_seconds, mib = cli_run(path, threads)
        cli.append(seconds)
        cpu.append(cpu_seconds)
        peak.append(mib)
        start = time.perf_counter()
        audit_biometrics(path, score="score", genuine="genuine", group="grp", target_fmr=TARGETS, bins=BINS)
        api.append(time.perf_counter() - start)
    print(f"median of {repeat} alternating runs; load average {os.getloadavg()[0]:.1f}")
    print(f"bare DuckDB GROUP BY over the file: {statistics.median(bare):8.2f} s")
    print(
        f"CLI biometrics audit (fresh process): {statistics.median(cli):8.2f} s, CPU {statistics.median(cpu):.2f} s"
    )
    print(f"  peak memory of the CLI (largest of the runs): {max(peak):8.0f} MiB")
    print(f"in-process API audit: {statistics.median(api):8.2f} s")
    print(
        f"ratio CLI / bare GROUP BY (target <= 3): {statistics.median(cli) / statistics.median(bare):8.1f}x"
    )
    print(
        f"ratio API / bare GROUP BY (target <= 1.3): {statistics.median(api) / statistics.median(bare):8.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
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

        seconds = {}
        tables = {}
        for name, build in (
            ("pandas/numpy", lambda: pandas_table(path)),
            ("numpy bincount", lambda: numpy_table(path)),
            ("DuckDB GROUP BY", lambda: duckdb_table(path, args.threads)),
        ):
            start = time.perf_counter()
            tables[name] = build()
            seconds[name] = time.perf_counter() - start
        ratios(path, args.threads, args.repeat)

    for name, table in tables.items():
        for j, point in enumerate(result.metadata["operating_points"]):
            for group, rates in table.items():
                for metric in ("fmr", "fnmr"):
                    ours = result.value(metric, group, attribute="grp", stage=point["stage"])
                    assert ours == rates[metric][j], f"misflag and {name} disagree on {metric} of {group}"
    print(f"comparisons: {args.rows:,}; 4 groups; thresholds for FMR {', '.join(f'{t:g}' for t in TARGETS)}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (timings are wall-clock)")
    print(
        f"misflag (DuckDB, {args.threads} threads), table + intervals + summaries + EER: {misflag_seconds:8.2f} s"
    )
    for name, took in seconds.items():
        print(f"{name + ', the FMR/FNMR table and curves:':64} {took:8.2f} s")
    for name, took in seconds.items():
        print(f"ratio ({name} / misflag): {took / misflag_seconds:.2f}x")
    print(f"strongest baseline / misflag: {min(seconds.values()) / misflag_seconds:.2f}x")


if __name__ == "__main__":
    main()
