"""Revision 0006: the release lookup (`ledger/_releases.py`) is served by an index on both stores, on a
ledger made new and on one migrated from 0005; the releases a 0005 ledger holds still read, and a later
`--ledger` audit is still protected against them. The plans are the stores' own (SQLite `EXPLAIN QUERY
PLAN`, PostgreSQL `EXPLAIN`), read for the very statement the reader runs; no timing is asserted
(`benchmarks/release_ledger.py --entries N` times it). Neither verification nor the reader depends on the
index: with it dropped, the same releases read and the ledger verifies."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from misflag.cli import main
from misflag.decisions import audit_decisions
from misflag.disclosure._ledger_register import release_payload
from misflag.io._readers import file_sha256
from misflag.ledger import Event, Ledger
from misflag.ledger._keys import key_id, load_or_create, public_bytes
from misflag.ledger._releases import LOOKUP, lookup_parameters, record_release, releases_of
from misflag.ledger._store import MIGRATIONS
from misflag.ledger._writer import VOUCHED_COLUMNS
from tests.ledger._releases import OPTIONS, write_small_log

FLAG = {"rule_id": "r", "rule_version": "1", "input_digest": "sha256:ab"}
SQL = f"SELECT {', '.join(VOUCHED_COLUMNS)} FROM ledger_entries WHERE {LOOKUP} ORDER BY seq"
INDEX = {"sqlite": "ix_ledger_entries_released", "postgresql": "ix_ledger_entries_kind"}


def _pinned(key_path: Path) -> dict[str, bytes]:
    public = public_bytes(load_or_create(key_path))
    return {key_id(public): public}


def _plan(url: str, digest: str) -> str:
    """The store's plan for the reader's statement (PostgreSQL with sequential scans off: on a table this
    small a scan is cheaper, and the question is whether the index can serve the lookup)."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
                rows = connection.exec_driver_sql(
                    "EXPLAIN " + SQL.replace("?", "%s"), lookup_parameters(digest)
                )
            else:
                rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + SQL, lookup_parameters(digest))
            return " | ".join(str(row[-1]) for row in rows)
    finally:
        engine.dispose()


def _at_revision_0005(url: str, folder: Path) -> tuple[Path, str, list[dict[str, Any]]]:
    """A ledger made by the migrations up to 0005, holding 120 decision entries and two releases of the
    small log (each recorded as `decisions audit --ledger` records one), then 60 more decision entries;
    returns the log, its digest and the two payloads."""
    log = write_small_log(folder)
    digest = file_sha256(log)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    old = Ledger(url, key_path=folder / "k.pem")
    with old.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
    old.checkpoint()
    old.append([Event("flagged", f"c{n}", "a", "recorder", FLAG) for n in range(120)])
    payloads: list[dict[str, Any]] = []
    for number, where in enumerate(("g <> 'a'", "g <> 'b'"), 1):
        result = audit_decisions(str(log), **OPTIONS, where=where)
        result.metadata["release"] = f"{number}: g where {where}"
        seen = [seq for seq, _ in releases_of(old, digest)]
        payload = release_payload(result, digest, seen)
        assert record_release(old, payload, seen) is not None
        payloads.append(payload)
    old.append([Event("flagged", f"d{n}", "a", "recorder", FLAG) for n in range(60)])
    old.checkpoint()
    old.close()
    return log, digest, payloads


def test_a_new_ledger_serves_the_lookup_by_its_index(store_url: str, tmp_path: Path) -> None:
    Ledger.open(store_url, key_path=tmp_path / "k.pem", owner="allow").close()
    dialect = sa.make_url(store_url).get_backend_name()
    assert INDEX[dialect] in _plan(store_url, "0" * 64)


@pytest.mark.filterwarnings("ignore::misflag.ledger.LedgerOwnerWarning")
def test_a_0005_ledger_is_migrated_and_its_releases_still_read(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, digest, payloads = _at_revision_0005(store_url, tmp_path)
    dialect = sa.make_url(store_url).get_backend_name()
    if dialect == "sqlite":  # the control: at 0005 SQLite has no index to serve it, the whole table is read
        before = _plan(store_url, digest)
        assert "SCAN ledger_entries" in before and "USING" not in before, before
    assert main(["ledger", "init", "--db", store_url, "--key", str(tmp_path / "k.pem")]) == 0
    assert INDEX[dialect] in _plan(store_url, digest)
    if dialect == "sqlite":
        with sqlite3.connect(sa.make_url(store_url).database or "") as raw:
            assert raw.execute("SELECT version_num FROM ledger_alembic_version").fetchall() == [("0006",)]
            listed = {row[1]: row[4] for row in raw.execute("PRAGMA index_list(ledger_entries)")}
            assert listed["ix_ledger_entries_released"] == 1  # partial: only the release rows
            assert raw.execute(
                "SELECT count(*) FROM ledger_entries INDEXED BY ix_ledger_entries_released "
                "WHERE kind = 'released'"
            ).fetchone() == (2,)
    migrated = Ledger.open(store_url, key_path=tmp_path / "k.pem", create=False, owner="allow")
    try:
        found = releases_of(migrated, digest)
        assert [payload["name"] for _, payload in found] == [p["name"] for p in payloads]
        assert [payload["rows"] for _, payload in found] == [p["rows"] for p in payloads]
        assert found[1][1]["earlier"] == [found[0][0]]
        assert migrated.verify(require_sealed=True, public_keys=_pinned(tmp_path / "k.pem")).ok
    finally:
        migrated.close()
    # and a later audit with --ledger reads them: it is release 3, protected against both
    monkeypatch.setenv("MISFLAG_LEDGER_KEY", str(tmp_path / "k.pem"))
    # c alone, written as a filter the register evaluates on the data: the value list g IN ('c') is refused
    # beside the two releases since 493911e's census (tests/security/test_register_value_list_gap.py)
    third = audit_decisions(str(log), **OPTIONS, where="g <> 'a' AND g <> 'b'", ledger=store_url)
    assert third.metadata["release"].startswith("3: ")
    earlier = third.metadata["disclosure_audit"]["secondary_suppression"]["earlier_releases"]
    assert earlier == [p["name"] for p in payloads]


@pytest.mark.filterwarnings("ignore::misflag.ledger.LedgerOwnerWarning")
def test_neither_the_reader_nor_verify_depends_on_the_index(store_url: str, tmp_path: Path) -> None:
    """The owner drops the index: the same releases read (the table scanned) and the ledger verifies."""
    _, digest, payloads = _at_revision_0005(store_url, tmp_path)
    assert main(["ledger", "init", "--db", store_url, "--key", str(tmp_path / "k.pem")]) == 0
    engine = sa.create_engine(store_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP INDEX {INDEX[engine.dialect.name]}")
    engine.dispose()
    assert INDEX[sa.make_url(store_url).get_backend_name()] not in _plan(store_url, digest)
    ledger = Ledger.open(store_url, key_path=tmp_path / "k.pem", create=False, owner="allow")
    try:
        assert [payload["name"] for _, payload in releases_of(ledger, digest)] == [
            p["name"] for p in payloads
        ]
        assert ledger.verify(require_sealed=True, public_keys=_pinned(tmp_path / "k.pem")).ok
    finally:
        ledger.close()
