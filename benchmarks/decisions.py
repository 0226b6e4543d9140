"""Benchmark: misflag's full decision audit vs one bare DuckDB GROUP BY and vs Fairlearn's MetricFrame.

A 10M-row Parquet log with three attributes intersected (race x sex x age band).

1. The CLI, `misflag decisions audit` with 1,000 replicates, start-up and reading Parquet included, in a
   fresh process (`python -m misflag`, the installed script's entry); its CPU time and peak memory (max RSS of the child). Target (issue 26): at most 3x the
   bare GROUP BY in process; also shown against the one-line command-line GROUP BY (2.), wall and CPU.
   It prints the rows as JSON, so it does not hash the input (since 944fa5f: only --save, --report and
   --pdf publish the digest, and hash the file beside the scan, about 9 ms of CPU for this 10 MB file).
2. One bare DuckDB `GROUP BY` of the same file over the same columns (what any audit must at least do),
   in this process (the issue's literal baseline), and the same query as a user's one-line command
   line, `python -c "import duckdb; duckdb.sql('SELECT ... GROUP BY ALL').fetchall()"` in a fresh process:
   Python's start-up, DuckDB's import and one scan, the least any command-line audit of the file costs.
3. The API call `audit_decisions` in this process (every metric, intervals, suppression, the disclosure
   audit). Target: at most 1.3x the bare GROUP BY. With `--baseline`, each tree's API also in a fresh
   process after one untimed audit, with its own thread's work before the scan starts and from the
   estimates on (seconds and thread CPU, read from the audit's progress steps): the serial part of it.
4. Where the CLI's time goes: a fresh `python -c pass`; a fresh process that only imports the command's
   module (`misflag.commands.decisions`: typer and DuckDB, what runs before the scan starts); and one that
   also imports the rest of the audit (`misflag.decisions._audit_cells`: numpy, the estimates; no
   pyarrow, and no disclosure package where nothing is withheld), which the command imports on the main
   thread while DuckDB scans, with
   numpy's OpenBLAS on one thread as the console script loads it (`misflag._console`). And what every
   audit's engine costs, in this process (CPU of every thread, per engine, over `ENGINES` in a row as an
   API caller makes them): a bare DuckDB in-memory database opened and closed (DuckDB's catalog), and a
   sandboxed misflag engine made, locked down and closed (the database, its settings and the lock).
5. Fairlearn's MetricFrame: point FPR, FNR and selection rate on an in-memory pandas frame (loading
   excluded, which favours Fairlearn); `--skip-fairlearn` leaves it out.

Timings 1-3 alternate `--repeat` times (so a busy machine slows all alike); medians are printed, with
the load average. Fresh processes are timed by `benchmarks/_timing.py` (os.wait4 in a small launcher, so
a child's peak is its own). misflag's modules (and the baseline tree's) are compiled to bytecode first, as an
installed wheel's are: where PYTHONDONTWRITEBYTECODE is set, an edited module would otherwise be
compiled again by every fresh process.

    python benchmarks/decisions.py [--rows 10000000] [--threads 2] [--repeat 5] [--skip-fairlearn]
        [--baseline OTHER_TREE/src]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
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


def cli_run(path: Path, threads: int, source: Path | None = None) -> Timing:
    """Seconds, CPU seconds and peak memory (MiB) of the CLI audit in a fresh process; `source`: another
    tree's `src` folder (e.g. an earlier commit's, from `git archive`) put first on the child's path.

    Run as `python -m misflag`, what the installed `misflag` script runs (`misflag._console.run`); a tree
    without `misflag/__main__.py` (before 2026-12-07's seventh round) as `python -m misflag.cli`."""
    import misflag

    tree = source if source is not None else Path(misflag.__file__).parent.parent
    entry = "misflag" if (tree / "misflag" / "__main__.py").exists() else "misflag.cli"
    command = [
        sys.executable, "-m", entry, "decisions", "audit", str(path), "--flag", "flag", "--truth", "truth",
        "--group", "race", "--group", "sex", "--group", "age", "--intersect", "--replicates", "1000",
        "--format", "json",
    ]  # fmt: skip
    return time_child(command, threads, None if source is None else {"PYTHONPATH": str(source)})


def api_run(path: Path) -> tuple[Timing, Any]:
    """Seconds and CPU seconds (this process, every thread) of the in-process API audit (imports already
    done), and its result."""
    from misflag.decisions import audit_decisions

    return time_call(
        lambda: audit_decisions(
            path, flag="flag", truth="truth", groups=["race", "sex", "age"], intersect=True, replicates=1000
        )
    )


#: Engines made in a row for the engine-start figures (each audit makes one).
ENGINES = 50


def engine_start() -> tuple[Timing, Timing]:
    """CPU and wall seconds per engine, every thread of this process: a bare in-memory DuckDB database
    opened and closed, and a sandboxed misflag engine (`get_engine`) made, locked down and closed
    (each close from the second on starts the next one's database on a thread, as for an API caller)."""
    from misflag.engine import get_engine

    def bare() -> None:
        for _ in range(ENGINES):
            duckdb.connect(":memory:").close()

    def sandboxed() -> None:
        for _ in range(ENGINES):
            engine = get_engine()
            engine.sandbox()  # type: ignore[attr-defined]  # what its first query does
            engine.close()

    (database, _), (engine, _) = time_call(bare), time_call(sandboxed)
    return (
        Timing(database.seconds / ENGINES, database.cpu_seconds / ENGINES),
        Timing(engine.seconds / ENGINES, engine.cpu_seconds / ENGINES),
    )


def api_child(path: Path, threads: int, source: Path | None) -> tuple[Timing, Timing, Timing]:
    """Seconds and CPU seconds of one API audit in a fresh process after one untimed audit (imports and
    caches warm), with `source` (another tree's src) first on its path: the API of two trees, compared.

    Also the audit's serial work on its own thread, read from its progress steps (`counting cells`: the
    scan starts; `estimating`: its cells are read): seconds and thread CPU seconds before the scan
    starts, and from the estimates to the result."""
    code = (
        "import sys, time; from misflag.decisions import audit_decisions\n"
        "marks = {}\n"
        "def progress(step, fraction):\n"
        "    marks.setdefault(step, (time.perf_counter(), time.thread_time()))\n"
        "def run():\n"
        f"    return audit_decisions({str(path)!r}, flag='flag', truth='truth', groups=['race', 'sex', 'age'], "
        "intersect=True, replicates=1000, progress=progress)\n"
        "run(); marks.clear()\n"
        "start, cpu, own = time.perf_counter(), time.process_time(), time.thread_time(); run()\n"
        "end, end_own = time.perf_counter(), time.thread_time()\n"
        "(scan, scan_own), (cells, cells_own) = marks['counting cells'], marks['estimating']\n"
        "print(end - start, time.process_time() - cpu, scan - start, scan_own - own, end - cells, end_own - cells_own)"
    )
    env = {
        **os.environ,
        "MISFLAG_THREADS": str(threads),
        **({} if source is None else {"PYTHONPATH": str(source)}),
    }
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    seconds, cpu, before, before_cpu, after, after_cpu = map(float, done.stdout.split())
    return Timing(seconds, cpu), Timing(before, before_cpu), Timing(after, after_cpu)


#: The bare scan both baselines run: every column the audit reads, grouped, counted.
GROUP_BY = "SELECT race, sex, age, truth, flag, count(*) FROM read_parquet('{path}') GROUP BY ALL"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-fairlearn", action="store_true")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another tree's src folder (git archive COMMIT src | tar -x -C DIR): its CLI is timed too, "
        "alternating with this tree's",
    )
    args = parser.parse_args()
    os.environ["MISFLAG_THREADS"] = str(args.threads)
    import misflag

    compile_trees(Path(misflag.__file__).parent, args.baseline)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.parquet"
        make_log(path, args.rows)
        query = GROUP_BY.format(path=path)
        runs = Rounds()
        for _ in range(max(1, args.repeat)):  # alternating, so a busy spell slows every kind alike
            runs.add("bare", bare_scan(query, args.threads)[0])
            runs.add("line", command_line_scan(query, args.threads))
            runs.add("cli", cli_run(path, args.threads))
            if args.baseline is not None:
                runs.add("baseline cli", cli_run(path, args.threads, args.baseline))
                for name, tree in (("baseline tree's", args.baseline), ("this tree's", None)):
                    whole, before, after = api_child(path, args.threads, tree)
                    runs.add(name, whole)
                    runs.add(f"{name} before", before)
                    runs.add(f"{name} after", after)
            api, result = api_run(path)
            runs.add("api", api)
        load = load_average()
        for _ in range(args.repeat):  # where the CLI's time goes: Python's start-up, then the imports
            runs.add("python", time_child([sys.executable, "-c", "pass"], args.threads))
            runs.add(
                "import",
                time_child([sys.executable, "-c", "import misflag.commands.decisions"], args.threads),
            )
            everything = "import misflag.commands.decisions, misflag.decisions._audit_cells"
            one_blas = {"OPENBLAS_NUM_THREADS": "1"}  # as the console script loads numpy
            runs.add("import all", time_child([sys.executable, "-c", everything], args.threads, one_blas))
            database, engine = engine_start()
            runs.add("database", database)
            runs.add("engine", engine)
        bare_seconds, line_seconds = runs.wall("bare"), runs.wall("line")
        cli_seconds, api_seconds = runs.wall("cli"), runs.wall("api")
        bare_cpu, line_cpu, cli_cpu, api_cpu = (runs.cpu(kind) for kind in ("bare", "line", "cli", "api"))
        python_seconds, import_seconds, all_seconds = (
            runs.wall(k) for k in ("python", "import", "import all")
        )
        print(
            f"rows: {args.rows:,}; attributes: race x sex x age intersected ({len(result.table):,} result rows)"
        )
        print(f"median of {runs.count('cli')} alternating runs each; load average {load}")
        print(f"bare DuckDB GROUP BY over the file, in this process:      {bare_seconds:8.2f} s")
        print(f"  its CPU time (this process, all threads):               {bare_cpu:8.2f} s")
        print(f"the same GROUP BY as `python -c 'import duckdb; ...'`:     {line_seconds:8.2f} s")
        print(f"  its CPU time (user + system, all threads):              {line_cpu:8.2f} s")
        print(f"misflag CLI audit, start-up and Parquet included:         {cli_seconds:8.2f} s")
        print(f"  its CPU time (user + system, all threads):              {cli_cpu:8.2f} s")
        print(f"  of which a bare `python -c pass`:                       {python_seconds:8.2f} s")
        print(
            f"  of which importing the command (fresh process, less ^): {import_seconds - python_seconds:8.2f} s"
        )
        print(
            f"  and the rest of the audit, imported beside the scan:    {all_seconds - import_seconds:8.2f} s"
        )
        print(
            f"per audit, a bare DuckDB database opened and closed:      {1e3 * runs.wall('database'):8.1f} ms "
            f"(CPU {1e3 * runs.cpu('database'):.1f} ms)"
        )
        print(
            f"  a sandboxed misflag engine made, locked, closed:        {1e3 * runs.wall('engine'):8.1f} ms "
            f"(CPU {1e3 * runs.cpu('engine'):.1f} ms)"
        )
        print(f"misflag API audit (in process), every metric, intervals:  {api_seconds:8.2f} s")
        print(f"  its CPU time (this process, all threads):               {api_cpu:8.2f} s")
        print(f"ratio CLI / bare GROUP BY in process (target <= 3):       {cli_seconds / bare_seconds:8.1f}x")
        print(f"  the same ratio in CPU time:                             {cli_cpu / bare_cpu:8.1f}x")
        print(f"ratio CLI / the one-line `python -c` GROUP BY:            {cli_seconds / line_seconds:8.1f}x")
        print(f"  the same ratio in CPU time:                             {cli_cpu / line_cpu:8.1f}x")
        print(f"ratio API / bare GROUP BY (target <= 1.3):                {api_seconds / bare_seconds:8.1f}x")
        print(f"  the same ratio in CPU time:                             {api_cpu / bare_cpu:8.1f}x")
        print(f"peak memory of the CLI process (largest of its runs):     {runs.peak('cli'):8.0f} MiB")
        if args.baseline is not None:
            base_seconds, base_cpu = runs.wall("baseline cli"), runs.cpu("baseline cli")
            print(f"baseline tree's CLI ({args.baseline}): {base_seconds:.2f} s, CPU {base_cpu:.2f} s")
            print(
                f"  its ratio to the bare GROUP BY in process:              {base_seconds / bare_seconds:8.1f}x"
            )
            print(f"  the same ratio in CPU time:                             {base_cpu / bare_cpu:8.1f}x")
            print(
                f"  its ratio to the one-line `python -c` GROUP BY:         {base_seconds / line_seconds:8.1f}x"
            )
            print(f"  the same ratio in CPU time:                             {base_cpu / line_cpu:8.1f}x")
            for name in ("baseline tree's", "this tree's"):
                api_wall, api_cpu_child = runs.wall(name), runs.cpu(name)
                print(
                    f"{name} API in a fresh process (after one warm-up): {api_wall:.2f} s, CPU {api_cpu_child:.2f} s; "
                    f"/ bare GROUP BY {api_wall / bare_seconds:.1f}x wall, {api_cpu_child / bare_cpu:.1f}x CPU"
                )
                scan, estimates = f"{name} before", f"{name} after"
                print(
                    f"  its own thread before the scan starts {1e3 * runs.wall(scan):.1f} ms "
                    f"(CPU {1e3 * runs.cpu(scan):.1f} ms), from the estimates on {1e3 * runs.wall(estimates):.1f} ms "
                    f"(CPU {1e3 * runs.cpu(estimates):.1f} ms)"
                )
        misflag_seconds = api_seconds
        if args.skip_fairlearn:
            return

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
    print(f"Fairlearn MetricFrame, point FPR/FNR/selection rate:      {fairlearn_seconds:8.2f} s")
    print(f"ratio (Fairlearn / misflag API): {fairlearn_seconds / misflag_seconds:.1f}x")


if __name__ == "__main__":
    main()
