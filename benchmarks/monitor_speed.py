"""Speed and memory of `misflag monitor` against a bare scan and the plain alternatives (issues 24 and 26).

A timestamped Parquet log (5 groups, 365 days, `--rows` rows) is watched for the false positive rate of
each group against g0. Each of these runs `--repeat` times, alternating (a busy spell slows all alike),
and the medians are printed with the load average:

1. bare DuckDB GROUP BY of the same file over the columns the monitor reads (day, group, flag, truth), in
   this process: the least any monitor must do (issue 26's literal baseline);
2. the same GROUP BY as a user's one-line command, `python -c "import duckdb; ..."` in a fresh process
   (Python's start-up, DuckDB's import, one scan), with its CPU time;
3. the CLI, `misflag monitor ... --format json` in a fresh process, with CPU time (user + system, all
   threads: steadier than wall time on a shared machine) and peak memory (max RSS, from /usr/bin/time);
4. the API, `misflag.monitor.monitor`, in this process (imports done), with its CPU time;
5. numpy: the columns read with pyarrow, one `np.bincount` over day x group x flag x truth (the plain
   alternative issue 24 names: read included, same counts);
6. pandas: `read_parquet` (group as a categorical) and `groupby(...).size()`; `--skip-pandas` leaves it
   out (about 10 GB at 100M rows).

The baselines give the count table only; misflag also checks every expression, computes intervals,
e-values and alarms. Ratios printed: CLI and API over the bare GROUP BY (targets <= 3 and <= 1.3), CLI
over the one-line command, and each plain alternative over misflag (issue 24's target: numpy bincount
>= 3x misflag's time, i.e. misflag at least 3x faster, at 10M and 100M rows).

    python benchmarks/monitor_speed.py [--rows 10000000] [--threads 2] [--repeat 5] [--skip-pandas]
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

#: The bare scan: the columns the monitor reads, grouped by day, counted.
GROUP_BY = "SELECT date_trunc('day', ts) AS d, grp, flag, truth, COUNT(*) AS n FROM read_parquet('{path}') GROUP BY ALL"
MONITOR = ["--time", "ts", "--group", "grp", "--reference", "g0", "--truth", "truth", "--flag", "flag"]


def make_log(path: Path, rows: int) -> None:
    """Timestamped log: 5 groups, 365 days, truth 30%, false positive rate 5% (group g4: 6%)."""
    duckdb.sql(f"""
        COPY (
            SELECT ts, grp, truth,
                   CASE WHEN truth = 1 THEN (u < 0.7)::INT ELSE (u < CASE WHEN grp = 'g4' THEN 0.06 ELSE 0.05 END)::INT
                   END AS flag
            FROM (
                SELECT TIMESTAMP '2024-01-01' + to_seconds((hash(i) % (365 * 86400))::BIGINT) AS ts,
                       'g' || (hash(i + 7) % 5)::VARCHAR AS grp,
                       (random() < 0.3)::INT AS truth, random() AS u
                FROM range({rows}) t(i)
            )
        ) TO '{path}' (FORMAT parquet)
    """)


def bare_group_by(path: Path, threads: int) -> tuple[float, float, int]:
    """Seconds, CPU seconds and cells of one DuckDB GROUP BY in this process."""
    connection = duckdb.connect()
    connection.execute(f"SET threads = {threads}")
    start, cpu = time.perf_counter(), time.process_time()
    cells = len(connection.execute(GROUP_BY.format(path=path)).fetchall())
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    connection.close()
    return seconds, cpu, cells


def timed_child(command: list[str], threads: int) -> tuple[float, float, float]:
    """Seconds, CPU seconds (user + system, all threads) and peak memory (MiB) of a fresh process.

    The peak comes from /usr/bin/time: a child's ru_maxrss also counts pages it shared with this (by
    then large) process before exec, so RUSAGE_CHILDREN alone overstates it.
    """
    with tempfile.NamedTemporaryFile(suffix=".txt") as report:
        wrapped = ["/usr/bin/time", "-f", "%M", "-o", report.name, *command]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(
            wrapped, stdout=subprocess.DEVNULL, env={**os.environ, "MISFLAG_THREADS": str(threads)}
        )
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_kib = float(Path(report.name).read_text().split()[-1])
    if done.returncode not in (0, 3):  # 3: an alarm is open, as the log's g4 makes likely
        raise SystemExit(f"{command[:4]} exited {done.returncode}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return seconds, cpu, peak_kib / 1024


def command_line_group_by(path: Path, threads: int) -> tuple[float, float, float]:
    """The user's one-line alternative: a fresh Python that imports DuckDB and runs the bare GROUP BY."""
    code = (
        f"import duckdb; connection = duckdb.connect(); connection.execute('SET threads = {threads}'); "
        f"connection.execute({GROUP_BY.format(path=path)!r}).fetchall()"
    )
    return timed_child([sys.executable, "-c", code], threads)


def cli_run(path: Path, threads: int) -> tuple[float, float, float]:
    """The CLI monitor in a fresh process: start-up, imports, Parquet read and JSON output included."""
    return timed_child(
        [sys.executable, "-m", "misflag.cli", "monitor", str(path), *MONITOR, "--format", "json"], threads
    )


def api_run(path: Path) -> tuple[float, float]:
    """Seconds and CPU seconds of the in-process API (imports already done)."""
    from misflag.monitor import monitor

    start, cpu = time.perf_counter(), time.process_time()
    monitor(path, time="ts", group="grp", reference="g0", truth="truth", flag="flag")
    return time.perf_counter() - start, time.process_time() - cpu


def bincount_counts(path: Path) -> int:
    """The plain numpy alternative: columns read with pyarrow, one bincount over day x group x flag x
    truth; returns the number of non-empty cells."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["ts", "grp", "flag", "truth"], read_dictionary=["grp"])
    day = pc.cast(table["ts"], "int64").to_numpy() // (86_400 * 10**6)  # microseconds since 1970
    day -= day.min()
    groups = table["grp"].combine_chunks()
    code = groups.indices.to_numpy().astype(np.int64)
    width = len(groups.dictionary)
    flag = table["flag"].to_numpy().astype(np.int64)
    truth = table["truth"].to_numpy().astype(np.int64)
    key = ((day * width + code) * 2 + flag) * 2 + truth
    return int(np.count_nonzero(np.bincount(key)))


def pandas_counts(path: Path) -> int:
    """The plain pandas alternative: read_parquet (group as a categorical) and one groupby."""
    import pandas as pd

    frame = pd.read_parquet(path, columns=["ts", "grp", "flag", "truth"], read_dictionary=["grp"])
    return len(frame.groupby([frame["ts"].dt.floor("D"), "grp", "flag", "truth"], observed=True).size())


def _timed(call: Callable[[], Any]) -> tuple[float, float, Any]:
    """Seconds, CPU seconds (this process, all threads) and the result of a call."""
    start, cpu = time.perf_counter(), time.process_time()
    out = call()
    return time.perf_counter() - start, time.process_time() - cpu, out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-pandas", action="store_true")
    args = parser.parse_args()
    os.environ["MISFLAG_THREADS"] = str(args.threads)
    runs: dict[str, list[float]] = {}

    def note(**values: float) -> None:
        for name, value in values.items():
            runs.setdefault(name.replace("_", " "), []).append(value)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.parquet"
        seconds, _, _ = _timed(lambda: make_log(path, args.rows))
        print(f"wrote {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) in {seconds:.1f} s")
        load_before = os.getloadavg()
        for _ in range(max(1, args.repeat)):  # alternating, so a busy spell slows every kind alike
            seconds, cpu, cells = bare_group_by(path, args.threads)
            note(bare=seconds, bare_cpu=cpu)
            for name, (seconds, cpu, peak) in (
                ("line", command_line_group_by(path, args.threads)),
                ("cli", cli_run(path, args.threads)),
            ):
                note(**{name: seconds, f"{name}_cpu": cpu, f"{name}_peak": peak})
            seconds, cpu = api_run(path)
            note(api=seconds, api_cpu=cpu)
            seconds, cpu, found = _timed(lambda: bincount_counts(path))
            note(numpy=seconds, numpy_cpu=cpu)
            assert found == cells, f"numpy bincount found {found} cells, DuckDB {cells}"
            if not args.skip_pandas:
                seconds, cpu, found = _timed(lambda: pandas_counts(path))
                note(pandas=seconds, pandas_cpu=cpu)
                assert found == cells, f"pandas found {found} cells, DuckDB {cells}"
        load = os.getloadavg()
    report(args, runs, cells, load_before, load)


def report(
    args: argparse.Namespace,
    runs: dict[str, list[float]],
    cells: int,
    load_before: tuple[float, float, float],
    load: tuple[float, float, float],
) -> None:
    """Medians, peaks and every ratio."""
    median = {name: statistics.median(values) for name, values in runs.items()}
    print(
        f"rows: {args.rows:,}; {cells:,} count cells; median of {args.repeat} alternating runs, "
        f"{args.threads} threads; load average {load_before[0]:.1f} before, {load[0]:.1f} {load[1]:.1f} "
        f"{load[2]:.1f} after (1, 5, 15 min) on {os.cpu_count()} CPUs"
    )
    rows = [
        ("1. bare DuckDB GROUP BY, in this process", "bare"),
        ("2. the same as `python -c 'import duckdb; ...'`", "line"),
        ("3. misflag monitor CLI (fresh process, JSON out)", "cli"),
        ("4. misflag.monitor.monitor API (in process)", "api"),
        ("5. numpy bincount (pyarrow read included)", "numpy"),
        ("6. pandas read_parquet + groupby", "pandas"),
    ]
    for label, key in rows:
        if key not in median:
            continue
        cpu = f", CPU {median[key + ' cpu']:6.2f} s" if key + " cpu" in median else ""
        peak = f", peak {max(runs[key + ' peak']):5.0f} MiB" if key + " peak" in runs else ""
        print(f"{label:<52} {median[key]:7.2f} s{cpu}{peak}")
    ratios = [
        ("CLI / bare GROUP BY (issue 26 target <= 3)", median["cli"] / median["bare"]),
        ("  the same in CPU time", median["cli cpu"] / median["bare cpu"]),
        ("API / bare GROUP BY (issue 26 target <= 1.3)", median["api"] / median["bare"]),
        ("CLI / one-line command GROUP BY", median["cli"] / median["line"]),
        ("  the same in CPU time", median["cli cpu"] / median["line cpu"]),
        ("API CPU / bare GROUP BY CPU", median["api cpu"] / median["bare cpu"]),
        ("numpy bincount / API (issue 24 target >= 3)", median["numpy"] / median["api"]),
        ("  the same in CPU time", median["numpy cpu"] / median["api cpu"]),
        ("numpy bincount / CLI", median["numpy"] / median["cli"]),
        ("bare GROUP BY / API (the strongest baseline)", median["bare"] / median["api"]),
    ]
    if "pandas" in median:
        ratios.append(("pandas / API", median["pandas"] / median["api"]))
        ratios.append(("  the same in CPU time", median["pandas cpu"] / median["api cpu"]))
    for label, ratio in ratios:
        print(f"ratio {label:<46} {ratio:7.2f}x")


if __name__ == "__main__":
    main()
