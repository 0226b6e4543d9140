"""The ledger against someone who runs its database, played for real on SQLite and on PostgreSQL.

Each attack of issue 14 is either refused by the database or found by the default `misflag ledger verify`
(exit 2). On PostgreSQL the service connects as a writer role holding INSERT and SELECT only, made here with
the superuser of MISFLAG_TEST_POSTGRES_URL; the "database owner" is a separate, non-superuser role that owns
the schema. On SQLite the owner is anyone who can write the file (and so can drop the triggers).
"""

from __future__ import annotations

import hashlib
import json
import stat
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from misflag.api import create_app
from misflag.cli import main
from misflag.errors import LedgerError
from misflag.ledger import Event, Ledger, authenticate, create_token, read_entries, revoke_token, token_id
from misflag.ledger._keys import checkpoint_message, key_id, public_bytes, rotation_message

TABLES = ("ledger_entries", "ledger_checkpoints", "ledger_keys", "ledger_tokens", "ledger_token_revocations")


# -- the database refuses --------------------------------------------------------------------------------


def test_no_write_verb_changes_or_removes_a_row(target: Any) -> None:
    """As the service's role: UPDATE, DELETE, REPLACE, INSERT OR REPLACE, UPSERT (and on PostgreSQL
    TRUNCATE and trigger control) are all refused, on every table."""
    ledger = target.seed()
    revoke_token(ledger, token_id(create_token(ledger, "auditor-1", "auditor", actor="root")), actor="root")
    before = read_entries(ledger, limit=100)
    sqlite = target.store == "sqlite"
    engine = sa.create_engine(target.url)
    with engine.connect() as connection:
        first_hash = connection.exec_driver_sql("SELECT token_hash FROM ledger_tokens").scalar_one()
    row = {  # each row meets an existing key, so REPLACE/UPSERT would overwrite a sealed row
        "ledger_entries": "(0, x'00', x'00', 'flagged', 'c0', '{}')",
        "ledger_checkpoints": f"({ledger.checkpoints()[0]['tree_size']}, x'00', 'ts', 'k', x'00', '[]')",
        "ledger_keys": f"('{ledger.checkpoints()[0]['key_id']}', x'00', 'ts')",
        "ledger_tokens": "('{hash}', 'x', 'admin', 'ts')",
        "ledger_token_revocations": "('{hash}', 'x', 'ts')",
    }
    statements = []
    for table in TABLES:
        values = row[table].replace("{hash}", first_hash)
        if not sqlite:
            values = values.replace("x'00'", "'\\x00'::bytea")
        column = {"ledger_entries": "seq", "ledger_checkpoints": "tree_size", "ledger_keys": "key_id"}.get(
            table, "token_hash"
        )
        statements += [f"UPDATE {table} SET {column} = {column}", f"DELETE FROM {table}"]
        statements.append(
            f"INSERT INTO {table} VALUES {values} ON CONFLICT ({column}) DO UPDATE SET {column} = excluded.{column}"
        )
        if sqlite:
            statements += [
                f"REPLACE INTO {table} VALUES {values}",
                f"INSERT OR REPLACE INTO {table} VALUES {values}",
            ]
        else:
            statements += [
                f"TRUNCATE {table}",
                f"ALTER TABLE {table} DISABLE TRIGGER USER",
                f"DROP TRIGGER {table}_append_only ON {table}",
            ]
    if not sqlite:
        statements.append("SET session_replication_role = replica")
    refused = []
    for statement in statements:
        try:
            with engine.begin() as connection:
                connection.exec_driver_sql(statement)
        except sa.exc.DBAPIError:
            refused.append(statement)
    assert refused == statements, f"accepted: {sorted(set(statements) - set(refused))}"
    assert read_entries(ledger, limit=100) == before
    assert target.verify_exit() == 0
    ledger.close()
    engine.dispose()


# -- rewrites by the owner are found ---------------------------------------------------------------------


def test_rewrite_resigned_with_a_key_planted_in_the_database_fails_verify(
    target: Any, capsys: pytest.CaptureFixture[str], owner: Any
) -> None:
    """Rewrite an entry, recompute the chain, add a key to ledger_keys and re-sign every checkpoint with
    it: the default verify trusts only the pinned key and fails, even without the published heads."""
    target.seed().close()
    owner = owner(target.owner_url)
    body = owner.run("SELECT body FROM ledger_entries WHERE seq = 2")[0][0]
    owner.run("UPDATE ledger_entries SET body = :b WHERE seq = 2", b=body.replace("screening", "someone"))
    owner.rechain(2)
    owner.resign(Ed25519PrivateKey.generate())
    target.key.with_suffix(".heads.jsonl").unlink()  # the owner also removes the local published heads
    capsys.readouterr()
    assert target.verify_exit() == 2
    assert "not trusted" in capsys.readouterr().err


def test_unsealed_tail_is_bounded_and_an_old_rewritten_tail_fails_verify(
    target: Any, capsys: pytest.CaptureFixture[str], owner: Any
) -> None:
    """The store seals every N entries or T seconds; a tail past either bound (rewritten, or written
    around the store) fails the default verify."""
    ledger = target.seed(checkpoint_every=5, checkpoint_seconds=0.3)
    ledger.append([target.flag("late-1"), target.flag("late-2")])  # 8 entries: sealed at 6, 2 unsealed
    assert ledger.verify().unsealed == 2
    ledger.close()
    owner = owner(target.owner_url)
    body = owner.run("SELECT body FROM ledger_entries WHERE seq = 7")[0][0]
    owner.run("UPDATE ledger_entries SET body = :b WHERE seq = 7", b=body.replace("late-2", "late-X"))
    owner.rechain(7)
    time.sleep(0.7)  # older than 2 x T: the store would have sealed it
    env = {"MISFLAG_LEDGER_CHECKPOINT_EVERY": "5", "MISFLAG_LEDGER_CHECKPOINT_SECONDS": "0.3"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        capsys.readouterr()
        assert target.verify_exit() == 2
        assert "beyond the automatic checkpoint bound" in capsys.readouterr().err
        for index in range(5):
            owner.forge_entry(
                "flagged", f"forged-{index}", {"rule_id": "r", "rule_version": "1", "input_digest": "d"}
            )
        assert target.verify_exit() == 2
        assert "the store seals every 5" in capsys.readouterr().err


def test_truncation_before_a_published_head_is_detected(
    target: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], owner: Any
) -> None:
    """Cut the tail back to an earlier checkpoint, deleting the newer checkpoints with it (owner powers):
    the heads the store published, and a third party's witness file, both expose it."""
    ledger = target.seed()
    witness = tmp_path / "witness.jsonl"
    assert (
        main(
            ["ledger", "checkpoint", "--db", target.url, "--key", str(target.key), "--publish", str(witness)]
        )
        == 0
    )
    ledger.append([target.flag("x1"), target.flag("x2"), target.flag("x3")])
    head = ledger.checkpoint(publish=[witness])
    ledger.close()
    assert head["tree_size"] == 9
    owner = owner(target.owner_url)
    owner.run("DELETE FROM ledger_entries WHERE seq >= 6")
    owner.run("DELETE FROM ledger_checkpoints WHERE tree_size > 6")
    capsys.readouterr()
    assert target.verify_exit() == 2
    assert "truncated: a head of 9 entries" in capsys.readouterr().err
    target.key.with_suffix(".heads.jsonl").unlink()  # the owner removes the local heads too
    assert target.verify_exit() == 0, "without any published head a clean cut is invisible (documented)"
    assert target.verify_exit("--witness", str(witness)) == 2
    assert "truncated: a head of 9 entries" in capsys.readouterr().err


def test_rewrite_before_a_witnessed_head_is_detected_even_when_resigned_with_the_real_key(
    target: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], owner: Any
) -> None:
    """Even the holder of the signing key cannot rewrite history a witness has seen."""
    ledger = target.seed()
    witness = tmp_path / "witness.jsonl"
    ledger.checkpoint(publish=[witness])
    ledger.close()
    owner = owner(target.owner_url)
    body = owner.run("SELECT body FROM ledger_entries WHERE seq = 1")[0][0]
    owner.run("UPDATE ledger_entries SET body = :b WHERE seq = 1", b=body.replace("screening", "someone"))
    owner.rechain(1)
    owner.run("DELETE FROM ledger_keys")
    from cryptography.hazmat.primitives import serialization

    real = serialization.load_pem_private_key(target.key.read_bytes(), password=None)
    assert isinstance(real, Ed25519PrivateKey)
    owner.resign(real)
    target.key.with_suffix(".heads.jsonl").unlink()
    capsys.readouterr()
    assert target.verify_exit("--witness", str(witness)) == 2
    assert "rewritten: the first 6 entries differ" in capsys.readouterr().err


# -- power comes only from the sealed chain ----------------------------------------------------------------


def test_planted_token_is_refused_by_the_api_and_reported_by_verify(
    target: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], owner: Any
) -> None:
    ledger = target.seed()
    admin = create_token(ledger, "admin-1", "admin", actor="root")
    planted = "mfl_" + "planted-admin-token-0000000000000000000000"
    digest = hashlib.sha256(planted.encode()).hexdigest()
    owner = owner(target.owner_url)
    owner.run("INSERT INTO ledger_tokens VALUES (:h, 'ghost', 'admin', '2026-01-01T00:00:00Z')", h=digest)
    assert authenticate(ledger, planted) is None
    assert authenticate(ledger, admin) is not None
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MISFLAG_LEDGER_KEY", str(target.key))
        app = create_app(data_dir=tmp_path / "serve", ledger_db=target.url)
        client = TestClient(app, base_url="http://localhost")
        made = client.post(
            "/ledger/tokens",
            json={"name": "minted", "role": "admin"},
            headers={"Authorization": f"Bearer {planted}"},
        )
        assert made.status_code == 401
        app.state.ledger.close()
    capsys.readouterr()
    assert target.verify_exit() == 2
    assert "no token_created entry explains it" in capsys.readouterr().err
    # A token_created entry forged at the end of the chain is not sealed, so it grants nothing either.
    forged = "mfl_" + "forged-entry-token-00000000000000000000000"
    forged_hash = hashlib.sha256(forged.encode()).hexdigest()
    owner.forge_entry(
        "token_created",
        None,
        {"id": forged_hash[:16], "token_hash": forged_hash, "name": "ghost-2", "role": "admin"},
    )
    owner.run(
        "INSERT INTO ledger_tokens VALUES (:h, 'ghost-2', 'admin', '2026-01-01T00:00:00Z')", h=forged_hash
    )
    assert authenticate(ledger, forged) is None
    owner.run("DELETE FROM ledger_tokens WHERE name = 'ghost'")
    assert target.verify_exit() == 2
    assert "is not sealed, yet the store seals it at once" in capsys.readouterr().err
    ledger.close()


def test_planted_key_row_and_forged_rotation_fail_verify(
    target: Any, capsys: pytest.CaptureFixture[str], owner: Any
) -> None:
    ledger = target.seed()
    rotated = ledger.rotate_key(actor="root")  # a genuine rotation, signed by the pinned key
    ledger.append([target.flag("after-rotation")])
    ledger.checkpoint()
    ledger.close()
    assert target.verify_exit() == 0
    assert rotated["new_key_id"] != rotated["old_key_id"]
    owner = owner(target.owner_url)
    stranger = Ed25519PrivateKey.generate()
    public = public_bytes(stranger)
    owner.run("INSERT INTO ledger_keys VALUES (:k, :p, 'ts')", k=key_id(public), p=public)
    capsys.readouterr()
    assert target.verify_exit() == 2
    assert "neither pinned nor handed over" in capsys.readouterr().err
    owner.run("DELETE FROM ledger_keys WHERE key_id = :k", k=key_id(public))
    # A rotation to the stranger's key, signed by the stranger: not a key in force.
    new = key_id(public)
    forged_payload = {
        "old_key_id": new,
        "new_key_id": new,
        "new_public_key": public.hex(),
        "signature": stranger.sign(rotation_message(new, new, public)).hex(),
    }
    owner.forge_entry("key_rotated", None, forged_payload)
    assert target.verify_exit() == 2
    assert "(key_rotated) is not sealed" in capsys.readouterr().err


def test_planted_rule_change_is_refused_and_fails_verify(
    target: Any, capsys: pytest.CaptureFixture[str], owner: Any
) -> None:
    ledger = target.seed()
    loosened = {
        "rule_set": {"version": 9, "name": "x", "rules": {"review_before_action": False}},
        "previous_version": 1,
        "loosened": ["review_before_action"],
        "reason": "",
        "key_id": "00" * 16,
        "signature": "00" * 64,
    }
    owner(target.owner_url).forge_entry("rules_changed", None, loosened)
    with pytest.raises(LedgerError, match="no valid writer proof"):
        ledger.append([target.flag("c-new")])
    capsys.readouterr()
    assert target.verify_exit() == 2
    ledger.close()


# -- proofs trust pinned keys only -------------------------------------------------------------------------


def test_proof_needs_a_pinned_key_and_a_resigned_checkpoint_is_refused(
    target: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], owner: Any
) -> None:
    target.seed().close()
    proof = tmp_path / "proof.json"
    pinned = str(target.key.with_suffix(".pub"))
    prove = [
        "ledger",
        "prove",
        "--db",
        target.url,
        "--key",
        str(target.key),
        "--seq",
        "2",
        "--out",
        str(proof),
    ]
    assert main(prove) == 0
    assert main(["ledger", "check-proof", str(proof)]) == 2
    assert main(["ledger", "check-proof", str(proof), "--public-key", pinned]) == 0
    # The owner re-signs the checkpoint with a key of their own and ships its public key in the proof.
    stranger = Ed25519PrivateKey.generate()
    forged = json.loads(proof.read_text())
    name = key_id(public_bytes(stranger))
    mark = forged["checkpoint"]
    mark["key_id"] = name
    message = checkpoint_message(mark["tree_size"], bytes.fromhex(mark["root"]), mark["timestamp"], name)
    mark["signature"] = stranger.sign(message).hex()
    forged["public_keys"] = {name: public_bytes(stranger).hex()}
    proof.write_text(json.dumps(forged))
    capsys.readouterr()
    assert main(["ledger", "check-proof", str(proof), "--public-key", pinned]) == 2
    assert "not trusted" in capsys.readouterr().err
    owner(target.owner_url).resign(stranger)
    assert main(prove) == 2, "prove refuses a checkpoint the pinned keys do not verify"


# -- validation ------------------------------------------------------------------------------------------


def test_token_names_are_unique_so_an_appeal_cannot_be_decided_by_a_namesake(target: Any) -> None:
    ledger = target.seed()
    create_token(ledger, "reviewer-user", "reviewer", actor="root")
    with pytest.raises(LedgerError, match="exists already"):
        create_token(ledger, "reviewer-user", "reviewer", actor="root")
    ledger.close()


def test_appeal_independence_compares_token_identities(tmp_path: Path) -> None:
    """The same token cannot decide an appeal of its own review, whatever name the event carries."""
    from misflag.ledger._rules import CaseState, RuleSet, violation

    state = CaseState(flagged=True)
    state.apply("reviewed", "reviewer-user", "reviewer", "aaaa000011112222")
    state.apply("appeal_filed", "x", "recorder")
    same_token = violation(RuleSet(), state, "appeal_decided", "another-name", "reviewer", "aaaa000011112222")
    assert same_token is not None and same_token[0] == "independent_appeal"
    assert violation(RuleSet(), state, "appeal_decided", "other", "reviewer", "bbbb000011112222") is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"actor": None}, "actor must be a string"),
        ({"actor": float("nan")}, "actor must be a string"),
        ({"payload": {"rule_id": {}, "rule_version": "1", "input_digest": "d"}}, "non-empty string"),
        ({"payload": {"rule_id": [], "rule_version": "1", "input_digest": "d"}}, "non-empty string"),
        ({"payload": {"rule_id": 0, "rule_version": "1", "input_digest": "d"}}, "non-empty string"),
        ({"payload": {"rule_id": " ", "rule_version": "1", "input_digest": "d"}}, "non-empty string"),
        ({"payload": {"rule_id": "x" * 200_000, "rule_version": "1", "input_digest": "d"}}, "at most 512"),
        (
            {"payload": {"rule_id": "r", "rule_version": "1", "input_digest": "d", "score": float("nan")}},
            "plain JSON|finite",
        ),
        (
            {"payload": {"rule_id": "r", "rule_version": "1", "input_digest": "d", "note": "x" * 20_000}},
            "limit",
        ),
    ],
)
def test_events_are_validated_without_coercion(change: dict[str, Any], message: str) -> None:
    data = {
        "kind": "flagged",
        "case_id": "c1",
        "actor": "screening",
        "role": "recorder",
        "payload": {"rule_id": "r", "rule_version": "1", "input_digest": "d"},
    } | change
    with pytest.raises(LedgerError, match=message):
        Event.from_dict(data)


def test_key_readable_by_others_is_refused_and_files_are_private(tmp_path: Path, make_event: Any) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    key = tmp_path / "k.pem"
    ledger = Ledger.open(url, key_path=key)
    ledger.append([make_event("flagged", "c1")])
    ledger.checkpoint()
    ledger.close()
    for name in ("ledger.sqlite", "ledger.sqlite-wal", "k.pem", "k.writer-key"):
        path = tmp_path / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    key.chmod(0o644)
    with pytest.raises(LedgerError, match="readable by others"):
        Ledger.open(url, key_path=key)
    assert main(["ledger", "checkpoint", "--db", url, "--key", str(key)]) == 2


def test_service_refuses_to_run_as_the_table_owner(target: Any, owner: Any) -> None:
    """PostgreSQL: the owner role is refused (it could disable the triggers), the writer role admitted.
    SQLite has no roles: there the file's mode (0600, tested above) is the boundary."""
    if target.store == "postgresql":
        with pytest.raises(LedgerError, match="as the owner of its tables"):
            Ledger.open(target.owner_url, key_path=target.key, owner="refuse")
    writer = Ledger.open(target.url, key_path=target.key, owner="refuse")
    assert writer.connected_as_owner() is False
    writer.close()
