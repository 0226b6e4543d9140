"""Benchmark: decisions, biometrics and monitor on Spark (local mode) against DuckDB, on the same files.

The three logs of benchmarks/decisions.py, biometrics.py and monitor_speed.py (their own generators) are
written to Parquet with `--rows` rows each (10M by default). For each audit this prints, in seconds:

- misflag's audit (the Python API, reading the file) on DuckDB, and on Spark in local mode;
- one bare GROUP BY over the same columns of the same file, on DuckDB and on Spark SQL (what any audit
  must at least do on that engine);

and the ratios Spark / DuckDB (audit and bare scan) and audit / bare scan on each engine. Spark's start-up
(JVM and session, once per process) is timed apart and excluded; every Spark figure is the median of
`--repeat` runs after one warm-up run (the JVM compiles as it goes). Local mode runs Spark's executors in
one JVM on this machine: it measures overhead, not a cluster's speed.

    python benchmarks/spark_scale.py [--rows 10000000] [--threads 2] [--repeat 3] [--only decisions]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb

AUDITS = ("decisions", "biometrics", "monitor")

#: One bare GROUP BY per audit: the columns its single aggregate pass needs.
BARE_SQL = {
    "decisions": "SELECT race, sex, age, truth, flag, COUNT(*) AS n FROM {source} GROUP BY race, sex, age, truth, flag",
    "biometrics": "SELECT grp, genuine, COUNT(*) AS n, MIN(score) AS lo, MAX(score) AS hi FROM {source} GROUP BY grp, genuine",
    "monitor": "SELECT CAST(ts AS DATE) AS day, grp, truth, flag, COUNT(*) AS n FROM {source} GROUP BY 1, 2, 3, 4",
}  # fmt: skip


def _benchmark_module(name: str) -> ModuleType:
    """benchmarks/NAME.py, loaded by path (benchmarks are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_inputs(folder: Path, rows: int, audits: tuple[str, ...]) -> dict[str, Path]:
    """Each audit's synthetic log, written by that audit's own benchmark generator."""
    makers = {
        "decisions": ("decisions", "make_log"),
        "biometrics": ("biometrics", "make_scores"),
        "monitor": ("monitor_speed", "make_log"),
    }
    paths = {}
    for name in audits:
        path = folder / f"{name}.parquet"
        module, maker = makers[name]
        getattr(_benchmark_module(module), maker)(path, rows)
        paths[name] = path
    return paths


def run_audit(name: str, path: Path, engine: str) -> Any:
    """misflag's audit of one log on one engine, with the options of that audit's benchmark."""
    if name == "decisions":
        from misflag.decisions import audit_decisions

        return audit_decisions(
            path, flag="flag", truth="truth", groups=["race", "sex", "age"], intersect=True,
            replicates=1000, engine=engine,
        )  # fmt: skip
    if name == "biometrics":
        from misflag.biometrics import audit_biometrics

        return audit_biometrics(
            path, score="score", genuine="genuine", group="grp", target_fmr=(1e-3, 1e-4), bins=2000,
            engine=engine,
        )  # fmt: skip
    from misflag.monitor import monitor

    return monitor(path, time="ts", group="grp", reference="g0", truth="truth", flag="flag", engine=engine)


def bare_duckdb(name: str, path: Path, threads: int) -> float:
    """Seconds of the bare GROUP BY on a fresh DuckDB connection."""
    connection = duckdb.connect()
    connection.execute(f"SET threads = {threads}")
    start = time.perf_counter()
    connection.execute(BARE_SQL[name].format(source=f"read_parquet('{path}')")).fetchall()
    seconds = time.perf_counter() - start
    connection.close()
    return seconds


def bare_spark(session: Any, name: str, path: Path) -> float:
    """Seconds of the same GROUP BY in Spark SQL over the Parquet file (collected to the driver)."""
    start = time.perf_counter()
    session.sql(BARE_SQL[name].format(source=f"parquet.`{path}`")).collect()
    return time.perf_counter() - start


def _timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def measure(session: Any, name: str, path: Path, threads: int, repeat: int) -> dict[str, float]:
    """Median seconds of the four runs of one audit, alternating (a busy machine slows all alike)."""
    run_audit(name, path, "spark")  # warm-up: the JVM compiles the scan and aggregate code
    bare_spark(session, name, path)
    runs: dict[str, list[float]] = {
        "duckdb audit": [],
        "duckdb bare": [],
        "spark audit": [],
        "spark bare": [],
    }
    for _ in range(max(1, repeat)):
        runs["duckdb bare"].append(bare_duckdb(name, path, threads))
        runs["duckdb audit"].append(_timed(lambda: run_audit(name, path, "duckdb")))
        runs["spark bare"].append(bare_spark(session, name, path))
        runs["spark audit"].append(_timed(lambda: run_audit(name, path, "spark")))
    return {key: statistics.median(values) for key, values in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads and Spark local[N] cores")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=AUDITS, action="append", help="run only this audit (repeatable)")
    args = parser.parse_args()
    audits = tuple(args.only or AUDITS)
    os.environ["MISFLAG_THREADS"] = str(args.threads)
    os.environ.setdefault("MISFLAG_SPARK_MASTER", f"local[{args.threads}]")
    from misflag.engine.spark import SparkEngine

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        paths = write_inputs(Path(folder), args.rows, audits)
        print(f"wrote {len(paths)} logs of {args.rows:,} rows in {time.perf_counter() - start:.0f} s")
        start = time.perf_counter()
        session = SparkEngine().session
        print(f"Spark start-up ({os.environ['MISFLAG_SPARK_MASTER']}, JVM and session, once): "
              f"{time.perf_counter() - start:.1f} s; pyspark {session.version}")  # fmt: skip
        for name in audits:
            spent = measure(session, name, paths[name], args.threads, args.repeat)
            print(
                f"{name:<10} DuckDB audit {spent['duckdb audit']:6.2f} s, bare {spent['duckdb bare']:6.2f} s | "
                f"Spark audit {spent['spark audit']:6.2f} s, bare {spent['spark bare']:6.2f} s | "
                f"Spark/DuckDB audit {spent['spark audit'] / spent['duckdb audit']:5.1f}x, "
                f"bare {spent['spark bare'] / spent['duckdb bare']:5.1f}x | audit/bare DuckDB "
                f"{spent['duckdb audit'] / spent['duckdb bare']:4.1f}x, Spark {spent['spark audit'] / spent['spark bare']:4.1f}x"
            )
    print(
        f"rows {args.rows:,}; median of {args.repeat}; load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} CPUs; DuckDB {duckdb.__version__}"
    )


if __name__ == "__main__":
    main()
