"""Revision 0005 (SQLite): a ledger written at revision 0004 is rebuilt with `seq` as the table's rowid and
partial indexes for the two kinds looked up, without changing any stored value, and still verifies with its
pinned key (`init` takes it on to 0006, which adds the partial index of `released` rows). Checked with sqlite3 itself (PRAGMA index_list, typeof, the stored bytes), not with misflag."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config

from misflag.cli import main
from misflag.ledger import Event, Ledger
from misflag.ledger._keys import key_id, load_or_create, public_bytes
from misflag.ledger._rules import RuleSet
from misflag.ledger._store import MIGRATIONS

FLAG = {"rule_id": "r", "rule_version": "1", "input_digest": "sha256:ab", "score": 0.5}
ALL_COLUMNS = "seq, typeof(seq), prev, hash, kind, case_id, typeof(case_id), body, mac, typeof(mac)"


def _at_revision_0004(folder: Path, url: str | None = None) -> tuple[Path, dict[str, bytes]]:
    """A ledger made by the migrations up to 0004 and written by the store: 249 entries (one without a
    case id), checkpoints, one rule change; returns the SQLite file (at `url` when given) and its pinned
    key."""
    db, key_path = folder / "old.sqlite", folder / "k.pem"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    old = Ledger(url or f"sqlite:///{db}", key_path=key_path, checkpoint_every=100)
    with old.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
    old.checkpoint()
    for start in range(0, 240, 40):
        old.append([Event("flagged", f"c{n}", "a", "recorder", FLAG) for n in range(start, start + 40)])
    old.set_rules(RuleSet(version=2), actor="admin")
    old.append([Event("flagged", f"d{n}", "a", "recorder", FLAG) for n in range(8)])
    old.close()
    key = load_or_create(key_path)
    return db, {key_id(public_bytes(key)): public_bytes(key)}


def _rows(db: Path) -> list[Any]:
    with sqlite3.connect(db) as raw:
        return raw.execute(f"SELECT {ALL_COLUMNS} FROM ledger_entries ORDER BY seq").fetchall()


def _indexes(db: Path) -> list[tuple[str, str, int]]:
    """(name, origin, partial) of every index on ledger_entries: origin 'pk' is a separate key index."""
    with sqlite3.connect(db) as raw:
        listed = raw.execute("PRAGMA index_list(ledger_entries)").fetchall()
    return sorted((row[1], row[3], row[4]) for row in listed)


def test_migration_0005_rebuilds_the_key_as_rowid_and_changes_no_entry(tmp_path: Path) -> None:
    db, pinned = _at_revision_0004(tmp_path)
    before = _rows(db)
    assert len(before) == 249 and any(row[5] is None for row in before)  # system entries: no case id
    assert ("sqlite_autoindex_ledger_entries_1", "pk", 0) in _indexes(db)  # BIGINT key: an index of its own

    assert main(["ledger", "init", "--db", str(db), "--key", str(tmp_path / "k.pem")]) == 0

    assert _rows(db) == before, "every stored value, with its type, is as it was"
    assert _indexes(db) == [
        ("ix_ledger_entries_case", "c", 0),
        ("ix_ledger_entries_key_rotated", "c", 1),
        ("ix_ledger_entries_released", "c", 1),
        ("ix_ledger_entries_rules_changed", "c", 1),
    ]
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT count(*) FROM ledger_entries WHERE rowid <> seq").fetchone() == (0,)
        plan = raw.execute(
            "EXPLAIN QUERY PLAN SELECT max(seq) FROM ledger_entries WHERE kind = 'rules_changed'"
        ).fetchall()
        assert "ix_ledger_entries_rules_changed" in str(plan)
        plan = raw.execute(  # a case's history: by its index, never a scan in rowid order
            "EXPLAIN QUERY PLAN SELECT body FROM ledger_entries WHERE case_id IN (?, ?) ORDER BY seq",
            ("c1", "c2"),
        ).fetchall()
        assert "USING INDEX ix_ledger_entries_case" in str(plan)
        assert raw.execute("SELECT version_num FROM ledger_alembic_version").fetchall() == [("0006",)]
    migrated = Ledger.open(str(db), key_path=tmp_path / "k.pem", create=False)
    try:
        report = migrated.verify(require_sealed=True, public_keys=pinned)
        assert report.ok and report.entries == len(before), report.problem
        assert migrated.rules().version == 2  # the rule change is still found by its index
        migrated.append([Event("flagged", "c1", "a", "recorder", FLAG)])  # and appends go on
        migrated.checkpoint()
        assert migrated.verify(require_sealed=True, public_keys=pinned).ok
    finally:
        migrated.close()


def test_migrated_table_stays_append_only(tmp_path: Path) -> None:
    """The rebuilt table keeps every trigger: UPDATE, DELETE, REPLACE and UPSERT on an entry abort."""
    db, _ = _at_revision_0004(tmp_path)
    assert main(["ledger", "init", "--db", str(db), "--key", str(tmp_path / "k.pem")]) == 0
    before = _rows(db)
    raw = sqlite3.connect(db, isolation_level=None)
    try:
        for attack in (
            "UPDATE ledger_entries SET body = 'x' WHERE seq = 3",
            "DELETE FROM ledger_entries WHERE seq = 3",
            "INSERT OR REPLACE INTO ledger_entries SELECT * FROM ledger_entries WHERE seq = 3",
            "REPLACE INTO ledger_entries (seq, prev, hash, kind, body) VALUES (3, x'00', x'00', 'action', '{}')",
            "INSERT INTO ledger_entries (seq, prev, hash, kind, body) VALUES (3, x'00', x'00', 'action', '{}') "
            "ON CONFLICT (seq) DO UPDATE SET body = 'x'",
        ):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                raw.execute(attack)
    finally:
        raw.close()
    assert _rows(db) == before


def test_migration_refuses_a_planted_non_integer_key_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A row planted with a text `seq` (possible under BIGINT affinity, impossible for a rowid) stops the
    rebuild with one line, and the ledger is left at 0004 exactly as it was."""
    db, _ = _at_revision_0004(tmp_path)
    with sqlite3.connect(db) as raw:
        raw.execute(
            "INSERT INTO ledger_entries (seq, prev, hash, kind, body) VALUES ('x', x'00', x'00', 'action', '{}')"
        )
    before = _rows(db)
    capsys.readouterr()
    assert main(["ledger", "init", "--db", str(db), "--key", str(tmp_path / "k.pem")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "mismatch" in err
    assert _rows(db) == before
    assert ("sqlite_autoindex_ledger_entries_1", "pk", 0) in _indexes(db)
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT version_num FROM ledger_alembic_version").fetchall() == [("0004",)]


def test_a_0004_ledger_is_migrated_by_init_on_either_store(store_url: str, tmp_path: Path) -> None:
    """On PostgreSQL 0005 and 0006 only record the revision; on both stores `init` takes a 0004 ledger to 0006 with
    every entry as it was, verifying with its pinned key and taking appends."""
    _, pinned = _at_revision_0004(tmp_path, store_url)
    columns = "seq, prev, hash, kind, case_id, body, mac"

    def entries(ledger: Ledger) -> list[tuple[Any, ...]]:
        with ledger.engine.connect() as connection:
            rows = connection.exec_driver_sql(f"SELECT {columns} FROM ledger_entries ORDER BY seq")
            return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in rows]

    old = Ledger(store_url, key_path=tmp_path / "k.pem")
    before = entries(old)
    old.close()
    assert len(before) == 249
    assert main(["ledger", "init", "--db", store_url, "--key", str(tmp_path / "k.pem")]) == 0
    migrated = Ledger.open(store_url, key_path=tmp_path / "k.pem", create=False, owner="allow")
    try:
        assert entries(migrated) == before
        with migrated.engine.connect() as connection:
            revision = connection.exec_driver_sql("SELECT version_num FROM ledger_alembic_version")
            assert revision.scalar_one() == "0006"
        assert migrated.verify(require_sealed=True, public_keys=pinned).ok
        migrated.append([Event("flagged", "c1", "a", "recorder", FLAG)])
        migrated.checkpoint()
        assert migrated.verify(require_sealed=True, public_keys=pinned).ok
    finally:
        migrated.close()
