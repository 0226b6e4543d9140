"""Benchmark of the decision ledger: durable appends/s (SQLite, PostgreSQL; 1 and 8 writers; single and
batched) and `verify` time for 1M entries. Anchor: the same rows written with plain executemany into a
SQLite table (no hashing, no rules), the floor any tamper-evident log pays on top of.

Run: python benchmarks/ledger.py [--entries 1000000]   (PostgreSQL when MISFLAG_TEST_POSTGRES_URL is set)
Targets (issue 6): >= 5,000 appends/s batched on SQLite; verify of 1M entries < 5 s.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import threading
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from misflag.ledger import Event, Ledger

PAYLOAD = {"rule_id": "name-match", "rule_version": "3.1", "input_digest": "sha256:ab12", "score": 0.81}


def flags(prefix: str, count: int) -> list[Event]:
    return [
        Event(
            kind="flagged",
            case_id=f"{prefix}-{i}",
            actor="screening",
            role="recorder",
            payload=PAYLOAD,
            groups={"sex": "F" if i % 2 else "M"},
        )
        for i in range(count)
    ]


def appends_per_second(url: str, key: Path, writers: int, per_writer: int, batch: int) -> float:
    """Durable appends per second with `writers` threads, each with its own connection pool."""
    Ledger.open(url, key_path=key).close()
    ledgers = [Ledger.open(url, key_path=key, checkpoint_every=10_000) for _ in range(writers)]
    work = [flags(f"w{w}-{uuid.uuid4().hex[:6]}", per_writer) for w in range(writers)]

    def run(w: int) -> None:
        for start in range(0, per_writer, batch):
            ledgers[w].append(work[w][start : start + batch])

    threads = [threading.Thread(target=run, args=(w,)) for w in range(writers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    assert ledgers[0].verify().ok
    for ledger in ledgers:
        ledger.close()
    return writers * per_writer / elapsed


def plain_sqlite_per_second(path: Path, count: int, batch: int) -> float:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, case_id TEXT, body TEXT)")
    rows = [(i, f"c{i}", str(PAYLOAD)) for i in range(count)]
    started = time.perf_counter()
    for start in range(0, count, batch):
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO t VALUES (?, ?, ?)", rows[start : start + batch])
        connection.execute("COMMIT")
    return count / (time.perf_counter() - started)


def pg_url(base: str) -> tuple[str, str]:
    url = base.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = "misflag_bench_" + uuid.uuid4().hex[:8]
    with sa.create_engine(url).begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    return f"{url}?options=-csearch_path%3D{schema}", schema


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000, help="Ledger size for the verify timing.")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="misflag-ledger-bench-"))
    key = folder / "key.pem"
    stores = {"sqlite": lambda name: f"sqlite:///{folder / name}.sqlite"}
    base = os.environ.get("MISFLAG_TEST_POSTGRES_URL")
    schemas: list[str] = []
    if base:

        def postgres(name: str) -> str:
            url, schema = pg_url(base)
            schemas.append(schema)
            return url

        stores["postgresql"] = postgres
    print(f"{'store':<11} {'writers':>7} {'batch':>6} {'appends/s':>11}")
    for store, make in stores.items():
        for writers, batch, per_writer in ((1, 1, 500), (8, 1, 100), (1, 100, 20_000), (8, 100, 2_500)):
            rate = appends_per_second(make(f"a{writers}-{batch}"), key, writers, per_writer, batch)
            print(f"{store:<11} {writers:>7} {batch:>6} {rate:>11,.0f}")
    anchor_single = plain_sqlite_per_second(folder / "plain1.sqlite", 500, 1)
    anchor_batch = plain_sqlite_per_second(folder / "plain100.sqlite", 20_000, 100)
    print(
        f"anchor: plain SQLite executemany, synchronous=FULL: {anchor_single:,.0f}/s single, "
        f"{anchor_batch:,.0f}/s batched by 100"
    )

    url = f"sqlite:///{folder / 'verify.sqlite'}"
    ledger = Ledger.open(url, key_path=key, checkpoint_every=10_000)
    started = time.perf_counter()
    for start in range(0, args.entries, 10_000):
        ledger.append(flags(f"v{start}", min(10_000, args.entries - start)))
    ledger.checkpoint()
    print(f"built {args.entries:,} entries in {time.perf_counter() - started:.1f} s")
    timings, checks = [], []
    for _ in range(3):
        started = time.perf_counter()
        report = ledger.verify(require_sealed=True)
        timings.append(time.perf_counter() - started)
        assert report.ok, report.problem
        checks.append(report.seconds)
    started = time.perf_counter()
    with ledger.engine.connect() as connection:
        count = len(
            connection.exec_driver_sql(
                "SELECT seq, prev, hash, kind, case_id, body FROM ledger_entries ORDER BY seq"
            ).fetchall()
        )
    read_only = time.perf_counter() - started
    print(
        f"verify {count:,} entries ({report.checkpoints} checkpoints), end to end incl. reading the rows: "
        f"{min(timings):.2f} s best of 3 (runs: {', '.join(f'{t:.2f}' for t in timings)}); of which hashing, "
        f"tree and signatures {min(checks):.2f} s"
    )
    print(
        f"anchor: reading the same rows with a plain SELECT {read_only:.2f} s; "
        f"ratio verify / plain read {min(timings) / read_only:.1f}x"
    )
    ledger.close()
    if base:
        with sa.create_engine(
            base.replace("postgresql://", "postgresql+psycopg://", 1)
        ).begin() as connection:
            for schema in schemas:
                connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
