"""The release register in a ledger against the register file, and `--protect-releases` hashing its input
once against twice (issue 21). In-process CPU seconds (every thread), alternating rounds, medians.

1. Five COMPAS releases (race, sex, race x sex, race where sex is each value; intersected), each protected
   against the earlier ones: through a fresh register file, then through a fresh SQLite ledger (each
   earlier release's spec run again on the input for its counts; every release sealed at once).
2. One `--protect-releases` audit of a synthetic Parquet log (`--rows`; a 64-character note column the
   audit does not read, as a log's other columns: the scan skips it, the hash reads it): hashed once
   (now) against hashed twice (the digest computed before the audit and again beside the scan, as
   before: the reuse switched off), and the same audit with no register.
3. With `--entries N`: the release lookup of one input (`ledger._releases.releases_of`) in a ledger of
   ten releases (three of the input looked up) followed by N decision entries (bulk-inserted by SQL, as
   an old ledger holds them; only the releases are the store's own), with the index that serves it and
   without it, alternating round by round on the same data: SQLite (revision 0006's partial index) and,
   with `--postgres URL` or $MISFLAG_TEST_POSTGRES_URL, PostgreSQL (0001's index on `kind`, in a schema
   of its own, dropped afterwards). Wall seconds (PostgreSQL's scan runs in the server), medians, and the
   query plan of each.

    python benchmarks/release_ledger.py [--rounds 5] [--rows 2000000]
    python benchmarks/release_ledger.py --entries 1000000 --lookup-only [--postgres URL]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import sqlalchemy as sa

from misflag import datasets
from misflag.decisions import audit_decisions
from misflag.io import _readers
from misflag.ledger import Ledger
from misflag.ledger._releases import LOOKUP, lookup_parameters, record_release, releases_of
from misflag.ledger._writer import VOUCHED_COLUMNS

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


RELEASES_PER_INPUT, OTHER_RELEASES = 3, 7
#: N decision entries after the releases: SQLite's recursive CTE / PostgreSQL's generate_series, with
#: random-looking hashes and a body the size of a recorded flag's
FILL = {
    "sqlite": "WITH RECURSIVE n(s) AS (SELECT :first UNION ALL SELECT s + 1 FROM n WHERE s < :last) "
    "INSERT INTO ledger_entries (seq, prev, hash, kind, case_id, body, mac) SELECT s, randomblob(32), "
    'randomblob(32), \'flagged\', \'case-\' || s, \'{"actor":"screening-system","groups":{},'
    '"payload":{"input_digest":"sha256:\' || lower(hex(randomblob(32))) || \'","rule_id":'
    '"name-match","rule_version":"3.1"},"role":"recorder","ts":"2026-12-07T00:00:00Z"}\', '
    "randomblob(32) FROM n",
    "postgresql": "INSERT INTO ledger_entries (seq, prev, hash, kind, case_id, body, mac) SELECT s, "
    "decode(md5(s::text) || md5((s + 1)::text), 'hex'), decode(md5((s + 2)::text) || md5((s + 3)::text), "
    '\'hex\'), \'flagged\', \'case-\' || s, \'{"actor":"screening-system","groups":{},"payload":'
    '{"input_digest":"sha256:\' || md5(s::text) || md5((s + 9)::text) || \'","rule_id":"name-match",'
    '"rule_version":"3.1"},"role":"recorder","ts":"2026-12-07T00:00:00Z"}\', '
    "decode(md5((s + 4)::text) || md5((s + 5)::text), 'hex') FROM generate_series(CAST(:first AS BIGINT), CAST(:last AS BIGINT)) s",
}
#: The index that serves the lookup on each store (dropped and made again between rounds)
INDEX = {
    "sqlite": (
        "ix_ledger_entries_released",
        "CREATE INDEX ix_ledger_entries_released ON ledger_entries (seq) WHERE kind = 'released'",
    ),
    "postgresql": ("ix_ledger_entries_kind", "CREATE INDEX ix_ledger_entries_kind ON ledger_entries (kind)"),
}


def _filled(url: str, folder: Path, entries: int) -> tuple[Ledger, str]:
    """A ledger of ten releases (three of the returned digest), then `entries` decision entries."""
    ledger = Ledger.open(url, key_path=folder / "key.pem", owner="allow")
    ledger.checkpoint()
    digests = [hashlib.sha256(f"input {n}".encode()).hexdigest() for n in range(1 + OTHER_RELEASES)]
    inputs = [digests[0]] * RELEASES_PER_INPUT + digests[1:]
    seen: dict[str, list[int]] = {digest: [] for digest in digests}
    for number, digest in enumerate(inputs, 1):
        payload = {"name": f"{number}: race", "sha256": digest, "earlier": list(seen[digest]), "where": None}
        payload |= {"groups": ["race"], "rows": [], "metadata": {}}
        receipt = record_release(ledger, payload, seen[digest])
        assert receipt is not None
        seen[digest].append(receipt["seq"])
    first = seen[digests[-1]][-1] + 1
    with ledger.engine.begin() as connection:
        for start in range(first, first + entries, 250_000):
            last = min(start + 250_000, first + entries) - 1
            connection.execute(sa.text(FILL[ledger.engine.dialect.name]), {"first": start, "last": last})
        connection.exec_driver_sql("ANALYZE")  # as autovacuum (PostgreSQL) would after a load
    return ledger, digests[0]


def _plan(ledger: Ledger, digest: str) -> str:
    """The store's plan of the lookup's query (SQLite EXPLAIN QUERY PLAN, PostgreSQL EXPLAIN)."""
    sql = f"SELECT {', '.join(VOUCHED_COLUMNS)} FROM ledger_entries WHERE {LOOKUP} ORDER BY seq"
    with ledger.engine.connect() as connection:
        if ledger.postgres:
            rows = connection.exec_driver_sql("EXPLAIN " + sql.replace("?", "%s"), lookup_parameters(digest))
        else:
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, lookup_parameters(digest))
        return " | ".join(str(row[-1]).strip() for row in rows)


def _lookups(url: str, folder: Path, entries: int, rounds: int) -> None:
    """Median wall (and process CPU) seconds of one input's release lookup, with and without its index."""
    ledger, digest = _filled(url, folder, entries)
    name, create = INDEX[ledger.engine.dialect.name]
    plans: dict[str, str] = {}
    wall: dict[str, list[float]] = {"with": [], "without": []}
    cpu: dict[str, list[float]] = {"with": [], "without": []}
    try:
        for round_number in range(rounds):
            for state in ("with", "without") if round_number % 2 == 0 else ("without", "with"):
                if state == "without":  # the index is there between rounds
                    with ledger.engine.begin() as connection:
                        connection.exec_driver_sql(f"DROP INDEX {name}")
                plans[state] = _plan(ledger, digest)
                assert len(releases_of(ledger, digest)) == RELEASES_PER_INPUT  # warm, and checked
                for _ in range(3):
                    started, used = time.perf_counter(), time.process_time()
                    releases_of(ledger, digest)
                    wall[state].append(time.perf_counter() - started)
                    cpu[state].append(time.process_time() - used)
                if state == "without":
                    with ledger.engine.begin() as connection:
                        connection.exec_driver_sql(create)
    finally:
        ledger.close()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    median = {state: statistics.median(values) for state, values in wall.items()}
    print(
        f"{ledger.engine.dialect.name}, {entries:,} decision entries + 10 releases (load average {load}): "
        f"lookup without {name} {median['without'] * 1000:.2f} ms wall ({statistics.median(cpu['without']) * 1000:.2f} "
        f"ms CPU here), with it {median['with'] * 1000:.3f} ms ({statistics.median(cpu['with']) * 1000:.3f} ms CPU); "
        f"{median['without'] / median['with']:.0f}x"
    )
    for state in ("without", "with"):
        print(f"  plan {state}: {plans[state]}")


def _postgres_schema(base: str) -> tuple[str, sa.Engine, str]:
    """A URL whose search_path is a new schema, the engine that made it and the schema's name."""
    engine = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    schema = f"misflag_bench_{os.getpid()}"
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}?options=-csearch_path%3D{schema}"
    return url, engine, schema


def _lookup_benchmark(entries: int, rounds: int, postgres: str | None) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        _lookups(f"sqlite:///{Path(scratch) / 'ledger.sqlite'}", Path(scratch), entries, rounds)
        if postgres:
            url, engine, schema = _postgres_schema(postgres)
            try:
                _lookups(url, Path(scratch), entries, rounds)
            finally:
                with engine.begin() as connection:
                    connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
                engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--entries", type=int, default=0, help="decision entries for the lookup (0: skip)")
    parser.add_argument("--lookup-only", action="store_true", help="only the release lookup (--entries)")
    parser.add_argument("--postgres", default=os.environ.get("MISFLAG_TEST_POSTGRES_URL"))
    arguments = parser.parse_args()
    if arguments.entries:
        _lookup_benchmark(arguments.entries, arguments.rounds, arguments.postgres)
    if arguments.lookup_only:
        return
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
