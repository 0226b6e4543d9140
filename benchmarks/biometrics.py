"""Benchmark: misflag's biometric audit against bare scans of the file and plain implementations of the
same FMR/FNMR table (issues 24 and 26).

Comparisons (1% genuine) in 4 groups, written to Parquet in a temporary folder (or `--file`, one written
by an earlier run). `--repeat` rounds run every kind below in turn (alternating, so a busy spell on a
shared machine slows all alike); medians of wall and CPU time (user + system, every thread; for a child
process from its rusage) are printed with the load average, and the CPU ratios beside the wall ones:

1. the CLI `misflag biometrics audit` in a fresh process (start-up, imports and reading included): wall,
   CPU and peak memory (max RSS; fresh processes are timed by `benchmarks/_timing.py`);
2. the command-line bare scan: a fresh `python -c "import duckdb; ...GROUP BY..."` over the same file,
   Python's start-up, DuckDB's import and one scan, the least any command-line audit costs;
3. the bare GROUP BY in this process, three times: over (grp, genuine) only, issue 26's literal baseline;
   over every column the audit reads (the score summed too); and over (grp, genuine, score bin), the
   histogram itself (the scores' span from Parquet statistics, then BINS equal bins by the audit's own
   bin expression): the least any audit of the curves must compute, so the fair bare scan for its work;
4. the API `audit_biometrics` in this process (thresholds, counts, curves, intervals, ratios, summaries,
   EERs and their bootstrap), and apart from it the SHA-256 of the file (`misflag.io.file_sha256`), which
   every audit of a file computes for its metadata on a thread beside the scan: a second full read, so
   its CPU time is printed as a share of the API's (not a baseline);
5. the plain alternatives, each checked to give misflag's FMR and FNMR exactly: numpy bincount (pyarrow
   read, np.partition for the thresholds, np.bincount over group x genuine and group x genuine x bin;
   timed with the loading and, separately, without it), DuckDB SQL (ORDER BY ... OFFSET k per threshold,
   GROUP BY for counts and curves) and pandas groupby (first round only: never the strongest, and slow).

Targets: CLI <= 3x the bare scan and API <= 1.3x (issue 26); a plain alternative / misflag >= 3 at 10M
and 100M rows (issue 24: misflag at least 3 times faster than numpy bincount, loading included, as the
user's script must load too). Every process gets `--threads` threads (DuckDB, pyarrow). misflag's modules
are compiled to bytecode first, as an installed wheel's are (where PYTHONDONTWRITEBYTECODE is set, every
fresh process would otherwise compile each edited module again).

    python benchmarks/biometrics.py [--rows 10000000] [--threads 2] [--repeat 5] [--file scores.parquet]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from _timing import (
    Rounds,
    Timing,
    bare_scan,
    command_line_scan,
    compile_trees,
    load_average,
    time_call,
    time_child,
)

TARGETS = (1e-3, 1e-4)
BINS = 2000
#: Wall and CPU seconds each plain alternative spent loading the columns (of its latest run).
LOADING: dict[str, tuple[float, float]] = {}


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
        allowed = math.floor(Fraction(repr(target)) * imp_scores.size)
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
    """The plain numpy alternative: columns read with pyarrow (its time kept in LOADING), thresholds by
    np.partition, then np.bincount over group x genuine for the counts at each threshold and over group x
    genuine x bin for the curves."""
    import pyarrow.parquet as pq

    start, cpu = time.perf_counter(), time.process_time()
    table = pq.read_table(path, columns=["grp", "genuine", "score"], read_dictionary=["grp"])
    groups = table["grp"].combine_chunks()
    names = [str(name) for name in groups.dictionary.to_pylist()]
    genuine = table["genuine"].to_numpy().astype(np.int64)
    key = groups.indices.to_numpy().astype(np.int64) * 2 + genuine
    score = table["score"].to_numpy()
    del table, groups
    LOADING["numpy bincount"] = (time.perf_counter() - start, time.process_time() - cpu)
    imp_scores = score[genuine == 0]
    thresholds = []
    for target in TARGETS:
        allowed = math.floor(Fraction(repr(target)) * imp_scores.size)
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
        allowed = math.floor(Fraction(repr(target)) * int(impostors[0]))
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


def cli_command(path: Path) -> list[str]:
    return [
        sys.executable, "-m", "misflag.cli", "biometrics", "audit", str(path), "--score", "score",
        "--genuine", "genuine", "--group", "grp", "--target-fmr", "0.001", "--target-fmr", "0.0001",
        "--bins", str(BINS), "--format", "json",
    ]  # fmt: skip


#: The bare scans: issue 26's (group and genuine flag), and every column the audit reads.
GROUP_BY = "SELECT grp, genuine, count(*) FROM read_parquet('{path}') GROUP BY ALL"
GROUP_BY_ALL_COLUMNS = "SELECT grp, genuine, count(*), sum(score) FROM read_parquet('{path}') GROUP BY ALL"
HISTOGRAM = "bare GROUP BY grp, genuine, bin (histogram)"
HASH = "input SHA-256 (part of every audit)"


def histogram_scan(path: Path, threads: int) -> Timing:
    """The histogram the curves need, as plain DuckDB: the scores' span (from Parquet statistics), then one
    GROUP BY over group, genuine flag and BINS equal bins, binned by the audit's own expression (its
    fastest form), on one connection made before the clock starts."""
    connection = duckdb.connect()
    connection.execute(f"SET threads = {threads}")
    source = f"read_parquet('{path}')"

    def run() -> int:
        lo, hi = connection.execute(f"SELECT min(score), max(score) FROM {source}").fetchall()[0]
        position = f"((score - ({lo!r})) * {BINS / (hi - lo)!r})"
        binned = (
            f"CASE WHEN {position} >= {BINS - 1} THEN {BINS - 1} ELSE CAST(FLOOR({position}) AS BIGINT) END"
        )
        return len(
            connection.execute(
                f"SELECT grp, genuine, {binned}, count(*) FROM {source} GROUP BY ALL"
            ).fetchall()
        )

    try:
        return time_call(run)[0]
    finally:
        connection.close()


def hash_input(path: Path) -> Timing:
    """The file's SHA-256 as every audit of it computes it (`misflag.io`, for the metadata)."""
    from misflag.io import file_sha256

    return time_call(lambda: file_sha256(path))[0]


def api_audit(path: Path) -> Any:
    from misflag.biometrics import audit_biometrics

    return audit_biometrics(
        path, score="score", genuine="genuine", group="grp", target_fmr=TARGETS, bins=BINS
    )


def check_alternatives(tables: dict[str, dict[str, dict[str, np.ndarray]]], result: Any) -> None:
    """Each plain alternative gave misflag's FMR and FNMR exactly (else the timings compare nothing)."""
    for name, table in tables.items():
        for j, point in enumerate(result.metadata["operating_points"]):
            for group, rates in table.items():
                for metric in ("fmr", "fnmr"):
                    ours = result.value(metric, group, attribute="grp", stage=point["stage"])
                    assert ours == rates[metric][j], f"misflag and {name} disagree on {metric} of {group}"


def rounds(path: Path, threads: int, repeat: int) -> Rounds:
    """`repeat` alternating rounds of every kind (pandas: the first only); then the plain alternatives'
    tables are checked against the API's result."""
    runs = Rounds()
    kept: dict[str, Any] = {}
    computed: dict[str, Callable[[], Any]] = {
        "API": lambda: api_audit(path),
        "numpy bincount": lambda: numpy_table(path),
        "DuckDB SQL": lambda: duckdb_table(path, threads),
        "pandas groupby": lambda: pandas_table(path),
    }
    for round_number in range(repeat):
        scans: dict[str, Callable[[], Timing]] = {
            "CLI (fresh process)": lambda: time_child(cli_command(path), threads),
            "command-line bare scan (fresh process)": lambda: command_line_scan(
                GROUP_BY_ALL_COLUMNS.format(path=path), threads
            ),
            "bare GROUP BY grp, genuine": lambda: bare_scan(GROUP_BY.format(path=path), threads)[0],
            "bare GROUP BY, every column": lambda: bare_scan(GROUP_BY_ALL_COLUMNS.format(path=path), threads)[
                0
            ],
            HISTOGRAM: lambda: histogram_scan(path, threads),
            HASH: lambda: hash_input(path),
        }
        for name, scan in scans.items():
            runs.add(name, scan())
        for name in [*computed][:-1] if round_number else computed:  # pandas: first round only
            timing, kept[name] = time_call(computed[name])
            runs.add(name, timing)
            if name == "numpy bincount":
                wall, cpu = LOADING[name]
                runs.add(f"{name}, loading excluded", Timing(timing.seconds - wall, timing.cpu_seconds - cpu))
    result = kept.pop("API")
    check_alternatives(kept, result)
    return runs


def report(runs: Rounds, rows: int, repeat: int) -> None:
    print(f"comparisons: {rows:,}; 4 groups; thresholds for FMR {', '.join(f'{t:g}' for t in TARGETS)}")
    print(f"medians of {repeat} alternating rounds (pandas: 1); load average after: {load_average()}")
    for name in runs.runs:
        line = f"{name:48} wall {runs.wall(name):8.3f} s   CPU {runs.cpu(name):8.3f} s"
        peak = runs.peak(name)
        if peak is not None:
            line += f"   peak {peak:6.0f} MiB (largest)"
        print(line)
    cli, api = "CLI (fresh process)", "API"
    print("issue 26 (targets: CLI <= 3x, API <= 1.3x), wall (CPU):")
    for mine, base in (
        (cli, "command-line bare scan (fresh process)"),
        (cli, "bare GROUP BY grp, genuine"),
        (cli, "bare GROUP BY, every column"),
        (api, "bare GROUP BY grp, genuine"),
        (api, "bare GROUP BY, every column"),
        (api, HISTOGRAM),
    ):
        print(
            f"  {mine} / {base}: {runs.wall(mine) / runs.wall(base):6.1f}x "
            f"({runs.cpu(mine) / runs.cpu(base):.1f}x)"
        )
    hashing = runs.cpu(HASH) / runs.cpu(api)
    rest = (runs.cpu(api) - runs.cpu(HASH)) / runs.cpu(HISTOGRAM)
    print(f"  of the API's CPU, hashing the input: {hashing:.0%}; the rest / {HISTOGRAM}: {rest:.1f}x CPU")
    print("issue 24 (target: alternative / misflag API >= 3), wall (CPU):")
    for base in ("numpy bincount", "numpy bincount, loading excluded", "DuckDB SQL", "pandas groupby"):
        print(
            f"  {base} / API: {runs.wall(base) / runs.wall(api):6.2f}x "
            f"({runs.cpu(base) / runs.cpu(api):.2f}x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--file", type=Path, help="a file an earlier run wrote (its --rows must match)")
    args = parser.parse_args()
    os.environ["MISFLAG_THREADS"] = str(args.threads)
    import pyarrow

    import misflag

    compile_trees(Path(misflag.__file__).parent)
    pyarrow.set_cpu_count(args.threads)  # the numpy alternative's reader: the same threads as DuckDB
    with tempfile.TemporaryDirectory() as folder:
        path = args.file or Path(folder) / "scores.parquet"
        if args.file is None:
            make_scores(path, args.rows)
        print(f"load average before: {load_average()}")
        report(rounds(path, args.threads, max(1, args.repeat)), args.rows, max(1, args.repeat))


if __name__ == "__main__":
    main()
