"""Tamper evidence: every single-row edit, deletion, reordering or insertion made directly in the database
file, at every position of a 1,000-entry ledger, is found by `verify`; the triggers refuse UPDATE/DELETE."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from misflag.ledger import Ledger, LedgerUnavailable
from misflag.ledger._engine import now
from misflag.ledger._verify import GENESIS, entry_hash
from misflag.ledger._writer import LedgerTampered

SIZE = 1000
COLUMNS = ("body", "kind", "case_id", "prev", "hash")


@pytest.fixture(scope="module")
def tampered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Ledger, sqlite3.Connection]]:
    """A 1,000-entry SQLite ledger with 5 checkpoints, and a raw connection with the triggers dropped."""
    folder = tmp_path_factory.mktemp("tamper")
    ledger = Ledger.open(
        f"sqlite:///{folder / 'ledger.sqlite'}", key_path=folder / "key.pem", checkpoint_every=200
    )
    events = []
    for case in range(SIZE // 4):
        events.extend(_case(f"case-{case}", "F" if case % 2 else "M"))
    for start in range(0, SIZE, 100):
        ledger.append(events[start : start + 100])
    report = ledger.verify(require_sealed=True, public_keys=ledger.pinned_keys())
    assert report.ok and report.entries == SIZE and report.checkpoints == 5
    raw = sqlite3.connect(folder / "ledger.sqlite", isolation_level=None)
    raw.execute("PRAGMA synchronous=OFF")
    for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        raw.execute(f"DROP TRIGGER {name}")
    yield ledger, raw
    raw.close()
    ledger.close()


def _case(case: str, sex: str) -> list[Any]:
    from misflag.ledger import Event

    common: dict[str, Any] = {"case_id": case, "groups": {"sex": sex}}
    return [
        Event(
            kind="flagged",
            actor="system",
            role="recorder",
            payload={"rule_id": "r", "rule_version": "1", "input_digest": "d", "score": 0.5},
            **common,
        ),
        Event(
            kind="reviewed",
            actor="rev",
            role="reviewer",
            payload={"outcome": "confirmed", "reason_code": "x"},
            **common,
        ),
        Event(kind="notice_sent", actor="system", role="recorder", payload={"channel": "mail"}, **common),
        Event(kind="action", actor="system", role="recorder", payload={"action": "hold"}, **common),
    ]


def _row(raw: sqlite3.Connection, seq: int) -> tuple[Any, ...]:
    row: tuple[Any, ...] = raw.execute(
        "SELECT seq, prev, hash, kind, case_id, body FROM ledger_entries WHERE seq = ?", (seq,)
    ).fetchone()
    return row


def _transaction(raw: sqlite3.Connection, *statements: tuple[str, tuple[Any, ...]]) -> None:
    raw.execute("BEGIN")
    for sql, params in statements:
        raw.execute(sql, params)
    raw.execute("COMMIT")


def edit(raw: sqlite3.Connection, i: int) -> Callable[[], None]:
    """Change one column of entry i (the column rotates over positions)."""
    column = COLUMNS[i % len(COLUMNS)]
    old = _row(raw, i)[("seq", "prev", "hash", "kind", "case_id", "body").index(column)]
    if column in ("prev", "hash"):
        new: Any = bytes([old[0] ^ 1]) + old[1:]
    else:
        new = {
            "body": old.replace('"rev"', '"someone-else"').replace('"system"', '"sys"'),
            "kind": "corrected",
            "case_id": f"{old}-x",
        }[column]
    assert new != old
    _transaction(raw, (f"UPDATE ledger_entries SET {column} = ? WHERE seq = ?", (new, i)))
    return lambda: _transaction(raw, (f"UPDATE ledger_entries SET {column} = ? WHERE seq = ?", (old, i)))


def delete(raw: sqlite3.Connection, i: int) -> Callable[[], None]:
    row = _row(raw, i)
    _transaction(raw, ("DELETE FROM ledger_entries WHERE seq = ?", (i,)))
    return lambda: _transaction(
        raw,
        ("INSERT INTO ledger_entries (seq, prev, hash, kind, case_id, body) VALUES (?, ?, ?, ?, ?, ?)", row),
    )


def reorder(raw: sqlite3.Connection, i: int) -> Callable[[], None]:
    """Swap entry i with its neighbour (the next one; the previous one for the last entry)."""
    j = i + 1 if i + 1 < SIZE else i - 1
    swap = (
        ("UPDATE ledger_entries SET seq = -1 WHERE seq = ?", (i,)),
        ("UPDATE ledger_entries SET seq = ? WHERE seq = ?", (i, j)),
        ("UPDATE ledger_entries SET seq = ? WHERE seq = -1", (j,)),
    )
    _transaction(raw, *swap)
    return lambda: _transaction(raw, *swap)


def insert(raw: sqlite3.Connection, i: int) -> Callable[[], None]:
    """Insert a well-formed forged entry before entry i, renumbering the entries after it."""
    prev = GENESIS if i == 0 else bytes(_row(raw, i - 1)[2])
    body = '{"actor":"intruder","groups":{},"payload":{"action":"hold"},"role":"recorder","ts":"2020-01-01T00:00:00Z"}'
    forged = (i, prev, entry_hash(prev, i, "action", "case-0", body), "action", "case-0", body)
    _transaction(
        raw,
        ("UPDATE ledger_entries SET seq = seq + 1000000 WHERE seq >= ?", (i,)),
        ("UPDATE ledger_entries SET seq = seq - 999999 WHERE seq >= 1000000", ()),
        (
            "INSERT INTO ledger_entries (seq, prev, hash, kind, case_id, body) VALUES (?, ?, ?, ?, ?, ?)",
            forged,
        ),
    )
    return lambda: _transaction(
        raw,
        ("DELETE FROM ledger_entries WHERE seq = ?", (i,)),
        ("UPDATE ledger_entries SET seq = seq + 999999 WHERE seq > ?", (i,)),
        ("UPDATE ledger_entries SET seq = seq - 1000000 WHERE seq >= 1000000", ()),
    )


@pytest.mark.slow
@pytest.mark.parametrize("mutation", [edit, delete, reorder, insert], ids=lambda f: f.__name__)
def test_ledger_tamper_detected_at_every_position(
    tampered: tuple[Ledger, sqlite3.Connection],
    mutation: Callable[[sqlite3.Connection, int], Callable[[], None]],
) -> None:
    ledger, raw = tampered
    pinned = ledger.pinned_keys()  # the key a verifier was told, taken before any tampering
    missed = []
    for position in range(SIZE):
        undo = mutation(raw, position)
        # the dropped triggers accepted: each mutation must be found by the rows alone
        if ledger.verify(public_keys=pinned, allow_unprotected=True).consistent:
            missed.append(position)
        undo()
    assert missed == [], f"{mutation.__name__} went undetected at positions {missed[:20]}"
    restored = ledger.verify(require_sealed=True, public_keys=pinned, allow_unprotected=True)
    assert restored.ok, "undoing every mutation restores a valid ledger"
    assert len(restored.protection) == 15, "every dropped trigger is still named"
    assert "trigger ledger_entries_no_update is missing" in (ledger.verify(public_keys=pinned).problem or "")


def test_ledger_forged_append_after_last_checkpoint_is_unsealed(tmp_path: Path, make_case: Any) -> None:
    """A forger with write access to the file can add a well-formed entry at the end; it is reported as
    not covered by any signed checkpoint, `require_sealed` fails, and once it is older than the automatic
    checkpoint bound (2 x 1 s here, wide enough for a loaded machine) default `verify` fails too."""
    ledger = Ledger.open(
        f"sqlite:///{tmp_path / 'l.sqlite'}", key_path=tmp_path / "k.pem", checkpoint_seconds=1.0
    )
    ledger.append(make_case("c1"))
    ledger.checkpoint()
    raw = sqlite3.connect(tmp_path / "l.sqlite", isolation_level=None)
    prev = bytes(raw.execute("SELECT hash FROM ledger_entries WHERE seq = 3").fetchone()[0])
    body = json.dumps(
        {"actor": "x", "groups": {}, "payload": {"action": "hold"}, "role": "recorder", "ts": now()},
        sort_keys=True,
        separators=(",", ":"),
    )
    raw.execute(
        "INSERT INTO ledger_entries (seq, prev, hash, kind, case_id, body) VALUES (?, ?, ?, ?, ?, ?)",
        (4, prev, entry_hash(prev, 4, "action", "c1", body), "action", "c1", body),
    )
    raw.close()
    report = ledger.verify(public_keys=ledger.pinned_keys())
    assert report.ok and report.unsealed == 1 and report.sealed == 4
    assert "after the last signed checkpoint" in (ledger.verify(require_sealed=True).problem or "")
    for write in (ledger.checkpoint, lambda: ledger.append(make_case("c2"))):  # never sealed, never built on
        with pytest.raises(LedgerTampered, match=r"entry 4 .* no valid writer proof"):
            write()
    time.sleep(2.2)
    assert "beyond the automatic checkpoint bound" in (ledger.verify().problem or "")


def test_ledger_checkpoint_tampering_detected(tmp_path: Path, make_case: Any) -> None:
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'l.sqlite'}", key_path=tmp_path / "k.pem")
    ledger.append(make_case("c1"))
    ledger.checkpoint()
    raw = sqlite3.connect(tmp_path / "l.sqlite", isolation_level=None)
    raw.execute("DROP TRIGGER ledger_checkpoints_no_update")
    raw.execute("UPDATE ledger_checkpoints SET ts = '2000-01-01T00:00:00Z'")
    assert "invalid signature" in (ledger.verify().problem or "")
    stranger = {"k": bytes(32)}
    raw.close()
    assert "which is not trusted" in (ledger.verify(public_keys=stranger).problem or "")


@pytest.mark.parametrize(
    "table",
    ["ledger_entries", "ledger_checkpoints", "ledger_keys", "ledger_tokens", "ledger_token_revocations"],
)
def test_ledger_store_refuses_update_and_delete(ledger: Ledger, make_case: Any, table: str) -> None:
    ledger.append(make_case("c1"))
    ledger.checkpoint()
    from misflag.ledger import create_token, revoke_token, token_id

    create_token(ledger, "a", "auditor", actor="root")
    revoke_token(ledger, token_id(create_token(ledger, "b", "auditor", actor="root")), actor="root")
    column = {
        "ledger_entries": "kind",
        "ledger_checkpoints": "ts",
        "ledger_keys": "ts",
        "ledger_tokens": "role",
        "ledger_token_revocations": "actor",
    }[table]
    for statement in (f"UPDATE {table} SET {column} = 'x'", f"DELETE FROM {table}"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), ledger.engine.begin() as connection:
            connection.exec_driver_sql(statement)
    assert ledger.verify(public_keys=ledger.pinned_keys()).ok


@pytest.mark.postgresql
def test_ledger_postgresql_edit_with_triggers_disabled_is_detected(pg_ledger: Ledger, make_case: Any) -> None:
    ledger = pg_ledger
    ledger.append(make_case("c1") + make_case("c2"))
    ledger.checkpoint()
    with ledger.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE ledger_entries DISABLE TRIGGER USER")
        connection.exec_driver_sql("UPDATE ledger_entries SET case_id = 'c9' WHERE seq = 5")
    assert "entry 5" in (ledger.verify().problem or "")


def test_automatic_checkpoints_bound_the_tail_by_count_and_by_age(ledger: Ledger, make_case: Any) -> None:
    """A tail reaching `checkpoint_every` entries is sealed in the appending transaction; a tail older than
    `checkpoint_seconds` is sealed by the next append, and by the server's sealer when it starts."""
    ledger.checkpoint_every, ledger.checkpoint_seconds = 6, 0.2
    ledger.append(make_case("c1"))
    assert (ledger.unsealed(), ledger.verify().sealed) == (4, 0)
    ledger.append(make_case("c2"))  # 8 entries: tail of 8 >= 6, sealed at once
    assert ledger.unsealed() == 0
    ledger.append(make_case("c3")[:1])
    time.sleep(0.3)
    ledger.append(make_case("c4")[:1])  # the tail's first entry is now older than 0.2 s
    assert ledger.unsealed() == 0
    ledger.append(make_case("c5")[:1])
    assert ledger.unsealed() == 1
    ledger.start_sealer()
    assert ledger.unsealed() == 0
    report = ledger.verify(public_keys=ledger.pinned_keys())
    assert (
        report.ok and report.checkpoints == len(ledger.checkpoints()) and report.heads == report.checkpoints
    )


def test_a_store_error_on_the_append_path_is_one_line(ledger: Ledger, make_case: Any) -> None:
    """The append path's queries go through the DBAPI cursor (benchmarks/ledger.py); a database error there
    still reaches the caller as one LedgerUnavailable line naming the store, never a driver traceback."""
    ledger.append(make_case("c1"))
    engine = sa.create_engine(ledger.url)
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE ledger_entries RENAME TO ledger_entries_moved")
    engine.dispose()
    with pytest.raises(LedgerUnavailable) as raised:
        ledger.append(make_case("c2"))
    message = str(raised.value)
    assert message.startswith(f"cannot write to the ledger at {ledger.safe_url}: ")
    assert "ledger_entries" in message and "\n" not in message
