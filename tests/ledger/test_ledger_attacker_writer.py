"""Issue 19's attacks, played for real on SQLite and on PostgreSQL (owner and INSERT-only writer roles).

The INSERT-only writer is the service's own database role on PostgreSQL, and anyone who can add rows to
the SQLite file. Each row it adds is well formed (linked to the head, hashed as the store hashes) but
carries no writer proof: the service must never seal it, fold it into a case or grant power from it, and
must say so (an alarm at the next write, HTTP 503 with the reason); default `verify` must fail with a
one-line reason. Then the key holder: a future timestamp, zero checkpoints, a swapped key file, a fork
shown to two witnesses, and `rotate-key` cut short by a crash.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from misflag.api import create_app
from misflag.cli import main
from misflag.errors import InputError, LedgerError
from misflag.ledger import Event, Ledger, authenticate, create_token, list_tokens, revoke_token, token_id
from misflag.ledger._engine import now
from misflag.ledger._keys import checkpoint_message, key_id, load_or_create, public_bytes
from misflag.ledger._merkle import MerkleTree
from misflag.ledger._rules import RuleSet
from misflag.ledger._verify import entry_hash
from misflag.ledger._writer import LedgerTampered, entry_mac, load_or_create_writer_key, writer_key_path
from tests.ledger._plant import entry_body, plant


def plant_entry(target: Any, kind: str, case_id: str | None, payload: dict[str, Any], **fields: Any) -> int:
    """As the INSERT-only writer: add a well-formed entry at the head of the chain, without a writer proof
    or with a made-up one (`mac`); `fields`: the body's other fields (`actor`, `role`, `ts`)."""
    mac = fields.pop("mac", None)
    return plant(target.url, kind, case_id, entry_body(payload, **fields), mac=mac)


def refused_at_write(
    ledger: Ledger,
    target: Any,
    seq: int,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The next append and the next checkpoint raise the alarm (logged) naming the planted entry; verify
    fails with one line."""
    with pytest.raises(LedgerTampered, match=f"entry {seq} .*no valid writer proof"):
        ledger.append([target.flag("after-the-plant")])
    with pytest.raises(LedgerTampered, match=f"refusing to seal: entry {seq} "):
        ledger.checkpoint()
    logged = [record for record in caplog.records if record.name == "misflag.ledger"]
    assert logged and logged[-1].levelname == "ERROR" and f"entry {seq}" in logged[-1].getMessage()
    capsys.readouterr()
    assert main(["ledger", "checkpoint", "--db", target.url, "--key", str(target.key)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: refusing to seal: entry {seq} ") and err.count("\n") == 1
    assert target.verify_exit() == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ledger verification FAILED") and err.count("\n") == 1


def test_hand_inserted_token_created_grants_nothing_and_stops_the_sealer(
    target: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    ledger = target.seed()
    admin = create_token(ledger, "admin-1", "admin", actor="root")
    planted = "mfl_" + "planted-by-the-writer-role-000000000000000"
    digest = hashlib.sha256(planted.encode()).hexdigest()
    payload = {"id": digest[:16], "token_hash": digest, "name": "ghost", "role": "admin"}
    seq = plant_entry(target, "token_created", None, payload)
    assert authenticate(ledger, planted) is None
    assert [row["name"] for row in list_tokens(ledger)] == ["admin-1"], "list shows what is enforced"
    with pytest.raises(Exception, match="no token with id"):
        revoke_token(ledger, digest[:16], actor="root")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MISFLAG_LEDGER_KEY", str(target.key))
        patch.setenv("MISFLAG_LEDGER_CHECKPOINT_SECONDS", "0.2")
        app = create_app(data_dir=tmp_path / "serve", ledger_db=target.url)
        client = TestClient(app, base_url="http://localhost")
        minted = client.post(
            "/ledger/tokens",
            json={"name": "m", "role": "admin"},
            headers={"Authorization": f"Bearer {planted}"},
        )
        assert minted.status_code == 401
        events = {
            "events": [
                {
                    "kind": "flagged",
                    "case_id": "h1",
                    "payload": {"rule_id": "r", "rule_version": "1", "input_digest": "d"},
                }
            ]
        }
        answer = client.post("/ledger/events", json=events, headers={"Authorization": f"Bearer {admin}"})
        assert answer.status_code == 503 and "no valid writer proof" in answer.json()["detail"]
        time.sleep(0.6)  # the background sealer meets the planted row, refuses, and keeps running
        service = app.state.ledger
        assert service._sealer is not None and service._sealer.is_alive()
        assert service.unsealed() == 1
        service.close()
    refused_at_write(ledger, target, seq, capsys, caplog)
    ledger.close()


def test_hand_inserted_token_revoked_locks_no_one_out(
    target: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    ledger = target.seed()
    admin = create_token(ledger, "admin-1", "admin", actor="root")
    payload = {"id": token_id(admin), "name": "admin-1", "role": "admin"}
    seq = plant_entry(target, "token_revoked", None, payload, mac=os.urandom(32))  # a made-up proof
    assert authenticate(ledger, admin) is not None
    assert [row["revoked"] for row in list_tokens(ledger)] == [None]
    refused_at_write(ledger, target, seq, capsys, caplog)
    ledger.close()


def test_hand_inserted_token_created_reserves_no_name(
    target: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `token_created` row the writer role plants off the chain (seq -1, never sealed) reserves no name:
    `list_tokens` reads the sealed, writer-vouched chain. Planted below 0 or at the head, it stops the
    creation with the alarm naming the row (the sealer refuses a table holding a row numbered below 0,
    which no range it seals would cover), never with a misleading 'name exists'."""
    ledger = target.seed()
    create_token(ledger, "admin-1", "admin", actor="root")
    digest = hashlib.sha256(b"mfl_planted-off-the-chain").hexdigest()
    payload = {"id": digest[:16], "token_hash": digest, "name": "ghost", "role": "admin"}
    body = json.dumps(
        {"actor": "intruder", "groups": {}, "payload": payload, "role": "admin", "ts": now()},
        sort_keys=True,
        separators=(",", ":"),
    )
    engine = sa.create_engine(target.url)  # the service's own role: INSERT-only on PostgreSQL
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO ledger_entries (seq, prev, hash, kind, case_id, body) "
                "VALUES (-1, :p, :h, 'token_created', NULL, :b)"
            ),
            {"p": bytes(32), "h": entry_hash(bytes(32), -1, "token_created", None, body), "b": body},
        )
    engine.dispose()
    assert [(row["name"], row["role"]) for row in list_tokens(ledger)] == [("admin-1", "admin")]
    with pytest.raises(LedgerTampered, match="numbered -1"):  # the alarm, never 'name exists already'
        create_token(ledger, "ghost", "reviewer", actor="root")
    capsys.readouterr()
    assert target.verify_exit() == 2, "default verify still finds the planted row"
    plant_entry(target, "token_created", None, payload | {"name": "phantom"})
    with pytest.raises(LedgerTampered, match="numbered -1"):  # the first planted row is named first
        create_token(ledger, "phantom", "admin", actor="root")
    ledger.close()


def test_old_signed_rule_set_inserted_again_takes_no_effect(
    target: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    ledger = target.seed()
    loose = RuleSet.from_dict({"version": 2, "name": "pilot", "rules": {"review_before_action": False}})
    ledger.set_rules(loose, actor="chief", reason="pilot")
    ledger.set_rules(RuleSet.from_dict({"version": 3, "name": "strict", "rules": {}}), actor="chief")
    engine = sa.create_engine(target.url)
    with engine.connect() as connection:
        old = connection.exec_driver_sql(
            "SELECT body FROM ledger_entries WHERE kind = 'rules_changed' ORDER BY seq LIMIT 1"
        ).scalar_one()
    engine.dispose()
    parsed = json.loads(old)
    seq = plant_entry(
        target, "rules_changed", None, parsed["payload"], actor=parsed["actor"], role=parsed["role"]
    )
    assert ledger.rules().version == 3 and ledger.rules().rules["review_before_action"] is True
    refused_at_write(ledger, target, seq, capsys, caplog)
    ledger.close()


def test_key_holder_replaying_an_old_rule_set_fails_verify(
    target: Any, capsys: pytest.CaptureFixture[str], owner: Any
) -> None:
    """Even sealed and signed with the real key, a rule set whose version does not increase is refused."""
    ledger = target.seed()
    ledger.set_rules(RuleSet.from_dict({"version": 2, "name": "a", "rules": {}}), actor="chief")
    ledger.set_rules(RuleSet.from_dict({"version": 3, "name": "b", "rules": {}}), actor="chief")
    ledger.close()
    power = owner(target.owner_url)
    first = power.run("SELECT body FROM ledger_entries WHERE kind = 'rules_changed' ORDER BY seq")[0][0]
    power.forge_entry("rules_changed", None, json.loads(first)["payload"])
    hashes = [bytes(row[0]) for row in power.run("SELECT hash FROM ledger_entries ORDER BY seq")]
    real = load_or_create(target.key)
    size, root, stamp = len(hashes), MerkleTree(hashes).root(len(hashes)), now()
    signature = real.sign(checkpoint_message(size, root, stamp, target.fingerprint))
    power.run(
        "INSERT INTO ledger_checkpoints VALUES (:s, :r, :t, :k, :g, '[]')",
        s=size,
        r=root,
        t=stamp,
        k=target.fingerprint,
        g=signature,
    )
    capsys.readouterr()
    assert target.verify_exit() == 2
    assert "rule set version 2 does not increase on 3" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["head", "before the first entry"])
def test_planted_review_with_a_real_token_id_lets_no_action_through(
    target: Any, where: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = target.seed()
    reviewer = create_token(ledger, "rev-1", "reviewer", actor="root")
    ledger.append(
        [target.flag("k1"), Event("notice_sent", "k1", "screening", "recorder", {"channel": "mail"})]
    )
    review = {"outcome": "confirmed", "reason_code": "R1"}
    who: dict[str, Any] = {"actor": "rev-1", "role": "reviewer", "actor_id": token_id(reviewer)}
    if where == "head":
        seq = plant_entry(target, "reviewed", "k1", review, **who)
    else:  # a negative seq: never at the head, only in the case's history
        seq = -1
        engine = sa.create_engine(target.url)
        text = json.dumps(
            {"groups": {}, "payload": review, "ts": now()} | who, sort_keys=True, separators=(",", ":")
        )
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO ledger_entries (seq, prev, hash, kind, case_id, body) VALUES (-1, :p, :h, 'reviewed', 'k1', :b)"
                ),
                {"p": bytes(32), "h": entry_hash(bytes(32), -1, "reviewed", "k1", text), "b": text},
            )
        engine.dispose()
    action = Event("action", "k1", "screening", "recorder", {"action": "benefit_suspended"})
    refusal = f"entry {seq} \\('reviewed'\\).*no valid writer proof" if seq > 0 else "an entry is numbered -1"
    with pytest.raises(LedgerTampered, match=refusal):
        ledger.append([action])
    # never sealed: default verify fails at once on a misplaced row, and on one at the head once the
    # unsealed tail is older than the automatic checkpoint bound (2 x 0.2 s here)
    monkeypatch.setenv("MISFLAG_LEDGER_CHECKPOINT_SECONDS", "0.2")
    time.sleep(0.5)
    capsys.readouterr()
    assert target.verify_exit() == 2
    assert (
        "beyond the automatic checkpoint bound" if seq > 0 else "sequence number is -1"
    ) in capsys.readouterr().err
    ledger.close()


def test_fake_checkpoint_row_is_never_signed_over_and_the_sealer_survives(
    target: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = target.seed()
    admin = create_token(ledger, "admin-1", "admin", actor="root")
    ledger.append([target.flag("tail")])
    engine = sa.create_engine(target.url)
    with engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO ledger_checkpoints VALUES (:s, :r, 'ts', :k, :g, '[]')"),
            {"s": 10**12, "r": bytes(32), "k": target.fingerprint, "g": bytes(64)},
        )
    engine.dispose()
    assert ledger.unsealed() < 0
    with pytest.raises(LedgerTampered, match="claims 1000000000000 entries"):
        ledger.checkpoint()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MISFLAG_LEDGER_KEY", str(target.key))
        patch.setenv("MISFLAG_LEDGER_CHECKPOINT_SECONDS", "0.2")
        app = create_app(data_dir=tmp_path / "serve", ledger_db=target.url)
        client = TestClient(app, base_url="http://localhost")
        answer = client.post("/ledger/checkpoints", headers={"Authorization": f"Bearer {admin}"})
        assert answer.status_code == 503 and "1000000000000" in answer.json()["detail"]
        time.sleep(0.6)
        assert app.state.ledger._sealer.is_alive(), "the sealer thread never dies on a forged row"
        app.state.ledger.close()
    capsys.readouterr()
    assert target.verify_exit() == 2
    assert "checkpoint of 1000000000000 entries" in capsys.readouterr().err
    ledger.close()


def test_entry_stamped_in_the_future_fails_verify(target: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = target.seed()
    seq = plant_entry(target, "notice_sent", "c1", {"channel": "mail"}, ts="2099-01-01T00:00:00.000000Z")
    capsys.readouterr()
    assert target.verify_exit() == 2
    assert f"entry {seq}: its timestamp is in the future" in capsys.readouterr().err
    ledger.close()


def test_zero_signed_checkpoints_fail_default_verify(
    target: Any, capsys: pytest.CaptureFixture[str], owner: Any
) -> None:
    target.seed().close()
    power = owner(target.owner_url)
    power.run("DELETE FROM ledger_checkpoints")
    target.key.with_suffix(".heads.jsonl").unlink()
    capsys.readouterr()
    assert target.verify_exit() == 2
    assert "no signed checkpoint" in capsys.readouterr().err
    assert target.verify_exit("--allow-unsigned") == 0
    assert "accepted only because of --allow-unsigned" in capsys.readouterr().err


def test_swapped_key_file_next_to_the_database_is_not_trusted(
    target: Any, capsys: pytest.CaptureFixture[str], owner: Any
) -> None:
    """The operator rewrites an entry, re-signs with a key of their own, and replaces the `.pub` file, the
    key file and the heads next to the database: the fingerprint the verifier pinned does not match."""
    target.seed().close()
    power = owner(target.owner_url)
    body = power.run("SELECT body FROM ledger_entries WHERE seq = 2")[0][0]
    power.run("UPDATE ledger_entries SET body = :b WHERE seq = 2", b=body.replace("screening", "someone"))
    power.rechain(2)
    stranger = Ed25519PrivateKey.generate()
    power.resign(stranger)
    public = public_bytes(stranger)
    target.key.with_suffix(".pub").write_text(f"{key_id(public)}={public.hex()}\n")
    target.key.with_suffix(".heads.jsonl").unlink()
    capsys.readouterr()
    assert main(["ledger", "verify", "--db", target.url, "--key", str(target.key)]) == 2
    assert "not trusted by itself" in capsys.readouterr().err
    assert target.verify_exit() == 2
    assert "not trusted" in capsys.readouterr().err


def test_key_and_heads_swapped_by_the_operator_are_never_ok_by_default_over_python_and_http(
    target: Any, tmp_path: Path, owner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator, holding the database and the key folder, rewrites an entry, re-chains and re-proves
    every row (the writer key is in that folder), re-signs every checkpoint with a key of their own put in
    place of the signing key and its `.pub`, drops the old key row and the heads: the service runs on as if
    nothing happened. `Ledger.verify()` and `GET /ledger/verify` without a pin answer `unpinned` (not ok)
    and name the key they stood on, which is not the fingerprint `init` printed; pinning that fingerprint
    fails, in Python and over HTTP."""
    ledger = target.seed()
    auditor = create_token(ledger, "auditor-1", "auditor", actor="root")
    honest = ledger.verify()
    assert (honest.ok, honest.status, honest.anchors) == (False, "unpinned", [target.fingerprint])
    assert ledger.verify(key_fingerprint=target.fingerprint).ok
    ledger.close()
    power = owner(target.owner_url)
    body = power.run("SELECT body FROM ledger_entries WHERE seq = 2")[0][0]
    power.run("UPDATE ledger_entries SET body = :b WHERE seq = 2", b=body.replace("screening", "someone"))
    power.rechain(2)
    writer = load_or_create_writer_key(writer_key_path(target.key))
    for seq, digest in power.run("SELECT seq, hash FROM ledger_entries WHERE seq >= 2"):
        power.run(
            "UPDATE ledger_entries SET mac = :m WHERE seq = :s", m=entry_mac(writer, bytes(digest)), s=seq
        )
    target.key.unlink()
    target.key.with_suffix(".pub").unlink()
    stranger = load_or_create(target.key)  # a new key file, and its .pub, where the real ones were
    power.resign(stranger)
    power.run("DELETE FROM ledger_keys WHERE key_id = :k", k=target.fingerprint)
    target.key.with_suffix(".heads.jsonl").unlink()
    swapped = key_id(public_bytes(stranger))

    forged = target.open()
    report = forged.verify()
    assert (report.ok, report.status, report.consistent, report.anchors) == (
        False,
        "unpinned",
        True,
        [swapped],
    )
    with pytest.raises(LedgerError, match=f"no public key with fingerprint {target.fingerprint}"):
        forged.verify(key_fingerprint=target.fingerprint)
    forged.close()
    monkeypatch.setenv("MISFLAG_LEDGER_KEY", str(target.key))
    app = create_app(data_dir=tmp_path / "serve", ledger_db=target.url)
    client = TestClient(app, base_url="http://localhost")
    headers = {"Authorization": f"Bearer {auditor}"}
    answer = client.get("/ledger/verify", headers=headers)
    assert answer.status_code == 200, answer.text  # the service itself noticed nothing
    default = answer.json()
    assert (default["ok"], default["status"], default["anchors"]) == (False, "unpinned", [swapped])
    pinned = client.get(f"/ledger/verify?key_fingerprint={target.fingerprint}", headers=headers)
    assert pinned.status_code == 422
    assert pinned.json()["detail"].startswith(f"no public key with fingerprint {target.fingerprint}")
    app.state.ledger.close()


def test_two_witnesses_shown_different_histories_name_the_fork(
    target: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], owner: Any
) -> None:
    """The key holder rewrites entry 6 after only the inspector saw a head covering it, re-signs with the
    real key, then shows the court the other history: each witness is consistent alone, not together."""
    ledger = target.seed()
    inspector, court = tmp_path / "inspector.jsonl", tmp_path / "court.jsonl"
    ledger.checkpoint(publish=[inspector, court])  # both saw the first 6 entries
    ledger.append([target.flag("x")])
    ledger.checkpoint(publish=[inspector])  # only the inspector saw entry 6
    ledger.close()
    power = owner(target.owner_url)
    body = power.run("SELECT body FROM ledger_entries WHERE seq = 6")[0][0]
    power.run("UPDATE ledger_entries SET body = :b WHERE seq = 6", b=body.replace("screening", "someone"))
    power.rechain(6)
    power.resign(load_or_create(target.key))
    target.key.with_suffix(".heads.jsonl").unlink()
    witnesses = ["--witness", str(inspector), "--witness", str(court)]
    capsys.readouterr()
    assert target.verify_exit(*witnesses) == 2
    err = capsys.readouterr().err
    assert f"fork: {inspector} is not on the history that {court} and the ledger share" in err
    forked = Ledger.open(target.url, key_path=target.key)
    forked.checkpoint(publish=[court])  # the rewritten head of 7 entries, shown to the court
    forked.close()
    assert target.verify_exit(*witnesses) == 2
    err = capsys.readouterr().err
    assert f"fork: {inspector} and {court} hold two different signed roots for the first 7 entries" in err


def test_rotate_key_survives_a_crash_between_the_chain_entry_and_the_file_moves(
    target: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = target.seed()
    old_id = target.fingerprint
    # 1. a crash before the chain entry: the new key is on disk, the retry reuses it
    monkeypatch.setattr(Ledger, "_insert", lambda *args: (_ for _ in ()).throw(KeyboardInterrupt("kill")))
    with pytest.raises(KeyboardInterrupt):
        ledger.rotate_key(actor="root")
    monkeypatch.undo()
    fresh = target.key.with_suffix(".new.pem")
    waiting = key_id(public_bytes(load_or_create(fresh)))

    # 2. a crash after the chain entry committed, before the key files move (the first move is a link)
    def killed(*_args: Any) -> None:
        raise KeyboardInterrupt("kill -9 after the commit")

    monkeypatch.setattr("misflag.ledger._seal_keys.os.link", killed)
    with pytest.raises(KeyboardInterrupt):
        ledger.rotate_key(actor="root")
    monkeypatch.undo()
    ledger.close()
    assert key_id(public_bytes(load_or_create(target.key))) == old_id and fresh.exists()
    # the restarted service hands over before it signs anything, so later checkpoints verify
    restarted = target.open()
    restarted.append([target.flag("after-crash")])
    restarted.checkpoint()
    assert key_id(public_bytes(load_or_create(target.key))) == waiting, "the retry reused the first new key"
    assert not fresh.exists() and target.key.with_suffix(f".retired-{old_id[:12]}.pem").exists()
    assert restarted.rotate_key(actor="root")["old_key_id"] == waiting  # a further rotation works
    restarted.close()
    assert target.verify_exit() == 0


def test_serve_start_check_reads_the_chain_not_the_tokens_table(
    target: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 20: a row planted in the tokens cache table does not let `misflag serve` start exposed."""
    from misflag.commands.serve import _check_tokens

    ledger = target.seed()
    engine = sa.create_engine(target.url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO ledger_tokens VALUES ('"
            + "ab" * 32
            + "', 'ghost', 'auditor', '2026-01-01T00:00:00Z')"
        )
    engine.dispose()
    monkeypatch.setenv("MISFLAG_LEDGER_KEY", str(target.key))
    with pytest.raises(InputError, match="needs an access token"):
        _check_tokens(target.url, "0.0.0.0")
    create_token(ledger, "auditor-1", "auditor", actor="root")
    _check_tokens(target.url, "0.0.0.0")
    ledger.close()
