"""A replayed entry and a planted correction, played on SQLite and on PostgreSQL (the service's
INSERT-only writer role).

The attacker copies a sealed entry whole, its writer proof included, and appends it at the head of the
chain with the chain's hash recomputed (anyone can: the hash is not keyed): the same flag recorded twice.
The writer proof is an HMAC of the entry's hash, which covers its number and the entry before it, so the
copied proof does not fit the new place: the next seal raises the alarm naming the entry, so it stays
outside every signed checkpoint and `misflag ledger verify --require-sealed` fails in one line (a plain
`verify` only once the unsealed tail passes its bound, as docs/ledger.md says). The control replays the
same entry with a proof made for its new place by the writer key (what only the service, or whoever
holds its key folder, can do): the store takes and seals it, so the proof is what stops the copy.

What the attack found (docs/ledger.md, threat model): the decision log (`decision_log`, `misflag ledger
export`, `misflag monitor --ledger`) reads every case row as stored, proof or not. The replayed flag moves
its case's `last_seq`, and a `corrected` row planted without a proof flips the case's exported `truth`
(1 to 0), which the monitor and a decision audit of the export count, until someone runs `verify`. The
strict xfail below turns into a failure the day the decision log vouches for its rows.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import sqlalchemy as sa

from misflag.ledger import Event, decision_log
from misflag.ledger._engine import now
from misflag.ledger._verify import entry_hash
from misflag.ledger._writer import LedgerTampered, entry_mac, load_or_create_writer_key, writer_key_path


def _replay(target: Any, seq: int, proved: bool = False) -> int:
    """As the INSERT-only writer: append entry `seq` again (kind, case, body and writer proof copied) at
    the head of the chain, linked and hashed as the store does; `proved`: with a proof made for the new
    place with the writer key instead. Returns the new entry's number."""
    engine = sa.create_engine(target.url)
    with engine.begin() as connection:
        kind, case_id, body, mac = connection.execute(
            sa.text("SELECT kind, case_id, body, mac FROM ledger_entries WHERE seq = :s"), {"s": seq}
        ).one()
        head, prev = connection.exec_driver_sql(
            "SELECT seq, hash FROM ledger_entries ORDER BY seq DESC LIMIT 1"
        ).one()
        digest = entry_hash(bytes(prev), head + 1, kind, case_id, body)
        if proved:
            mac = entry_mac(load_or_create_writer_key(writer_key_path(target.key)), digest)
        connection.execute(
            sa.text(
                "INSERT INTO ledger_entries (seq, prev, hash, kind, case_id, body, mac) "
                "VALUES (:s, :p, :h, :k, :c, :b, :m)"
            ),
            {"s": head + 1, "p": bytes(prev), "h": digest, "k": kind, "c": case_id, "b": body, "m": mac},
        )
    engine.dispose()
    return int(head) + 1


def _flag_of(target: Any, case: str) -> int:
    engine = sa.create_engine(target.url)
    with engine.begin() as connection:
        found: int = connection.execute(
            sa.text("SELECT seq FROM ledger_entries WHERE case_id = :c AND kind = 'flagged'"), {"c": case}
        ).scalar_one()
    engine.dispose()
    return found


def test_a_replayed_entry_with_its_proof_is_refused_at_the_next_seal_and_by_verify(
    target: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = target.seed()
    seq = _replay(target, _flag_of(target, "c1"))
    named = f"entry {seq} ('flagged') carries no valid writer proof"
    with pytest.raises(LedgerTampered, match=re.escape(named)):
        ledger.checkpoint()
    capsys.readouterr()
    assert target.verify_exit("--require-sealed") == 2
    error = capsys.readouterr().err.strip()  # the seal refused it, so it stays outside every checkpoint
    assert error == "error: ledger verification FAILED: 1 entry is after the last signed checkpoint"
    ledger.close()


def test_control_a_replay_proved_with_the_writer_key_is_taken(target: Any) -> None:
    ledger = target.seed()
    _replay(target, _flag_of(target, "c1"), proved=True)
    ledger.checkpoint()  # no alarm: the store cannot tell it from the service writing the flag again
    assert target.verify_exit("--require-sealed") == 0
    ledger.close()


@pytest.mark.xfail(strict=True, reason="docs/ledger.md: the decision log reads planted case rows as stored")
def test_the_decision_log_never_counts_a_planted_correction(target: Any) -> None:
    """A `corrected` row (the flag was wrong) planted without a writer proof must not change the case's
    exported truth; it flips it from 1 to 0 (and the replayed flag moves `last_seq`)."""
    ledger = target.seed()
    ledger.append(
        [target.flag("c9"), Event("corrected", "c9", "clerk", "reviewer", {"flag_was_wrong": False})]
    )
    before = {row["case_id"]: row for row in decision_log(ledger).to_pylist()}
    assert before["c9"]["truth"] == 1
    engine = sa.create_engine(target.url)
    with engine.begin() as connection:
        head, prev = connection.exec_driver_sql(
            "SELECT seq, hash FROM ledger_entries ORDER BY seq DESC LIMIT 1"
        ).one()
        body = json.dumps(
            {
                "actor": "clerk",
                "groups": {},
                "payload": {"flag_was_wrong": True},
                "role": "reviewer",
                "ts": now(),
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        digest = entry_hash(bytes(prev), head + 1, "corrected", "c9", body)
        connection.execute(
            sa.text(
                "INSERT INTO ledger_entries (seq, prev, hash, kind, case_id, body) VALUES (:s, :p, :h, :k, :c, :b)"
            ),
            {"s": head + 1, "p": bytes(prev), "h": digest, "k": "corrected", "c": "c9", "b": body},
        )
    engine.dispose()
    after = {row["case_id"]: row for row in decision_log(ledger).to_pylist()}
    ledger.close()
    assert after["c9"]["truth"] == 1
