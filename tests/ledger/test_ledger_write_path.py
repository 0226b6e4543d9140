"""The append path's shortcuts, checked against independent computations and played against: each event's
canonical JSON is computed once (it must still be json.dumps's canonical form of the whole body), the
writer proof is HMAC-SHA256 (checked with `hmac.new`), one append is one transaction, and the sealer
skips re-proving only rows whose stored hash is the one this process computed."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import sqlalchemy as sa

from misflag.ledger import Event, Ledger, LedgerUnavailable
from misflag.ledger._verify import check_chain
from misflag.ledger._writer import LedgerTampered, load_or_create_writer_key, prover

TS = "2026-12-06T22:00:00.123456Z"


def dumps(value: Any) -> str:
    """The canonical form the ledger documents, computed by json.dumps itself."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@pytest.mark.parametrize(
    "payload, groups, actor_id",
    [
        ({"rule_id": "r", "rule_version": "1", "input_digest": "d"}, {}, None),
        (
            {
                "rule_id": "名前-一致",
                "rule_version": "3.1",
                "input_digest": "sha256:ab",
                "score": 0.1 + 0.2,
                "nested": {"z": [1, 2.5, None, True, {"b": '"quoted" \\ \u00e9', "a": -0.0}], "a": 2**53},
                "ts": "a payload field named ts is not the body's ts",
            },
            {"sex": "F", "region": "Åland"},
            "0123456789abcdef",
        ),
        (MappingProxyType({"rule_id": "r", "rule_version": "1", "input_digest": "d"}), {"z": "1"}, "ab"),
    ],
)
def test_stored_body_is_the_canonical_json_of_the_whole_event(
    payload: Any, groups: dict[str, str], actor_id: str | None
) -> None:
    event = Event("flagged", "case-1", "screening", "recorder", payload, groups, actor_id)
    unstamped = event.validate()
    whole = {
        "actor": "screening",
        "groups": dict(groups),
        "payload": dict(payload),
        "role": "recorder",
        "ts": TS,
    }
    if actor_id:
        whole["actor_id"] = actor_id
    assert event.body(TS) == dumps(whole)
    assert json.loads(unstamped) == {key: value for key, value in whole.items() if key != "ts"}


def test_append_stores_canonical_bodies_hashed_as_documented(ledger: Ledger) -> None:
    payload = {"rule_id": "règle", "rule_version": "1", "input_digest": "d", "score": 1e-7}
    receipts = ledger.append([Event("flagged", f"c{i}", "screening", "recorder", payload) for i in range(3)])
    with ledger.engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT seq, prev, hash, kind, case_id, body FROM ledger_entries WHERE seq >= :s ORDER BY seq"
            ),
            {"s": receipts[0]["seq"]},
        ).fetchall()
    assert len(rows) == 3
    for (seq, prev, digest, kind, case_id, body), receipt in zip(rows, receipts, strict=True):
        assert body == dumps(json.loads(body))
        assert json.loads(body)["payload"] == payload and json.loads(body)["ts"] == receipt["ts"]
        record = f"{seq}\x1f{kind}\x1f'{case_id}'\x1f{body}".encode()
        assert bytes(digest) == hashlib.sha256(b"\x00" + bytes(prev) + record).digest()
        assert receipt["hash"] == bytes(digest).hex()


def test_writer_proof_is_hmac_sha256_of_the_entry_hash(ledger: Ledger) -> None:
    """`prover` builds HMAC from copied SHA-256 states (RFC 2104): it must be `hmac`'s, for keys shorter
    than, as long as and longer than SHA-256's 64-byte block (hashed first), and any message; and it must
    keep no state between messages."""
    for key_length in (0, 1, 32, 63, 64, 65, 100, 300):
        key = secrets.token_bytes(key_length)
        prove = prover(key)
        for message_length in (0, 1, 32, 64, 1000, 32):
            message = secrets.token_bytes(message_length)
            assert prove(message) == hmac.new(key, message, hashlib.sha256).digest()
            assert prove(message) == hmac.digest(key, message, "sha256")
    ledger.append(
        [Event("flagged", "m1", "s", "recorder", {"rule_id": "r", "rule_version": "1", "input_digest": "d"})]
    )
    key = load_or_create_writer_key(ledger.writer_key_path)
    with ledger.engine.connect() as connection:
        digest, mac = connection.exec_driver_sql(
            "SELECT hash, mac FROM ledger_entries WHERE case_id = 'm1'"
        ).one()
    assert bytes(mac) == hmac.new(key, bytes(digest), hashlib.sha256).digest()


def test_one_append_is_one_transaction_and_one_commit(ledger: Ledger) -> None:
    """Counted where the store sees them: SQLite's own statement trace of the write connection (the
    ledger begins and commits on the DBAPI connection there), SQLAlchemy's events on PostgreSQL."""
    begins: list[object] = []
    commits: list[object] = []
    if ledger.postgres:
        sa.event.listen(ledger.engine, "begin", begins.append)
        sa.event.listen(ledger.engine, "commit", commits.append)
    statements: list[str] = []
    if not ledger.postgres:
        raw: Any = ledger._writer_connection().connection.dbapi_connection
        raw.set_trace_callback(statements.append)
    flag = {"rule_id": "r", "rule_version": "1", "input_digest": "d"}
    ledger.append([Event("flagged", "one", "s", "recorder", flag)])
    ledger.append([Event("flagged", f"b{i}", "s", "recorder", flag) for i in range(50)])
    if not ledger.postgres:
        begins = [sql for sql in statements if sql.startswith("BEGIN")]
        commits = [sql for sql in statements if sql == "COMMIT"]
        assert begins == ["BEGIN IMMEDIATE"] * 2 and not [sql for sql in statements if "ROLLBACK" in sql]
    assert (len(begins), len(commits)) == (2, 2)


def _flag(case: str) -> Event:
    return Event(
        "flagged", case, "screening", "recorder", {"rule_id": "r", "rule_version": "1", "input_digest": "d"}
    )


def test_sealer_checks_rows_other_writers_wrote_in_between(store_url: str, tmp_path: Path) -> None:
    """Two services on one store (one key): each seals rows the other wrote, after checking their proofs."""
    key = tmp_path / "k.pem"
    first = Ledger.open(store_url, key_path=key, owner="allow")
    first.checkpoint()
    second = Ledger.open(store_url, key_path=key, owner="allow")
    first.append([_flag("a1"), _flag("a2")])
    second.append([_flag("b1")])
    first.append([_flag("a3")])
    assert first.checkpoint()["tree_size"] == 4
    second.append([_flag("b2")])
    assert second.checkpoint()["tree_size"] == 5
    assert first.verify(require_sealed=True, public_keys=first.pinned_keys()).ok
    first.close()
    second.close()


def test_sealer_refuses_an_own_row_whose_stored_hash_was_replaced(
    target: Any, owner: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A row this process wrote, rewritten and re-hashed (with the old proof) before the seal: its hash is
    no longer the one computed here, so the sealer checks it in full and refuses."""
    ledger = target.seed()
    (receipt,) = ledger.append([target.flag("victim")])
    forger = owner(target.owner_url)
    (body,) = forger.run("SELECT body FROM ledger_entries WHERE seq = :s", s=receipt["seq"])[0]
    forged = body.replace('"screening"', '"someone-else"')
    forger.run("UPDATE ledger_entries SET body = :b WHERE seq = :s", b=forged, s=receipt["seq"])
    forger.rechain(receipt["seq"])
    with pytest.raises(LedgerTampered, match=f"refusing to seal: entry {receipt['seq']} .*writer proof"):
        ledger.checkpoint()
    ledger.close()
    forger.engine.dispose()


def test_own_row_edited_under_its_hash_before_the_seal_fails_verify(
    target: Any, owner: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The sealer signs the hash this process computed, not the row as it is now: a body edited under its
    stored hash before the seal is sealed as it was written, and the default verify names the edit."""
    ledger = target.seed()
    (receipt,) = ledger.append([target.flag("victim")])
    forger = owner(target.owner_url)
    (body,) = forger.run("SELECT body FROM ledger_entries WHERE seq = :s", s=receipt["seq"])[0]
    forger.run(
        "UPDATE ledger_entries SET body = :b WHERE seq = :s",
        b=body.replace('"screening"', '"someone-else"'),
        s=receipt["seq"],
    )
    ledger.checkpoint()
    ledger.close()
    forger.engine.dispose()
    capsys.readouterr()
    assert target.verify_exit() == 2
    err = capsys.readouterr().err
    assert f"entry {receipt['seq']}: content does not match its hash (edited)" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "body, future",
    [
        ('{"actor":"a","payload":{},"role":"r","ts":"2099-01-01T00:00:00.000000Z"}', True),
        (
            '{"actor":"a","payload":{"ts":"2099-01-01T00:00:00.000000Z"},"role":"r","ts":"2020-01-01T00:00:00.000000Z"}',
            False,
        ),
        ('{"ts": "2099-01-01T00:00:00.000000Z", "actor": "a"}', True),  # not canonical: parsed
        ('{"actor":"a","ts":"2099-01-01T00:00:00+00:00"}', True),  # another spelling of the time: parsed
        ('{"actor":"a","ts":"2020-01-01T00:00:00.000000Z"}', False),
        ('{"actor":"a"}', True),  # no readable time: not trusted to be in the past
    ],
)
def test_verify_reads_each_entrys_own_timestamp(body: str, future: bool) -> None:
    """The chain walk's timestamp check against the verifier's clock, on bodies hashed by hand."""
    digest = hashlib.sha256(b"\x00" + bytes(32) + f"0\x1fflagged\x1f'c'\x1f{body}".encode()).digest()
    not_after = datetime(2026, 12, 6, tzinfo=UTC)
    problem = check_chain([(0, bytes(32), digest, "flagged", "c", body)], not_after)[2]
    assert (problem is not None and "in the future" in problem) == future
    assert check_chain([(0, bytes(32), digest, "flagged", "c", body)], None)[2] is None


def test_sqlalchemy_statements_join_the_write_transaction_and_roll_back_with_it(ledger: Ledger) -> None:
    """On SQLite the store begins and commits on the DBAPI connection; a statement run through SQLAlchemy
    inside (as token creation does) joins that transaction: an error after both rolls both back, and
    the next write starts clean. Counted with independent connections."""

    def counts() -> tuple[int, int]:
        with ledger.engine.connect() as connection:
            entries = connection.exec_driver_sql("SELECT count(*) FROM ledger_entries").scalar_one()
            tokens = connection.exec_driver_sql("SELECT count(*) FROM ledger_tokens").scalar_one()
        return entries, tokens

    before = counts()
    with pytest.raises(RuntimeError, match="after both"), ledger._write() as connection:
        connection.execute(
            sa.text("INSERT INTO ledger_tokens VALUES ('h', 'n', 'admin', '2026-01-01T00:00:00Z')")
        )
        ledger._insert(connection, [_flag("rolled-back")])
        raise RuntimeError("after both")
    assert counts() == before
    ledger.append([_flag("after")])
    with ledger._write() as connection:  # both committed together this time
        connection.execute(
            sa.text("INSERT INTO ledger_tokens VALUES ('h2', 'n2', 'admin', '2026-01-01T00:00:00Z')")
        )
        ledger._insert(connection, [_flag("kept")])
    assert counts() == (before[0] + 2, before[1] + 1)


def test_a_locked_sqlite_store_is_one_line_and_the_next_write_recovers(tmp_path: Path) -> None:
    """BEGIN IMMEDIATE on the DBAPI connection meets another process's write lock: the append fails in
    one line (LedgerUnavailable, nothing written), and once the lock is gone the next one succeeds."""
    path = tmp_path / "ledger.sqlite"
    ledger = Ledger.open(f"sqlite:///{path}", key_path=tmp_path / "k.pem")
    ledger.checkpoint()
    raw: Any = ledger._writer_connection().connection.dbapi_connection
    raw.execute("PRAGMA busy_timeout=50")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(LedgerUnavailable, match=r"^cannot write to the ledger at .*: database is locked$"):
        ledger.append([_flag("locked")])
    other.execute("ROLLBACK")
    other.close()
    (receipt,) = ledger.append([_flag("unlocked")])
    assert receipt["seq"] == 0 and ledger.verify(public_keys=ledger.pinned_keys()).ok
    ledger.close()


@pytest.mark.parametrize(
    "reshape",
    [
        lambda root, subtrees: [[0, root.hex()]],  # one node, the root: folds to the root
        lambda root, subtrees: [[h + 1, v] for h, v in subtrees],  # heights of another size
        lambda root, subtrees: [[1, subtrees[0][1]], [2, subtrees[1][1]]],  # lowest first: sums to 6
        lambda root, subtrees: [[2, subtrees[0][1]], [2, subtrees[1][1]]],  # one height twice
        lambda root, subtrees: [[2, subtrees[0][1]], [1, subtrees[1][1]], [-1, root.hex()]],
        lambda root, subtrees: [[2, subtrees[0][1]], [1, subtrees[1][1][:62]]],  # a short hash
    ],
)
def test_a_checkpoint_frontier_that_does_not_fit_its_size_is_refused(
    target: Any, owner: Any, reshape: Any
) -> None:
    """The owner rewrites the last checkpoint row's frontier (the sealer's starting point) into one that
    still folds to the signed root but is not the subtrees of a 6-leaf tree (heights 2 and 1, highest
    first): a new service refuses to seal from it (an alarm), rather than extend it into roots of
    another tree."""
    target.seed().close()  # 6 entries, sealed
    forger = owner(target.owner_url)
    root, stored = forger.run("SELECT root, frontier FROM ledger_checkpoints WHERE tree_size = 6")[0]
    subtrees = json.loads(stored)
    assert [height for height, _ in subtrees] == [2, 1]
    forged = json.dumps(reshape(bytes(root), subtrees))
    forger.run("UPDATE ledger_checkpoints SET frontier = :f WHERE tree_size = 6", f=forged)
    forger.engine.dispose()
    ledger = target.open()
    ledger.append([target.flag("after")])
    with pytest.raises(
        LedgerTampered, match=r"^refusing to seal: the checkpoint row at 6 entries is malformed"
    ):
        ledger.checkpoint()
    ledger.close()
