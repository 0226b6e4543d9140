"""Benchmark of the decision ledger: durable appends/s (SQLite, PostgreSQL; 1 and 8 writers; single and
batched) with automatic checkpoints on (every 1,000 entries or 10 s, the defaults, each published to the
heads file), `verify` time for 1M entries (pinned key, published heads, token and key rows checked), and the
time `misflag serve` takes to come back after SIGKILL (timed here, never asserted by the crash test).

Two anchors, both plain `executemany` with the ledger's durability (WAL, synchronous=FULL, one commit per
batch), alternated with the ledger round by round: the issue's plain table (three columns, no index,
`str(PAYLOAD)`; the issue's targets are judged against this one), and the same rows (the very row tuples
the ledger stored, into a fresh table with the ledger's own columns, indexes and append-only triggers).
Besides wall-clock rates it prints process CPU per row, which the load of a shared machine disturbs less.

Run: python benchmarks/ledger.py [--entries 1000000] [--restarts 5] [--rounds 3]
                                 [--verify-only | --ratios-only]
     (PostgreSQL too when MISFLAG_TEST_POSTGRES_URL is set; --verify-only times verify alone and
     --ratios-only the alternated ratios alone, both on SQLite)
Targets (issue 19): batched appends >= 5,000/s and >= 1/4 of plain SQLite executemany with the same
durability; single appends >= 1/2 of plain; verify of 1M entries <= 1.3x a plain SELECT of the same rows.
Every append carries the writer's HMAC proof, and every seal checks the proofs of the rows it did not
write itself (see docs/ledger.md). Figures and what they mean: docs/ledger.md, "Speed".
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from _timing import Rounds, time_call

from misflag.ledger import Event, Ledger, create_token

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


def appends_per_second(url: str, key: Path, writers: int, per_writer: int, batch: int) -> tuple[float, float]:
    """Durable appends per second with `writers` threads, each with its own connection pool, and the
    process CPU microseconds per append (the Python and SQLite work, apart from waiting on fsync)."""
    first = Ledger.open(url, key_path=key, owner="allow")
    first.checkpoint()  # as `misflag ledger init` does
    first.close()
    ledgers = [Ledger.open(url, key_path=key, owner="allow") for _ in range(writers)]  # default checkpoints
    work = [flags(f"w{w}-{uuid.uuid4().hex[:6]}", per_writer) for w in range(writers)]

    def run(w: int) -> None:
        for start in range(0, per_writer, batch):
            ledgers[w].append(work[w][start : start + batch])

    threads = [threading.Thread(target=run, args=(w,)) for w in range(writers)]

    def start_and_join() -> None:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    timing, _ = time_call(start_and_join)
    assert ledgers[0].verify(public_keys=ledgers[0].pinned_keys()).ok
    for ledger in ledgers:
        ledger.close()
    return writers * per_writer / timing.seconds, timing.cpu_seconds / (writers * per_writer) * 1e6


def insert_batches(path: Path, sql: str, rows: list[tuple[Any, ...]], batch: int) -> tuple[float, float]:
    """Rows/s and CPU microseconds per row of plain `executemany` in transactions of `batch` rows, with the
    ledger's durability (WAL, synchronous=FULL, one commit per batch)."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")

    def insert() -> None:
        for start in range(0, len(rows), batch):
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(sql, rows[start : start + batch])
            connection.execute("COMMIT")

    timing, _ = time_call(insert)
    connection.close()
    return len(rows) / timing.seconds, timing.cpu_seconds / len(rows) * 1e6


def plain_sqlite_per_second(path: Path, count: int, batch: int) -> tuple[float, float]:
    """The issue's anchor: three columns, no index, `str(PAYLOAD)` as the body."""
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, case_id TEXT, body TEXT)")
    rows = [(i, f"c{i}", str(PAYLOAD)) for i in range(count)]
    return insert_batches(path, "INSERT INTO t VALUES (?, ?, ?)", rows, batch)


def same_rows_per_second(ledger_file: Path, path: Path, batch: int) -> tuple[float, float]:
    """The fairer anchor: the very row tuples a ledger stored (its entries, with hash, proof and body),
    inserted with plain `executemany` into a fresh table with the ledger's own schema (the migrations:
    columns, key, indexes and append-only triggers)."""
    columns = "seq, prev, hash, kind, case_id, body, mac"
    with closing(sqlite3.connect(ledger_file)) as connection:
        rows = connection.execute(f"SELECT {columns} FROM ledger_entries ORDER BY seq").fetchall()
    Ledger.open(f"sqlite:///{path}", key_path=path.with_suffix(".pem"), owner="allow").close()  # DDL only
    return insert_batches(
        path, f"INSERT INTO ledger_entries ({columns}) VALUES ({', '.join('?' * 7)})", rows, batch
    )


def ratios_against_plain(folder: Path, rounds: int) -> None:
    """Ledger appends against plain SQLite executemany with the same durability (WAL, synchronous=FULL),
    alternated round by round so that all meet the same load; the median ratio of the rounds, against the
    issue's anchor (three columns, no index) and against the same rows in the ledger's own table."""
    ratios: dict[str, list[float]] = {
        "batched": [],
        "batched, same rows": [],
        "single": [],
        "single, same rows": [],
    }
    for round_ in range(rounds):
        line = []
        for label, per_writer, batch in (("batched", 20_000, 100), ("single", 300, 1)):
            name = f"ratio-{round_}-{label}"
            ledger, ledger_cpu = appends_per_second(
                f"sqlite:///{folder / name}.sqlite", folder / f"{name}.pem", 1, per_writer, batch
            )
            plain, plain_cpu = plain_sqlite_per_second(folder / f"{name}-plain.sqlite", per_writer, batch)
            same, same_cpu = same_rows_per_second(
                folder / f"{name}.sqlite", folder / f"{name}-same.sqlite", batch
            )
            ratios[label].append(ledger / plain)
            ratios[f"{label}, same rows"].append(ledger / same)
            line.append(
                f"{label} {ledger:,.0f}/s vs plain {plain:,.0f}/s, same rows {same:,.0f}/s "
                f"(CPU {ledger_cpu:.1f} vs {plain_cpu:.1f}, {same_cpu:.1f} us)"
            )
        print(f"round {round_ + 1}: " + "; ".join(line))
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    medians = {label: statistics.median(values) for label, values in ratios.items()}
    print(
        "median ratios, one writer, batches of 100 and single appends (WAL, synchronous=FULL): against the "
        f"issue's plain table batched {medians['batched']:.2f}x (target >= 0.25; rate target >= 5,000/s), "
        f"single {medians['single']:.2f}x (target >= 0.5); against the same rows in the ledger's own table "
        f"batched {medians['batched, same rows']:.2f}x, single {medians['single, same rows']:.2f}x; "
        f"load average {load}"
    )


def pg_url(base: str) -> tuple[str, str]:
    url = base.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = "misflag_bench_" + uuid.uuid4().hex[:8]
    with sa.create_engine(url).begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    return f"{url}?options=-csearch_path%3D{schema}", schema


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def restart_seconds(folder: Path, restarts: int) -> None:
    """Kill `misflag serve` with SIGKILL mid-append and time until the restarted server verifies again."""
    db, key = f"sqlite:///{folder / 'crash.sqlite'}", folder / "crash-key.pem"
    setup = Ledger.open(db, key_path=key)
    token = create_token(setup, "writer", "admin", actor="bench")
    (fingerprint,) = setup.pinned_keys()  # what `init` printed: verify answers ok only against a pin
    setup.close()
    port = _free_port()
    env = os.environ | {"MISFLAG_LEDGER_KEY": str(key)}
    command = [sys.executable, "-m", "misflag.cli", "serve", "--port", str(port), "--ledger-db", db]
    command += ["--data-dir", str(folder / "serve")]
    headers = {"Authorization": f"Bearer {token}"}
    timings = []
    for round_ in range(restarts):
        started = time.perf_counter()
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/ledger/verify?key_fingerprint={fingerprint}",
                    headers=headers,
                    timeout=5,
                )
                if answer.json()["ok"]:
                    break
            except (httpx.TransportError, ValueError, KeyError):
                time.sleep(0.05)
        timings.append(time.perf_counter() - started)
        event = {"kind": "flagged", "case_id": f"r{round_}", "payload": PAYLOAD}
        httpx.post(f"http://127.0.0.1:{port}/ledger/events", json={"events": [event]}, headers=headers)
        server.send_signal(signal.SIGKILL)
        server.wait()
    print(
        f"restart after SIGKILL until verify answers ok: median {statistics.median(timings):.2f} s "
        f"over {restarts} restarts (max {max(timings):.2f} s)"
    )


def verify_seconds(folder: Path, entries: int, rounds: int = 3) -> None:
    """Build a sealed ledger of `entries` flags and time `verify` on it, against a plain read of its rows."""
    url = f"sqlite:///{folder / 'verify.sqlite'}"
    ledger = Ledger.open(url, key_path=folder / "verify-key.pem")
    started = time.perf_counter()
    for start in range(0, entries, 10_000):
        ledger.append(flags(f"v{start}", min(10_000, entries - start)))
    ledger.checkpoint()
    built = time.perf_counter() - started
    print(f"built {entries:,} entries in {built:.1f} s ({entries / built:,.0f} appends/s, batches of 10,000)")

    def read() -> int:
        with ledger.engine.connect() as connection:
            return len(
                connection.exec_driver_sql(
                    "SELECT seq, prev, hash, kind, case_id, body FROM ledger_entries ORDER BY seq"
                ).fetchall()
            )

    pinned = ledger.pinned_keys()  # the key a third party pins (what `init` printed)

    def check() -> int:
        report = ledger.verify(require_sealed=True, public_keys=pinned)
        assert report.ok, report.problem
        return report.entries

    # alternated, so that verify and the plain read meet the same load; wall and process CPU seconds
    timings = Rounds()
    for _ in range(rounds):
        for name, run in (("verify", check), ("read", read)):
            timing, count = time_call(run)
            timings.add(name, timing)
    verify, read_wall = timings.wall("verify"), timings.wall("read")
    fastest = min(one.seconds for one in timings.runs["verify"]) / min(
        one.seconds for one in timings.runs["read"]
    )
    verify_cpu, read_cpu = timings.cpu("verify"), timings.cpu("read")
    report = ledger.verify(require_sealed=True, public_keys=pinned)
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"verify {count:,} entries ({report.checkpoints} checkpoints, {report.heads} published heads), "
        f"end to end incl. reading the rows: median {verify:.2f} s of {rounds} (runs: "
        f"{', '.join(f'{one.seconds:.2f}' for one in timings.runs['verify'])}; CPU {verify_cpu:.2f} s); "
        f"load average {load}"
    )
    print(
        f"anchor: reading the same rows with a plain SELECT through SQLAlchemy, alternated with verify: "
        f"median {read_wall:.2f} s of {rounds} (CPU {read_cpu:.2f} s); ratio verify / plain read "
        f"{verify / read_wall:.2f}x (target <= 1.3), fastest runs {fastest:.2f}x, in CPU "
        f"{verify_cpu / read_cpu:.2f}x"
    )
    ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000, help="Ledger size for the verify timing.")
    parser.add_argument("--restarts", type=int, default=5, help="SIGKILL restarts to time.")
    parser.add_argument(
        "--rounds", type=int, default=3, help="Alternated rounds of the ratio part and of verify."
    )
    parser.add_argument("--ratios-only", action="store_true", help="The ratio part alone (SQLite).")
    parser.add_argument(
        "--verify-only", action="store_true", help="Time verify alone (no appends, restarts)."
    )
    args = parser.parse_args()
    if args.verify_only:
        verify_seconds(Path(tempfile.mkdtemp(prefix="misflag-ledger-bench-")), args.entries, args.rounds)
        return
    if args.ratios_only:
        ratios_against_plain(Path(tempfile.mkdtemp(prefix="misflag-ledger-bench-")), args.rounds)
        return
    folder = Path(tempfile.mkdtemp(prefix="misflag-ledger-bench-"))
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
    rates: dict[tuple[str, int, int], float] = {}
    for store, make in stores.items():
        for writers, batch, per_writer in ((1, 1, 500), (8, 1, 100), (1, 100, 20_000), (8, 100, 2_500)):
            name = f"{store}-a{writers}-{batch}"  # one key (and heads file) per ledger
            rate = appends_per_second(make(name), folder / f"{name}.pem", writers, per_writer, batch)[0]
            rates[store, writers, batch] = rate
            print(f"{store:<11} {writers:>7} {batch:>6} {rate:>11,.0f}")
    ratios_against_plain(folder, args.rounds)

    verify_seconds(folder, args.entries, args.rounds)
    restart_seconds(folder, args.restarts)
    if base:
        with sa.create_engine(
            base.replace("postgresql://", "postgresql+psycopg://", 1)
        ).begin() as connection:
            for schema in schemas:
                connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
