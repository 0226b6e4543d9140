"""Speed and memory of `misflag monitor` against a bare scan and the plain alternatives (issues 24 and 26).

A timestamped Parquet log (5 groups, 365 days, `--rows` rows) is watched for the false positive rate of
each group against g0. Each of these runs `--repeat` times, alternating (a busy spell slows all alike),
and the medians are printed with the load average:

1. bare DuckDB GROUP BY of the same file over the columns the monitor reads (day, group, flag, truth), in
   this process: the least any monitor must do (issue 26's literal baseline);
2. the same GROUP BY as a user's one-line command, `python -c "import duckdb; ..."` in a fresh process
   (Python's start-up, DuckDB's import, one scan), with its CPU time;
3. the CLI, `misflag monitor ... --format json` in a fresh process, with CPU time (user + system, all
   threads: steadier than wall time on a shared machine) and peak memory (max RSS; fresh processes are
   timed by `benchmarks/_timing.py`);
4. the API, `misflag.monitor.monitor`, in this process (imports done), with its CPU time;
5. numpy: the columns read with pyarrow, one `np.bincount` over day x group x flag x truth (the plain
   alternative issue 24 names: read included, same counts);
6. pandas: `read_parquet` (group as a categorical) and `groupby(...).size()`; `--skip-pandas` leaves it
   out (about 10 GB at 100M rows).

Two more lines say where the API's time goes beyond the scan (no baseline: parts of misflag's own work):
the monitor's own count query (`monitor._counts.count_sql`, the SQL the API runs) on a bare connection in
this process, and the input's SHA-256 alone (`misflag.io.file_sha256`, for the reproducibility block; the
API hashes on a thread beside its scan).

The baselines give the count table only; misflag also checks every expression, computes intervals,
e-values and alarms. Ratios printed: CLI and API over the bare GROUP BY (targets <= 3 and <= 1.3), CLI
over the one-line command, and each plain alternative over misflag (issue 24's target: numpy bincount
>= 3x misflag's time, i.e. misflag at least 3x faster, at 10M and 100M rows).

    python benchmarks/monitor_speed.py [--rows 10000000] [--threads 2] [--repeat 5] [--skip-pandas]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import duckdb
import numpy as np
from _timing import Rounds, Timing, bare_scan, command_line_scan, load_average, time_call, time_child

from misflag.io import file_sha256

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


def cli_run(path: Path, threads: int) -> Timing:
    """The CLI monitor in a fresh process: start-up, imports, Parquet read and JSON output included (exit
    code 3, an open alarm, as the log's g4 makes likely, is a finished run)."""
    command = [sys.executable, "-m", "misflag.cli", "monitor", str(path), *MONITOR, "--format", "json"]
    return time_child(command, threads, accept=(0, 3))


def api_run(path: Path) -> Timing:
    """Seconds and CPU seconds of the in-process API (imports already done)."""
    from misflag.monitor import monitor

    return time_call(
        lambda: monitor(path, time="ts", group="grp", reference="g0", truth="truth", flag="flag")
    )[0]


def own_query(path: Path, threads: int) -> tuple[Timing, int]:
    """The monitor's own count query for MONITOR's settings on a DuckDB connection of `threads` threads
    (made, with the input's view, before the clock starts); the number of cells it gave."""
    from misflag.monitor._counts import check_monitor, count_sql
    from misflag.monitor._spec import MonitorSpec

    spec = MonitorSpec(time="ts", group="grp", reference="g0", truth="truth", flag="flag")
    query = count_sql(spec, check_monitor(spec, ("ts", "grp", "flag", "truth")))
    connection = duckdb.connect()
    connection.execute(f"SET threads = {threads}")
    connection.execute(f"CREATE VIEW input AS SELECT * FROM read_parquet('{path}')")
    try:
        timing, rows = time_call(lambda: connection.execute(query).fetchall())
    finally:
        connection.close()
    return timing, len(rows)


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
    runs = Rounds()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.parquet"
        written, _ = time_call(lambda: make_log(path, args.rows))
        print(f"wrote {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) in {written.seconds:.1f} s")
        load_before = os.getloadavg()[0]
        query = GROUP_BY.format(path=path)
        for _ in range(max(1, args.repeat)):  # alternating, so a busy spell slows every kind alike
            timing, cells = bare_scan(query, args.threads)
            runs.add("bare", timing)
            runs.add("line", command_line_scan(query, args.threads))
            runs.add("cli", cli_run(path, args.threads))
            runs.add("api", api_run(path))
            timing, own_cells = own_query(path, args.threads)
            runs.add("own", timing)
            assert own_cells == cells, f"the monitor's count query found {own_cells} cells, DuckDB {cells}"
            runs.add("sha", time_call(lambda: file_sha256(path))[0])
            timing, found = time_call(lambda: bincount_counts(path))
            runs.add("numpy", timing)
            assert found == cells, f"numpy bincount found {found} cells, DuckDB {cells}"
            if not args.skip_pandas:
                timing, found = time_call(lambda: pandas_counts(path))
                runs.add("pandas", timing)
                assert found == cells, f"pandas found {found} cells, DuckDB {cells}"
        load = load_average()
    report(args, runs, cells, load_before, load)


def report(args: argparse.Namespace, runs: Rounds, cells: int, load_before: float, load: str) -> None:
    """Medians, peaks and every ratio."""
    print(
        f"rows: {args.rows:,}; {cells:,} count cells; median of {args.repeat} alternating runs, "
        f"{args.threads} threads; load average {load_before:.1f} before, after {load}"
    )
    rows = [
        ("1. bare DuckDB GROUP BY, in this process", "bare"),
        ("2. the same as `python -c 'import duckdb; ...'`", "line"),
        ("3. misflag monitor CLI (fresh process, JSON out)", "cli"),
        ("4. misflag.monitor.monitor API (in process)", "api"),
        ("5. numpy bincount (pyarrow read included)", "numpy"),
        ("6. pandas read_parquet + groupby", "pandas"),
        ("   the monitor's own count query, in this process", "own"),
        ("   the input's SHA-256 alone, in this process", "sha"),
    ]
    for label, key in rows:
        if key not in runs:
            continue
        peak = runs.peak(key)
        peak_text = f", peak {peak:5.0f} MiB" if peak is not None else ""
        print(f"{label:<52} {runs.wall(key):7.2f} s, CPU {runs.cpu(key):6.2f} s{peak_text}")
    wall, cpu = runs.wall, runs.cpu
    ratios = [
        ("CLI / bare GROUP BY (issue 26 target <= 3)", wall("cli") / wall("bare")),
        ("  the same in CPU time", cpu("cli") / cpu("bare")),
        ("API / bare GROUP BY (issue 26 target <= 1.3)", wall("api") / wall("bare")),
        ("CLI / one-line command GROUP BY", wall("cli") / wall("line")),
        ("  the same in CPU time", cpu("cli") / cpu("line")),
        ("API CPU / bare GROUP BY CPU", cpu("api") / cpu("bare")),
        ("numpy bincount / API (issue 24 target >= 3)", wall("numpy") / wall("api")),
        ("  the same in CPU time", cpu("numpy") / cpu("api")),
        ("numpy bincount / CLI", wall("numpy") / wall("cli")),
        ("bare GROUP BY / API (the strongest baseline)", wall("bare") / wall("api")),
        ("API / the monitor's own count query", wall("api") / wall("own")),
        ("  the same in CPU time", cpu("api") / cpu("own")),
        ("own count query / bare GROUP BY, CPU time", cpu("own") / cpu("bare")),
    ]
    if "pandas" in runs:
        ratios.append(("pandas / API", wall("pandas") / wall("api")))
        ratios.append(("  the same in CPU time", cpu("pandas") / cpu("api")))
    for label, ratio in ratios:
        print(f"ratio {label:<46} {ratio:7.2f}x")


if __name__ == "__main__":
    main()
