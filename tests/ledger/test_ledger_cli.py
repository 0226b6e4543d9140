"""The `misflag ledger` CLI end to end, bad input (exit 2, one line), and the round trip
ledger → `misflag ledger export` → `misflag decisions audit` reproducing the counts entered."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from misflag.cli import main
from misflag.ledger import Event, Ledger, authenticate, token_id
from misflag.ledger._engine import now

# Per group: true/false positives and negatives of the algorithm; false positives confirmed by review and
# acted on; cases whose truth was never established (excluded by --where).
COUNTS = {
    "F": {"tp": 18, "fp": 12, "tn": 25, "fn": 5, "fp_review": 5, "fp_action": 3, "unknown": 7},
    "M": {"tp": 10, "fp": 4, "tn": 30, "fn": 6, "fp_review": 2, "fp_action": 1, "unknown": 3},
}


def _events(make_event: Any) -> list[Any]:
    events: list[Any] = []
    for sex, counts in COUNTS.items():

        def case(
            kind: str,
            number: int,
            flag: bool,
            wrong: bool | None,
            confirm: bool = False,
            act: bool = False,
            sex: str = sex,
        ) -> None:
            case_id = f"{sex}-{kind}-{number}"
            events.append(
                make_event("flagged", case_id, groups={"sex": sex}, flag=flag, score=0.7 if flag else 0.2)
            )
            if confirm:
                events.append(make_event("reviewed", case_id, "rev-1", "reviewer"))
            if act:
                events.extend([make_event("notice_sent", case_id), make_event("action", case_id)])
            if wrong is not None:
                events.append(make_event("corrected", case_id, "rev-2", "reviewer", flag_was_wrong=wrong))

        for i in range(counts["tp"]):
            case("tp", i, True, False, confirm=True, act=True)
        for i in range(counts["fp"]):
            case("fp", i, True, True, confirm=i < counts["fp_review"], act=i < counts["fp_action"])
        for i in range(counts["tn"]):
            case("tn", i, False, False)
        for i in range(counts["fn"]):
            case("fn", i, False, True)
        for i in range(counts["unknown"]):
            case("unknown", i, True, None)
    return events


def test_ledger_cli_round_trip_reproduces_entered_counts(
    store_url: str,
    tmp_path: Path,
    make_event: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MISFLAG_LEDGER_KEY", str(tmp_path / "key.pem"))
    events = tmp_path / "events.jsonl"
    events.write_text(
        "\n".join(
            json.dumps(
                {
                    "kind": e.kind,
                    "case_id": e.case_id,
                    "actor": e.actor,
                    "role": e.role,
                    "payload": dict(e.payload),
                    "groups": dict(e.groups),
                }
            )
            for e in _events(make_event)
        ),
        encoding="utf-8",
    )
    assert main(["ledger", "init", "--db", store_url]) == 0
    assert main(["ledger", "append", str(events), "--db", store_url]) == 0
    log = tmp_path / "decision-log.parquet"
    assert main(["ledger", "export", str(log), "--db", store_url]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "decisions",
                "audit",
                str(log),
                "--truth",
                "truth",
                "--group",
                "sex",
                "--where",
                "truth IS NOT NULL",
                "--stage",
                "algorithm=flagged",
                "--stage",
                "review=flagged * review_confirmed",
                "--stage",
                "action=action_taken",
                "--replicates",
                "200",
                "--min-cell",
                "1",
                "--format",
                "json",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    for sex, counts in COUNTS.items():
        mine = [row for row in rows if row["group"] == sex]
        known = counts["tp"] + counts["fp"] + counts["tn"] + counts["fn"]
        assert {row["value"] for row in mine if row["metric"] == "n"} == {known}
        negatives = counts["fp"] + counts["tn"]
        for stage, false_positives in (
            ("algorithm", counts["fp"]),
            ("review", counts["fp_review"]),
            ("action", counts["fp_action"]),
        ):
            fpr = [row for row in mine if row["metric"] == "fpr" and row["stage"] == stage]
            assert len(fpr) == 1, (sex, stage)
            assert fpr[0]["denominator"] == negatives
            assert round(fpr[0]["value"] * negatives) == false_positives, (sex, stage)
    # a command-line append seals what it wrote: nothing is left unsealed
    opened = Ledger.open(store_url, create=False)
    pin = ["--key-fingerprint", next(iter(opened.pinned_keys()))]
    opened.close()
    assert main(["ledger", "verify", "--db", store_url, "--require-sealed", *pin]) == 0
    assert "unsealed tail: 0 entries" in capsys.readouterr().out


def test_ledger_cli_proofs_tokens_rules(
    tmp_path: Path, make_case: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "ledger.sqlite")
    assert main(["ledger", "init", "--db", db]) == 0
    ledger = Ledger.open(db)
    ledger.append(make_case("c1"))
    first = ledger.checkpoint()["tree_size"]
    ledger.append(make_case("c2"))
    ledger.checkpoint()
    proof = tmp_path / "proof.json"
    pinned = str(tmp_path / "ledger.sqlite.signing-key.pub")  # written by init
    assert main(["ledger", "prove", "--db", db, "--seq", "1", "--out", str(proof)]) == 0
    assert main(["ledger", "check-proof", str(proof)]) == 2  # no pinned key: the proof's own is not trusted
    assert "pinned public keys only" in capsys.readouterr().err
    assert main(["ledger", "check-proof", str(proof), "--public-key", pinned]) == 0
    assert "entry 1 is included" in capsys.readouterr().out
    forged = json.loads(proof.read_text())
    forged["entry"]["body"] = forged["entry"]["body"].replace("rev-1", "rev-9")
    proof.write_text(json.dumps(forged))
    assert main(["ledger", "check-proof", str(proof), "--public-key", pinned]) == 2
    assert "NOT included" in capsys.readouterr().err
    assert main(["ledger", "prove", "--db", db, "--from", str(first), "--out", str(proof)]) == 0
    assert main(["ledger", "check-proof", str(proof), "--public-key", pinned]) == 0
    key_id = next(iter(json.loads(proof.read_text())["public_keys"]))
    assert main(["ledger", "check-proof", str(proof), "--public-key", f"{key_id}={'00' * 32}"]) == 2
    capsys.readouterr()
    assert main(["ledger", "token", "create", "--db", db, "--name", "sys", "--role", "recorder"]) == 0
    made = capsys.readouterr()
    token = made.out.strip()
    assert token.startswith("mfl_") and f"token id {token_id(token)}" in made.err
    assert main(["ledger", "token", "list", "--db", db]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["id"], listed["name"], listed["revoked"]) == (token_id(token), "sys", None)
    assert main(["ledger", "token", "revoke", token_id(token), "--db", db, "--actor", "ops"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "sys"
    assert authenticate(ledger, token) is None
    assert main(["ledger", "token", "revoke", token_id(token), "--db", db]) == 2
    assert "already revoked" in capsys.readouterr().err
    rules = tmp_path / "rules.json"
    rules.write_text('{"version": 2, "rules": {"notice_before_action": false}}')
    assert main(["ledger", "rules", "set", str(rules), "--db", db]) == 2
    assert "needs a reason" in capsys.readouterr().err
    assert main(["ledger", "rules", "set", str(rules), "--db", db, "--reason", "pilot"]) == 0
    capsys.readouterr()
    assert main(["ledger", "rules", "show", "--db", db]) == 0
    assert json.loads(capsys.readouterr().out)["rules"]["notice_before_action"] is False
    ledger.close()


PUB = "{tmp}/l.sqlite.signing-key.pub"  # written by `ledger init`


@pytest.mark.parametrize(
    "argv, message",
    [
        (["ledger", "verify", "--db", "{tmp}/missing.sqlite", "--public-key", PUB], "no ledger at"),
        (["ledger", "verify", "--db", "{tmp}/l.sqlite"], "a key file next to the database is not trusted"),
        (["ledger", "verify", "--db", "{tmp}/l.sqlite", "--key-fingerprint", "ab"], "32 hex digits"),
        (
            ["ledger", "verify", "--db", "{tmp}/l.sqlite", "--key-fingerprint", "0" * 32],
            "no public key with fingerprint",
        ),
        (["ledger", "append", "{tmp}/events.json", "--db", "{tmp}/l.sqlite"], "unknown event kind"),
        (["ledger", "append", "{tmp}/nope.json", "--db", "{tmp}/l.sqlite"], "cannot read events"),
        (["ledger", "export", "{tmp}/out.txt", "--db", "{tmp}/l.sqlite"], "csv or parquet"),
        (["ledger", "prove", "--db", "{tmp}/l.sqlite"], "exactly one of"),
        (["ledger", "prove", "--db", "{tmp}/l.sqlite", "--seq", "0"], "not under a signed checkpoint"),
        (
            ["ledger", "token", "create", "--db", "{tmp}/l.sqlite", "--name", "x", "--role", "boss"],
            "unknown role",
        ),
        (["ledger", "verify", "--db", "mysql://x/y", "--public-key", PUB], "unsupported ledger store"),
        (["ledger", "token", "revoke", "ffffffffffffffff", "--db", "{tmp}/l.sqlite"], "no token with id"),
        (["ledger", "token", "revoke", "abc", "--db", "{tmp}/l.sqlite"], "16 lower-case hex digits"),
        (["ledger", "append", "{tmp}/deep.json", "--db", "{tmp}/l.sqlite"], "nested too deeply"),
        (
            [
                "ledger",
                "verify",
                "--db",
                "{tmp}/l.sqlite",
                "--public-key",
                PUB,
                "--witness",
                "{tmp}/deep.json",
            ],
            "witness file",
        ),
        (
            [
                "ledger",
                "verify",
                "--db",
                "{tmp}/l.sqlite",
                "--public-key",
                PUB,
                "--witness",
                "{tmp}/list.json",
            ],
            "witness file",
        ),
        (["ledger", "verify", "--export", "{tmp}/deep.json", "--public-key", PUB], "cannot read"),
        (["ledger", "verify", "--export", "{tmp}/list.json", "--public-key", PUB], "cannot read"),
        (
            ["ledger", "append", "{tmp}/good.json", "--db", "{tmp}/l.sqlite", "--key", "{tmp}/other.pem"],
            "already signed by another key",
        ),
        (
            ["ledger", "rotate-key", "--db", "{tmp}/l.sqlite", "--key", "{tmp}/other.pem"],
            "already signed by another key",
        ),
    ],
)
def test_ledger_cli_bad_input_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["ledger", "init", "--db", str(tmp_path / "l.sqlite")]) == 0
    (tmp_path / "events.json").write_text(
        '{"kind": "deleted", "case_id": "c1", "actor": "a", "role": "recorder"}'
    )
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "list.json").write_text("[1]\n")
    (tmp_path / "good.json").write_text(
        json.dumps(
            {
                "kind": "flagged",
                "case_id": "c1",
                "actor": "a",
                "role": "recorder",
                "payload": {"rule_id": "r", "rule_version": "1", "input_digest": "sha256:ab"},
            }
        )
    )
    capsys.readouterr()
    assert main([part.format(tmp=tmp_path) for part in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "missing.sqlite").exists() and not (tmp_path / "out.txt").exists()
    # a missing key file never becomes a second signing key, and nothing was appended before the refusal
    assert not list(tmp_path.glob("other*"))
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'l.sqlite'}", create=False)
    try:
        assert ledger.verify().entries == 0
    finally:
        ledger.close()


def test_ledger_at_an_older_schema_is_migrated_by_init_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ledger made at revision 0001 (before token revocations and writer proofs), written as that release
    wrote it (no proofs), with one checkpoint and one entry after it, is refused with a pointer to `init`;
    `init` migrates it without touching its entries and seals the old tail as found, once."""
    from alembic import command
    from alembic.config import Config

    from misflag.ledger._keys import checkpoint_message, key_id, load_or_create, public_bytes
    from misflag.ledger._merkle import compact_root
    from misflag.ledger._store import MIGRATIONS
    from misflag.ledger._verify import GENESIS, entry_hash

    db = tmp_path / "old.sqlite"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    old = Ledger(f"sqlite:///{db}", key_path=tmp_path / "k.pem")
    with old.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    old.close()
    key = load_or_create(tmp_path / "k.pem")
    name = key_id(public_bytes(key))
    raw = sqlite3.connect(db, isolation_level=None)
    prev, hashes = GENESIS, []
    for seq in range(4):
        body = json.dumps(
            {"actor": "a", "groups": {}, "payload": {"n": seq}, "role": "recorder", "ts": now()},
            sort_keys=True,
            separators=(",", ":"),
        )
        digest = entry_hash(prev, seq, "notice_sent", "c1", body)
        raw.execute(
            "INSERT INTO ledger_entries VALUES (?, ?, ?, ?, ?, ?)",
            (seq, prev, digest, "notice_sent", "c1", body),
        )
        prev = digest
        hashes.append(digest)
    root, frontier = compact_root([], hashes[:3])
    stamp = now()
    raw.execute(
        "INSERT INTO ledger_checkpoints VALUES (3, ?, ?, ?, ?, ?)",
        (
            root,
            stamp,
            name,
            key.sign(checkpoint_message(3, root, stamp, name)),
            json.dumps([[h, v.hex()] for h, v in frontier]),
        ),
    )
    raw.close()
    capsys.readouterr()
    assert main(["ledger", "verify", "--db", str(db), "--key-fingerprint", name]) == 2
    assert "migrate it with `misflag ledger init`" in capsys.readouterr().err
    assert main(["ledger", "init", "--db", str(db), "--key", str(tmp_path / "k.pem")]) == 0
    migrated = Ledger.open(str(db), key_path=tmp_path / "k.pem", create=False)
    after = migrated.verify(require_sealed=True, public_keys={name: public_bytes(key)})
    assert after.ok and after.entries == 4 and after.sealed == 4, after.problem
    with migrated.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT hash FROM ledger_entries ORDER BY seq").fetchall()
    assert [bytes(row[0]) for row in stored] == hashes, "init rewrites nothing"
    # the old entries, under a verified checkpoint, count in a case's history without a writer proof
    flag = {"rule_id": "r", "rule_version": "1", "input_digest": "sha256:ab"}
    migrated.append([Event("flagged", "c1", "a", "recorder", flag)])
    migrated.checkpoint()
    assert migrated.verify(require_sealed=True, public_keys={name: public_bytes(key)}).ok
    migrated.close()
