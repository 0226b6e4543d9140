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

What the attack found, and what now stops it (docs/ledger.md, "The decision log vouches for its rows"): the
decision log (`decision_log`, `misflag ledger export`, `misflag monitor --ledger`) used to fold every case
row as stored, so a replayed flag moved its case's `last_seq` and a `corrected` row planted without a proof
flipped the case's exported `truth` (1 to 0). It now verifies the chain against the pinned keys and folds an
entry after the last checkpoint only when its writer proof checks: either plant refuses the export naming
the entry, while the same rows proved with the writer key are exported; sealed entries need no secret, and
unsealed case entries without the writer key refuse the export saying how many.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from misflag.cli import main
from misflag.errors import LedgerError
from misflag.ledger import Event, Ledger, decision_log
from misflag.ledger._keys import key_id, load_or_create, public_bytes
from misflag.ledger._writer import LedgerTampered, writer_key_path
from tests.ledger._plant import entry_body, plant


def _replay(target: Any, seq: int, proved: bool = False) -> int:
    """As the INSERT-only writer: append entry `seq` again (kind, case, body and writer proof copied) at
    the head of the chain; `proved`: with a proof made for the new place with the writer key instead.
    Returns the new entry's number."""
    engine = sa.create_engine(target.url)
    with engine.begin() as connection:
        kind, case_id, body, mac = connection.execute(
            sa.text("SELECT kind, case_id, body, mac FROM ledger_entries WHERE seq = :s"), {"s": seq}
        ).one()
    engine.dispose()
    return plant(
        target.url, kind, case_id, body, mac=mac, writer_key=writer_key_path(target.key) if proved else None
    )


def _correction(target: Any, case: str, proved: bool) -> int:
    """As the INSERT-only writer: a `corrected` row saying the flag on `case` was wrong."""
    text = entry_body({"flag_was_wrong": True}, actor="clerk", role="reviewer")
    return plant(
        target.url, "corrected", case, text, writer_key=writer_key_path(target.key) if proved else None
    )


def _cases(ledger: Ledger) -> dict[str, dict[str, Any]]:
    return {row["case_id"]: row for row in decision_log(ledger).to_pylist()}


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
        decision_log(ledger)  # the copy never reaches the export (c1's last_seq stays its flag's)
    with pytest.raises(LedgerTampered, match=re.escape(named)):
        ledger.checkpoint()
    capsys.readouterr()
    assert target.verify_exit("--require-sealed") == 2
    error = capsys.readouterr().err.strip()  # the seal refused it, so it stays outside every checkpoint
    assert error == "error: ledger verification FAILED: 1 entry is after the last signed checkpoint"
    ledger.close()


def test_control_a_replay_proved_with_the_writer_key_is_taken(target: Any) -> None:
    ledger = target.seed()
    flag = _flag_of(target, "c1")
    seq = _replay(target, flag, proved=True)
    assert (_cases(ledger)["c1"]["first_seq"], _cases(ledger)["c1"]["last_seq"]) == (flag, seq)  # unsealed
    ledger.checkpoint()  # no alarm: the store cannot tell it from the service writing the flag again
    assert target.verify_exit("--require-sealed") == 0
    ledger.close()


def test_the_decision_log_refuses_a_planted_correction_naming_it(
    target: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `corrected` row (the flag was wrong) planted without a writer proof would flip the case's truth
    from 1 to 0: the log and `misflag ledger export` refuse, in one line naming the entry, writing nothing."""
    ledger = target.seed()
    ledger.append(
        [target.flag("c9"), Event("corrected", "c9", "clerk", "reviewer", {"flag_was_wrong": False})]
    )
    assert _cases(ledger)["c9"]["truth"] == 1  # flagged, and the flag was right
    seq = _correction(target, "c9", proved=False)
    named = f"refusing to export the decision log: entry {seq} ('corrected') carries no valid writer proof"
    with pytest.raises(LedgerTampered, match=re.escape(named)):
        decision_log(ledger)
    capsys.readouterr()
    out = tmp_path / "log.csv"
    assert main(["ledger", "export", str(out), "--db", target.url, "--key", str(target.key)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: {named}: it was inserted around the service") and "\n" not in error
    assert not out.exists()
    ledger.close()


def test_control_a_correction_proved_with_the_writer_key_is_exported(target: Any) -> None:
    """The same row with a proof made by the writer key is the service's own: it is folded, and the
    latest correction says the flag was wrong, so the truth is 1 - flagged = 0."""
    ledger = target.seed()
    ledger.append(
        [target.flag("c9"), Event("corrected", "c9", "clerk", "reviewer", {"flag_was_wrong": False})]
    )
    seq = _correction(target, "c9", proved=True)
    case = _cases(ledger)["c9"]
    assert (case["flagged"], case["corrected"], case["truth"], case["last_seq"]) == (1, 1, 0, seq)
    ledger.close()


def test_sealed_entries_need_no_secret_and_unsealed_ones_without_the_writer_key_are_refused(
    target: Any, tmp_path: Path
) -> None:
    """A reader holding only the pinned public key (no signing key, no writer key) gets every sealed case;
    once a case entry follows the last checkpoint, it is refused in one line saying how many and why. A
    reader pinning another key is refused: the checkpoints are not signed by a key it trusts."""
    ledger = target.seed()
    _correction(target, "c2", proved=True)
    ledger.checkpoint()
    public = public_bytes(load_or_create(target.key))
    bare = tmp_path / "elsewhere" / "signing-key.pem"  # a folder holding no key
    reader = Ledger.open(target.url, key_path=bare, trusted={target.fingerprint: public}, create=False)
    cases = _cases(reader)
    assert sorted(cases) == [f"c{i}" for i in range(6)]
    assert [cases[f"c{i}"]["truth"] for i in range(6)] == [None, None, 0, None, None, None]
    assert not bare.parent.exists()  # nothing was made where the keys are not
    ledger.append([target.flag("c7"), target.flag("c8")])
    unsealed = (
        "refusing to export the decision log: 2 case entries after the last signed checkpoint cannot be "
        f"vouched for without the writer key {str(writer_key_path(bare))!r}"
    )
    with pytest.raises(LedgerError, match=re.escape(unsealed)):
        decision_log(reader)
    reader.close()
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    stranger = Ledger.open(target.url, key_path=bare, trusted={key_id(other): other}, create=False)
    distrusted = f"signed by key '{target.fingerprint}', which is not trusted"
    with pytest.raises(LedgerTampered, match=re.escape(distrusted)):
        decision_log(stranger)
    stranger.close()
    ledger.close()


def test_the_decision_log_refuses_a_sealed_entry_the_owner_rewrote(target: Any, owner: Any) -> None:
    """The file or table owner edits a sealed flag (its rule id) around the store: the chain walk finds
    the entry no longer matches its hash, and the log refuses naming it; rechained, the signed root no
    longer matches. Nothing of the edit is exported either way."""
    ledger = target.seed()
    flag = _flag_of(target, "c1")
    powers = owner(target.owner_url)
    body = powers.run("SELECT body FROM ledger_entries WHERE seq = :s", s=flag)[0][0]
    powers.run(
        "UPDATE ledger_entries SET body = :b WHERE seq = :s", b=body.replace("name-match", "x"), s=flag
    )
    edited = f"the ledger failed verification: entry {flag}: content does not match its hash (edited)"
    with pytest.raises(LedgerTampered, match=re.escape(edited)):
        decision_log(ledger)
    powers.rechain(flag)
    # the seed's six flags (entries 0-5) are sealed by one checkpoint at 6 entries, which covers the edit
    rechained = "the ledger failed verification: checkpoint at 6 entries: root does not match the entries"
    with pytest.raises(LedgerTampered, match=re.escape(rechained)):
        decision_log(ledger)
    ledger.close()
