"""Revision 0005 (on SQLite `seq INTEGER PRIMARY KEY`, the rowid) attacked with the attacker's own tools:
sqlite3 on the file, and on PostgreSQL the INSERT-only writer role. Rows numbered anyhow (none, a gap, a
negative number, 2^63 - 1, text, real, blob), REPLACE through every spelling of the key, VACUUM, rows of
the wrong SQLite storage class, the owner's WITHOUT ROWID rebuild and trigger games, a migration killed
halfway, `init` run twice and a migration while the service appends. Each is refused at write time with a
one-line reason, or found by the default `verify` (pinned key), or is an owner's power documented in
docs/ledger.md's attacker table.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from misflag.cli import main
from misflag.errors import LedgerError
from misflag.ledger import Event, Ledger, authenticate, create_token
from misflag.ledger._store import MIGRATIONS
from misflag.ledger._verify import entry_hash
from tests.ledger._plant import entry_body, plant

TOP = 2**63 - 1  # the largest rowid (and PostgreSQL bigint)
FLAG = {"rule_id": "r", "rule_version": "1", "input_digest": "sha256:ab"}


def _body(actor: str = "intruder") -> str:
    return entry_body(FLAG, actor=actor, role="recorder")


def _plant(target: Any, seq: Any, *, linked: bool = True) -> None:
    """As the INSERT-only writer: a well-formed `flagged` row (linked to the head and hashed as the store
    hashes, when `linked`) numbered `seq` (None: the column left out)."""
    plant(target.url, "flagged", "cx", _body(), seq=seq, linked=linked)


def _open(db: Path) -> closing[sqlite3.Connection]:
    """The attacker's sqlite3 on the file: autocommit, closed on leaving the block."""
    return closing(sqlite3.connect(db, isolation_level=None))


def _entries(db: Path) -> list[Any]:
    with _open(db) as raw:
        return raw.execute(
            "SELECT rowid, seq, typeof(seq), prev, hash, kind, case_id, body, mac FROM ledger_entries ORDER BY seq"
        ).fetchall()


SQLITE_ONLY = pytest.mark.parametrize("target", ["sqlite"], indirect=True)  # attacks on the file itself


def _sqlite(target: Any) -> Path:
    assert target.store == "sqlite"
    return Path(sa.engine.make_url(target.url).database or "")


def _one_line_exit(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(args)
    err = capsys.readouterr().err.strip()
    return code, err


def _verify_exit(target: Any, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`misflag ledger verify` with the key pinned by its fingerprint, as a third party runs it."""
    command = ["ledger", "verify", "--db", target.url, "--key", str(target.key)]
    return _one_line_exit([*command, "--key-fingerprint", target.fingerprint], capsys)


# -- rows numbered anyhow ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seq", ["gap", -1, TOP])
def test_a_row_numbered_off_the_chain_is_never_sealed_and_fails_verify(
    target: Any, seq: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A gap, a negative number or the largest key: `verify` names the number, and the service refuses to
    seal past it (one line, exit 2; never an OverflowError at 2^63 - 1, never sealing around a row below 0)."""
    ledger = target.seed()
    number = 6 + 5 if seq == "gap" else seq
    _plant(target, number)
    code, err = _verify_exit(target, capsys)
    assert code == 2 and f"sequence number is {number}" in err and len(err.splitlines()) == 1
    with pytest.raises(LedgerError, match="refusing to seal"):  # an append chaining onto it is refused too
        ledger.checkpoint()
    code, err = _one_line_exit(["ledger", "checkpoint", "--db", target.url, "--key", str(target.key)], capsys)
    assert code == 2 and err.startswith("error: refusing to seal") and len(err.splitlines()) == 1
    ledger.close()


def test_a_row_without_a_key_is_numbered_max_plus_one_on_sqlite_and_refused(
    target: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLite numbers a row inserted without `seq` max + 1 (PostgreSQL refuses it: NOT NULL, no default);
    it is an ordinary planted row: never sealed, and `verify` fails (it does not link)."""
    ledger = target.seed()
    if target.store == "postgresql":
        with pytest.raises(sa.exc.IntegrityError):
            _plant(target, None)
        ledger.close()
        return
    _plant(target, None, linked=False)
    db = _sqlite(target)
    assert _entries(db)[-1][:3] == (6, 6, "integer")
    with pytest.raises(LedgerError, match="carries no valid writer proof"):
        ledger.append([target.flag("after")])
    assert target.verify_exit() == 2
    assert "entry 6: content does not match its hash" in capsys.readouterr().err
    ledger.close()


@SQLITE_ONLY
def test_sqlite_after_the_largest_key_a_new_row_gets_a_random_key_and_is_refused(target: Any) -> None:
    """Past rowid 2^63 - 1 SQLite picks an unused key at random; the service still seals nothing."""
    db = _sqlite(target)
    ledger = target.seed()
    _plant(target, TOP)
    with _open(db) as raw:
        raw.execute(
            "INSERT INTO ledger_entries (prev, hash, kind, body) VALUES (x'00', x'00', 'flagged', '{}')"
        )
    numbers = [row[1] for row in _entries(db)]
    assert numbers[:6] == list(range(6)) and numbers[-1] == TOP and len(numbers) == 8
    with pytest.raises(LedgerError, match=r"refusing to (seal|append)"):
        ledger.checkpoint()
    assert target.verify_exit() == 2
    ledger.close()


@SQLITE_ONLY
@pytest.mark.parametrize("key", ["'abc'", "5.5", "x'31'", "'6.5'"])
def test_sqlite_rowid_refuses_a_key_that_is_not_an_integer(target: Any, key: str) -> None:
    """Under 0004's BIGINT a text or real `seq` was stored as such; a rowid refuses it outright."""
    db = _sqlite(target)
    target.seed().close()
    before = _entries(db)
    with _open(db) as raw, pytest.raises(sqlite3.IntegrityError, match="datatype mismatch"):
        raw.execute(
            f"INSERT INTO ledger_entries (seq, prev, hash, kind, body) VALUES ({key}, x'00', x'00', 'flagged', '{{}}')"
        )
    assert _entries(db) == before


@SQLITE_ONLY
def test_sqlite_integer_text_becomes_an_integer_key_and_is_found(
    target: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """'9' is stored as the integer 9 (the same under BIGINT): a gap, found as one."""
    db = _sqlite(target)
    target.seed().close()
    _plant(target, "9")
    assert _entries(db)[-1][1:3] == (9, "integer")
    assert target.verify_exit() == 2
    assert "sequence number is 9" in capsys.readouterr().err


REPLACES = [
    "INSERT OR REPLACE INTO ledger_entries (seq, prev, hash, kind, body) VALUES ({k}, x'00', x'00', 'action', '{{}}')",
    "REPLACE INTO ledger_entries (seq, prev, hash, kind, body) VALUES ({k}, x'00', x'00', 'action', '{{}}')",
    "INSERT INTO ledger_entries (seq, prev, hash, kind, body) VALUES ({k}, x'00', x'00', 'action', '{{}}') "
    "ON CONFLICT DO UPDATE SET body = 'x'",
    "INSERT INTO ledger_entries (seq, prev, hash, kind, body) VALUES ({k}, x'00', x'00', 'action', '{{}}') "
    "ON CONFLICT DO NOTHING",
]


@SQLITE_ONLY
@pytest.mark.parametrize("key", ["1", "'1'", "' 1 '", "1.0", "'1e0'", "'0x1'"])
@pytest.mark.parametrize("statement", REPLACES)
def test_sqlite_replace_through_any_spelling_of_the_key_is_refused(
    target: Any, key: str, statement: str
) -> None:
    db = _sqlite(target)
    target.seed().close()
    before = _entries(db)
    with (
        _open(db) as raw,
        pytest.raises(sqlite3.DatabaseError, match=r"append-only|datatype mismatch"),
    ):
        raw.execute(statement.format(k=key))
    assert _entries(db) == before


@SQLITE_ONLY
@pytest.mark.parametrize(
    "statement",
    [
        *(
            f"INSERT OR REPLACE INTO ledger_entries ({column}, prev, hash, kind, body) "
            "VALUES (1, x'00', x'00', 'action', '{}')"
            for column in ("rowid", "oid", "_rowid_")
        ),
        "INSERT OR REPLACE INTO ledger_entries (seq, rowid, prev, hash, kind, body) "
        "VALUES (NULL, 1, x'00', x'00', 'action', '{}')",
        "INSERT OR REPLACE INTO ledger_entries SELECT * FROM ledger_entries WHERE seq = 1",
        "UPDATE OR REPLACE ledger_entries SET seq = 1 WHERE seq = 0",
        "UPDATE ledger_entries SET rowid = rowid + 100",
        "DELETE FROM ledger_entries WHERE rowid = 1",
    ],
)
def test_sqlite_the_rowid_by_its_other_names_is_append_only_too(target: Any, statement: str) -> None:
    db = _sqlite(target)
    target.seed().close()
    before = _entries(db)
    with _open(db) as raw, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute(statement)
    assert _entries(db) == before


@SQLITE_ONLY
def test_sqlite_vacuum_renumbers_no_entry(target: Any) -> None:
    """VACUUM may renumber rowids of a table without an INTEGER PRIMARY KEY; with one it must not."""
    db = _sqlite(target)
    target.seed().close()
    before = _entries(db)
    with _open(db) as raw:
        raw.execute("VACUUM")
        raw.execute(f"VACUUM INTO '{db.with_suffix('.copy')}'")
    assert _entries(db) == before
    assert _entries(db.with_suffix(".copy")) == before
    assert all(row[0] == row[1] for row in before)
    assert target.verify_exit() == 0


# -- rows of the wrong storage class (SQLite stores any class in any column) ---------------------------------


def _plant_typed(db: Path, **changes: Any) -> None:
    """A row at the head, linked and hashed as the store hashes `str(value)`, with columns of odd types."""
    with _open(db) as raw:
        head, prev = raw.execute("SELECT seq, hash FROM ledger_entries ORDER BY seq DESC LIMIT 1").fetchone()
        row = {"seq": head + 1, "prev": prev, "kind": "flagged", "case_id": "cx", "body": _body()} | changes
        row["hash"] = entry_hash(bytes(prev), row["seq"], row["kind"], row["case_id"], row["body"])
        if "prev" in changes:
            row["hash"] = bytes(32)
        raw.execute(
            "INSERT INTO ledger_entries (seq, prev, hash, kind, case_id, body) VALUES (?, ?, ?, ?, ?, ?)",
            [row[name] for name in ("seq", "prev", "hash", "kind", "case_id", "body")],
        )


@SQLITE_ONLY
@pytest.mark.parametrize(
    "changes",
    [
        {"body": _body().encode()},  # a BLOB body, hashed as the text of its repr
        {"case_id": b"cx"},
        {"prev": "not bytes"},
        {"kind": b"flagged"},
    ],
    ids=["blob-body", "blob-case", "text-prev", "blob-kind"],
)
def test_sqlite_entry_of_the_wrong_storage_class_is_one_line_everywhere(
    target: Any, changes: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    db = _sqlite(target)
    ledger = target.seed()
    admin = create_token(ledger, "admin-1", "admin", actor="root")
    _plant_typed(db, **changes)
    try:  # the API's check reads the chain past its last checkpoint: a finding, never a TypeError
        authenticate(ledger, admin)
    except LedgerError as error:
        assert "failed verification: entry 7" in str(error)
    code, err = _verify_exit(target, capsys)
    assert (
        code == 2
        and err.startswith("error: ledger verification FAILED: entry 7")
        and len(err.splitlines()) == 1
    )
    with pytest.raises(LedgerError, match=r"refusing to (append|seal)"):
        ledger.append([target.flag("after")])
    code, err = _one_line_exit(["ledger", "checkpoint", "--db", target.url, "--key", str(target.key)], capsys)
    assert code == 2 and err.startswith("error: refusing to seal"), err
    ledger.close()


@SQLITE_ONLY
@pytest.mark.parametrize(
    "values",
    [
        "('abc', x'00', 't', 'k', x'00', '[]')",
        "(x'01', x'00', 't', 'k', x'00', '[]')",
        "(1.5, x'00', 't', 'k', x'00', '[]')",
        "(3, 'not bytes', 't', 'k', x'00', '[]')",
        "(6.5, x'00', 't', 'k', x'00', '[]')",
    ],
    ids=["text-size", "blob-size", "real-size", "text-root", "real-size-above"],
)
def test_sqlite_checkpoint_row_of_the_wrong_storage_class_is_one_line_everywhere(
    target: Any, values: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A checkpoint row whose tree size is text or a blob sorts above every integer (ORDER BY tree_size
    DESC finds it first); a real or a text root breaks arithmetic. None may crash a command."""
    db = _sqlite(target)
    ledger = target.seed()
    with _open(db) as raw:
        raw.execute(
            f"INSERT INTO ledger_checkpoints (tree_size, root, ts, key_id, signature, frontier) VALUES {values}"
        )
    code, err = _verify_exit(target, capsys)
    assert code == 2 and err.startswith("error: ") and "checkpoint" in err and len(err.splitlines()) == 1, err
    try:
        ledger.append([target.flag("after")])
    except LedgerError as error:
        assert "refusing to" in str(error)
    code, err = _one_line_exit(["ledger", "checkpoint", "--db", target.url, "--key", str(target.key)], capsys)
    assert code in (0, 2) and "internal error" not in err, err
    ledger.close()


# -- the owner's powers ----------------------------------------------------------------------------------------


@SQLITE_ONLY
def test_sqlite_owner_rebuilding_without_rowid_changes_no_entry_and_a_text_key_is_still_found(
    target: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The file owner may rebuild the table WITHOUT ROWID (BIGINT key, 0004's affinity back): the entries,
    being the same, still verify (the schema is not what is signed); a text `seq` it then admits is named by
    `verify` and refused by the sealer."""
    db = _sqlite(target)
    ledger = target.seed()
    with _open(db) as raw:
        triggers = [row[0] for row in raw.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger'")]
        raw.execute("BEGIN")
        raw.execute(
            "CREATE TABLE rebuilt (seq BIGINT NOT NULL PRIMARY KEY, prev BLOB NOT NULL, hash BLOB NOT NULL, "
            "kind VARCHAR(32) NOT NULL, case_id VARCHAR(128), body TEXT NOT NULL, mac BLOB) WITHOUT ROWID"
        )
        raw.execute("INSERT INTO rebuilt SELECT * FROM ledger_entries")
        raw.execute("DROP TABLE ledger_entries")
        raw.execute("ALTER TABLE rebuilt RENAME TO ledger_entries")
        for sql in triggers:
            if "ON ledger_entries" in sql:
                raw.execute(sql)
        raw.execute("COMMIT")
    assert target.verify_exit() == 0
    with _open(db) as raw:
        raw.execute(
            "INSERT INTO ledger_entries (seq, prev, hash, kind, body) VALUES ('abc', x'00', x'00', 'flagged', '{}')"
        )
    capsys.readouterr()
    assert target.verify_exit() == 2
    assert "sequence number is 'abc'" in capsys.readouterr().err
    with pytest.raises(LedgerError, match="refusing to"):
        ledger.checkpoint()
    ledger.close()


@SQLITE_ONLY
def test_sqlite_owner_dropping_and_remaking_the_triggers_around_an_edit_is_found(
    target: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whoever can write the file can drop the triggers, edit, and make them again, leaving the schema as it
    was: the edit is found by its hash (and a re-chained one by the signed roots)."""
    db = _sqlite(target)
    target.seed().close()
    with _open(db) as raw:
        triggers = list(raw.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
        for name, _ in triggers:
            raw.execute(f"DROP TRIGGER {name}")
        raw.execute("UPDATE ledger_entries SET body = replace(body, 'screening', 'someone') WHERE seq = 2")
        for _, sql in triggers:
            raw.execute(sql)
        remade = list(raw.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
    assert sorted(remade) == sorted(triggers)
    assert target.verify_exit() == 2
    assert "entry 2: content does not match its hash (edited)" in capsys.readouterr().err


# -- migrating ---------------------------------------------------------------------------------------------------


def _ledger_at_0004(folder: Path, entries: int = 400) -> tuple[Path, Path]:
    db, key = folder / "old.sqlite", folder / "k.pem"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    old = Ledger(f"sqlite:///{db}", key_path=key)
    with old.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
    old.checkpoint()
    for start in range(0, entries, 100):
        old.append([Event("flagged", f"c{n}", "a", "recorder", FLAG) for n in range(start, start + 100)])
    old.checkpoint()
    old.close()
    return db, key


#: Imports misflag once, then for each `STOP DB` pair forks a child that runs `ledger init` on DB and
#: SIGKILLs itself after the STOP-th statement it executes; prints each child's wait status, one a line.
#: A fork of the imported interpreter, not an interpreter per case: the import is what a case cost.
KILL_AFTER = """
import os, signal, sys
from alembic import op
from misflag.cli import main
real = op.execute
key, cases = sys.argv[1], sys.argv[2:]
for stop, db in zip(cases[::2], cases[1::2]):
    child = os.fork()
    if child == 0:
        os.dup2(2, 1)  # what init prints goes to stderr: stdout carries the statuses only
        calls = [0]
        def execute(*args, **kwargs):
            real(*args, **kwargs)
            if op.get_context().as_sql:  # init rendering the triggers it expects (ledger/_guard.py)
                return
            calls[0] += 1
            if calls[0] == int(stop):
                os.kill(os.getpid(), signal.SIGKILL)
        op.execute = execute
        code = 1
        try:
            code = main(["ledger", "init", "--db", db, "--key", key])
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os._exit(code)
    print(os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]), flush=True)
"""


def test_sqlite_migration_killed_after_any_statement_leaves_0004_or_0005_whole(tmp_path: Path) -> None:
    """SIGKILL after each of revisions 0005's and 0006's statements in turn (the copy, the DROP, the RENAME,
    each index and trigger; one transaction): the file is at 0004 exactly as it was, or, once the statements
    are all done, at 0006 with the same rows; never between. A second `init` then migrates it and it verifies."""
    pristine, key = _ledger_at_0004(tmp_path)
    before = [row[1:] for row in _entries(pristine)]
    # 0005: create, copy, drop, rename, case index, 2 partial, 2 + 1 triggers; 0006: the released index
    statements = 2 + 1 + 1 + 1 + 2 + 2 + 1 + 1
    stops = range(1, statements + 2)
    copies = {stop: tmp_path / f"kill-{stop}.sqlite" for stop in stops}
    for db in copies.values():
        with _open(pristine) as source, _open(db) as copy:
            source.backup(copy)
        os.chmod(db, 0o600)
    cases = [str(part) for stop, db in copies.items() for part in (stop, db)]
    run = subprocess.run([sys.executable, "-c", KILL_AFTER, str(key), *cases], capture_output=True, text=True)
    codes = [int(line) for line in run.stdout.split()]
    assert run.returncode == 0 and len(codes) == len(stops), run.stderr
    for (stop, db), code in zip(copies.items(), codes, strict=True):
        with _open(db) as raw:
            version = raw.execute("SELECT version_num FROM ledger_alembic_version").fetchone()[0]
            indexes = {row[1] for row in raw.execute("PRAGMA index_list(ledger_entries)")}
            assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert [row[1:] for row in _entries(db)] == before, stop
        assert "ledger_entries_0005" not in tables, stop
        if code == -signal.SIGKILL:
            assert version == "0004" and "sqlite_autoindex_ledger_entries_1" in indexes, stop
        else:
            assert code == 0 and version == "0006", (stop, run.stderr)
        assert main(["ledger", "init", "--db", str(db), "--key", str(key)]) == 0
        migrated = Ledger.open(str(db), key_path=key, create=False)
        try:
            assert migrated.verify(
                require_sealed=True, key_fingerprint=migrated.checkpoints()[-1]["key_id"]
            ).ok
        finally:
            migrated.close()
    assert codes[-1] == 0, "the last round ran every statement and committed"
    assert codes[:-1] == [-signal.SIGKILL] * statements, "every earlier round was killed mid-migration"


def test_init_twice_changes_nothing(target: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = target.seed()
    checkpoints = ledger.checkpoints()
    ledger.close()
    capsys.readouterr()
    assert main(["ledger", "init", "--db", target.owner_url, "--key", str(target.key)]) == 0
    assert f"key fingerprint to pin: {target.fingerprint}" in capsys.readouterr().err
    again = target.open()
    assert again.checkpoints() == checkpoints
    again.close()
    assert target.verify_exit("--require-sealed") == 0


def test_sqlite_migration_while_the_service_appends_loses_nothing(tmp_path: Path) -> None:
    """A service still running 0004's connection appends batch after batch while `init` migrates the file
    in another process: `init` waits for the writer (or the writer for it), every acknowledged entry is
    there afterwards, numbered as its rowid, and the ledger verifies."""
    db, key = _ledger_at_0004(tmp_path, entries=200)
    service = Ledger(f"sqlite:///{db}", key_path=key)  # opened before the upgrade, as a running server
    receipts: list[dict[str, Any]] = []
    errors: list[Exception] = []
    done = threading.Event()

    def append() -> None:
        try:
            batch = 0
            while not done.is_set() or batch < 20:
                receipts.extend(
                    service.append(
                        [Event("flagged", f"s{batch}-{n}", "a", "recorder", FLAG) for n in range(20)]
                    )
                )
                batch += 1
        except Exception as error:  # reported by the assertion below
            errors.append(error)

    writer = threading.Thread(target=append)
    writer.start()
    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("misflag")),
            "ledger",
            "init",
            "--db",
            str(db),
            "--key",
            str(key),
        ],
        capture_output=True,
        text=True,
    )
    done.set()
    writer.join()
    service.close()
    assert run.returncode == 0, run.stderr
    assert not errors, errors
    rows = _entries(db)
    stored = {row[1]: bytes(row[4]).hex() for row in rows}
    assert all(stored.get(receipt["seq"]) == receipt["hash"] for receipt in receipts)
    assert all(row[0] == row[1] and row[2] == "integer" for row in rows)
    with _open(db) as raw:
        assert raw.execute("SELECT version_num FROM ledger_alembic_version").fetchone() == ("0006",)
    migrated = Ledger.open(str(db), key_path=key, create=False)
    try:
        migrated.checkpoint()
        report = migrated.verify(require_sealed=True, key_fingerprint=migrated.checkpoints()[-1]["key_id"])
        assert report.ok and report.entries == len(rows), report.problem
    finally:
        migrated.close()
