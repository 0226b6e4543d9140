"""The release register in a ledger against the register file, and `--protect-releases` hashing its input
once against twice (issue 21). In-process CPU seconds (every thread), alternating rounds, medians.

1. Five COMPAS releases (race, sex, race x sex, race where sex is each value; intersected), each protected
   against the earlier ones: through a fresh register file, then through a fresh SQLite ledger (each
   earlier release's spec run again on the input for its counts; every release sealed at once).
2. One `--protect-releases` audit of a synthetic Parquet log (`--rows`; a 64-character note column the
   audit does not read, as a log's other columns: the scan skips it, the hash reads it): hashed once
   (now) against hashed twice (the digest computed before the audit and again beside the scan, as
   before: the reuse switched off), and the same audit with no register.

    python benchmarks/release_ledger.py [--rounds 5] [--rows 2000000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from misflag import datasets
from misflag.decisions import audit_decisions
from misflag.io import _readers
from misflag.ledger import Ledger

RELEASES = [(["race"], None), (["sex"], None), (["race", "sex"], None)]
RELEASES += [(["race"], "sex = 'Female'"), (["race"], "sex = 'Male'")]


def _cpu(work: Callable[[], object]) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def _five(log: Path, folder: Path, where: str) -> None:
    """The five releases through a register file (`where` = "file") or a new SQLite ledger."""
    options: dict[str, object]
    if where == "file":
        options = {"release_register": folder / "releases.json"}
    else:
        Ledger.open(str(folder / "ledger.sqlite")).close()
        options = {"ledger": str(folder / "ledger.sqlite")}
    for groups, condition in RELEASES:
        audit_decisions(
            str(log), flag="flag", truth="truth", groups=groups, intersect=True, where=condition, **options
        )


def _protected(path: Path, folder: Path, mode: str) -> None:
    """One audit of `path`: with no register, `--protect-releases` hashing once, or twice (as before)."""
    os.environ["MISFLAG_DATA_DIR"] = str(folder / "data")
    options = {"flag": "flag", "truth": "truth", "groups": ["g"]}
    if mode == "plain":
        audit_decisions(str(path), **options)
        return
    reuse = _readers._hashed_already
    if mode == "twice":
        _readers._hashed_already = lambda _path: None  # type: ignore[assignment]
    try:
        audit_decisions(str(path), **options, protect_releases=True)
    finally:
        _readers._hashed_already = reuse  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=2_000_000)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        log = root / "log.parquet"
        compas = datasets.get("compas")
        pq.write_table(
            duckdb.sql(
                "SELECT race, sex, two_year_recid AS truth, "
                f"CAST(score_text IN ('Medium', 'High') AS INTEGER) AS flag FROM read_csv_auto('{compas}')"
            ).to_arrow_table(),
            log,
        )
        big = root / "big.parquet"
        duckdb.sql(
            f"COPY (SELECT 'g' || (i % 7) AS g, (hash(i) % 2)::INT AS truth, (hash(i + 1) % 3 = 0)::INT AS flag, "
            f"md5(i::VARCHAR) || md5((i + 1)::VARCHAR) AS note FROM range({arguments.rows}) t(i)) TO '{big}'"
        )
        hash_cpu = statistics.median(_cpu(lambda: _readers.file_sha256(big)) for _ in range(3))
        times: dict[str, list[float]] = {name: [] for name in ("file", "ledger", "plain", "once", "twice")}
        for round_number in range(arguments.rounds):
            order = ["file", "ledger"] if round_number % 2 == 0 else ["ledger", "file"]
            for name in order:
                folder = root / f"{name}-{round_number}"
                folder.mkdir()
                times[name].append(_cpu(lambda: _five(log, folder, name)))  # noqa: B023 (run at once)
            modes = ["plain", "once", "twice"] if round_number % 2 == 0 else ["twice", "once", "plain"]
            for mode in modes:
                folder = root / f"{mode}-{round_number}"
                folder.mkdir()
                times[mode].append(_cpu(lambda: _protected(big, folder, mode)))  # noqa: B023
        median = {name: statistics.median(values) for name, values in times.items()}
        load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
        print(f"load average {load}; {arguments.rounds} alternating rounds, CPU seconds (medians)")
        print(
            f"five COMPAS releases: register file {median['file']:.3f} s, ledger {median['ledger']:.3f} s "
            f"(ledger / file {median['ledger'] / median['file']:.2f}x)"
        )
        size = big.stat().st_size / 2**20
        print(
            f"--protect-releases on {arguments.rows:,} rows ({size:.0f} MiB Parquet; one sha256 {hash_cpu:.3f} s): "
            f"no register {median['plain']:.3f} s, hashed once {median['once']:.3f} s, twice "
            f"{median['twice']:.3f} s (once / twice {median['once'] / median['twice']:.2f}x, "
            f"once / no register {median['once'] / median['plain']:.2f}x)"
        )


if __name__ == "__main__":
    main()
