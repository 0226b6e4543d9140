"""What a third party holds is enough: the public key and a witness file verify an exported ledger offline;
`init` publishes the key; the HTTP head feeds a witness; CSV exports neutralise formulas."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from misflag.api import create_app
from misflag.cli import main
from misflag.ledger import Event, Ledger, authenticate, create_token
from misflag.ledger._keys import checkpoint_message, key_id, public_bytes
from misflag.ledger._merkle import MerkleTree
from misflag.ledger._verify import entry_hash

TABLES = ("ledger_entries", "ledger_checkpoints", "ledger_keys", "ledger_tokens", "ledger_token_revocations")


# -- a third party verifies an export offline ----------------------------------------------------------


def _export_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write_lines(path: Path, lines: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_third_party_verifies_an_export_offline_with_the_public_key_and_a_witness_file(
    target: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The third party holds only the published public key file and its own witness file: the export
    verifies; a rewritten-and-resigned export, a truncated export and a forged key all fail (exit 2)."""
    ledger = target.seed()
    witness = tmp_path / "third-party" / "witness.jsonl"
    witness.parent.mkdir()
    public = witness.parent / "ledger.pub"
    public.write_text(target.key.with_suffix(".pub").read_text())
    ledger.checkpoint(publish=[witness])
    ledger.append([target.flag("c-late")])
    ledger.checkpoint(publish=[witness])
    ledger.close()
    export = tmp_path / "ledger.jsonl"
    assert main(["ledger", "export", str(export), "--db", target.url]) == 0
    offline = [
        "ledger",
        "verify",
        "--export",
        str(export),
        "--public-key",
        str(public),
        "--witness",
        str(witness),
    ]
    capsys.readouterr()
    assert main(offline) == 0
    assert "ok: 7 entries chained" in capsys.readouterr().out

    lines = _export_lines(export)
    entries = [line for line in lines if line.get("t") == "entry"]
    # 1. Rewrite entry 2, rechain, re-sign every checkpoint with a new key shipped in the export.
    forged = [dict(line) for line in lines]
    stranger = Ed25519PrivateKey.generate()
    name, prev = key_id(public_bytes(stranger)), bytes.fromhex(entries[1]["hash"])
    hashes = [bytes.fromhex(line["hash"]) for line in entries[:2]]
    for line in forged:
        if line.get("t") == "entry" and line["seq"] >= 2:
            if line["seq"] == 2:
                line["body"] = line["body"].replace("screening", "someone")
            line["prev"] = prev.hex()
            digest = entry_hash(prev, line["seq"], line["kind"], line["case_id"], line["body"])
            line["hash"], prev = digest.hex(), digest
            hashes.append(digest)
    tree = MerkleTree(hashes)
    for line in forged:
        if line.get("t") == "checkpoint":
            root = tree.root(line["tree_size"])
            line |= {"root": root.hex(), "key_id": name}
            line["signature"] = stranger.sign(
                checkpoint_message(line["tree_size"], root, line["ts"], name)
            ).hex()
        if line.get("t") == "key":
            line |= {"key_id": name, "public_key": public_bytes(stranger).hex()}
    _write_lines(export, forged)
    assert main(offline) == 2
    assert "not trusted" in capsys.readouterr().err
    # 2. Truncate: drop the last entry and the checkpoint covering it; only the witness can tell.
    cut = [line for line in lines if not (line.get("t") == "entry" and line["seq"] == 6)]
    cut = [line for line in cut if not (line.get("t") == "checkpoint" and line["tree_size"] == 7)]
    _write_lines(export, cut)
    assert main(offline[:-2]) == 0, "without a witness a clean cut is invisible (documented)"
    assert main(offline) == 2
    assert "truncated: a head of 7 entries" in capsys.readouterr().err
    # 3. The export verified against a key that is not the published one.
    _write_lines(export, lines)
    other = public_bytes(Ed25519PrivateKey.generate())
    assert main([*offline[:4], "--public-key", f"{key_id(other)}={other.hex()}"]) == 2
    assert main(["ledger", "verify", "--export", str(export)]) == 2
    assert "not trusted by itself" in capsys.readouterr().err
    # 4. Pinned by fingerprint alone: the key shipped in the export is trusted only if its id matches.
    fingerprint = public.read_text().split("\n")[1].split("=")[0]
    assert main([*offline[:4], "--key-fingerprint", fingerprint]) == 0
    _write_lines(export, forged)
    capsys.readouterr()
    assert main([*offline[:4], "--key-fingerprint", fingerprint]) == 2
    assert "no public key with fingerprint" in capsys.readouterr().err


def test_csv_exports_neutralise_formulas(target: Any, tmp_path: Path) -> None:
    """A spreadsheet formula recorded in the ledger leaves the CSV export as text (CLI and HTTP)."""
    ledger = target.open()
    hostile = Event(
        kind="flagged",
        case_id="c1",
        actor="screening",
        role="recorder",
        payload={"rule_id": '=HYPERLINK("http://x")', "rule_version": "+1", "input_digest": "@d"},
        groups={"site": "-2+3"},
    )
    ledger.append([hostile])
    auditor = create_token(ledger, "auditor-1", "auditor", actor="root")
    ledger.close()
    out = tmp_path / "log.csv"
    # the key folder: its `.pub` pins the checkpoints' key, its writer key vouches for the unsealed flag
    assert main(["ledger", "export", str(out), "--db", target.url, "--key", str(target.key)]) == 0
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MISFLAG_LEDGER_KEY", str(target.key))
        app = create_app(data_dir=tmp_path / "serve", ledger_db=target.url)
        answer = TestClient(app, base_url="http://localhost").get(
            "/ledger/export?format=csv", headers={"Authorization": f"Bearer {auditor}"}
        )
        app.state.ledger.close()
    assert answer.status_code == 200
    for text in (out.read_text(), answer.text):
        (row,) = list(csv.DictReader(io.StringIO(text)))
        assert (row["rule_id"], row["rule_version"], row["site"]) == (
            '\'=HYPERLINK("http://x")',
            "'+1",
            "'-2+3",
        )


def test_init_publishes_the_key_and_the_http_head_feeds_a_witness(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], owner: Any, make_event: Any
) -> None:
    """`init` writes the public key outside the database and prints its fingerprint; a witness that
    appends `GET /ledger/heads/latest` to its file later catches a rewrite before that head."""
    db = str(tmp_path / "ledger.sqlite")
    assert main(["ledger", "init", "--db", db]) == 0
    made = capsys.readouterr()
    report = json.loads(made.out)
    public = bytes.fromhex(report["public_key"].split("=")[1])
    assert report["key_id"] == hashlib.sha256(public).hexdigest()[:32]
    assert report["public_key"] in Path(report["public_key_file"]).read_text()
    assert f"key fingerprint to pin: {report['key_id']}" in made.err
    ledger = Ledger.open(db)
    ledger.append([make_event("flagged", "c1"), make_event("flagged", "c2")])
    recorder = create_token(ledger, "recorder-1", "recorder", actor="root")
    ledger.close()
    witness = tmp_path / "witness.jsonl"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MISFLAG_LEDGER_KEY", str(tmp_path / "ledger.sqlite.signing-key.pem"))
        app = create_app(data_dir=tmp_path / "serve", ledger_db=db)
        client = TestClient(app, base_url="http://localhost")
        headers = {"Authorization": f"Bearer {recorder}"}
        sealed = client.post("/ledger/checkpoints", headers=headers).json()
        latest = client.get("/ledger/heads/latest", headers=headers)
        app.state.ledger.close()
    assert latest.status_code == 200 and json.loads(latest.text) == sealed
    assert sealed["format"] == "misflag-ledger-head/1" and sealed["tree_size"] == 3
    witness.write_text(latest.text)
    owner = owner(f"sqlite:///{db}")
    body = owner.run("SELECT body FROM ledger_entries WHERE seq = 1")[0][0]
    owner.run("UPDATE ledger_entries SET body = :b WHERE seq = 1", b=body.replace("screening", "someone"))
    owner.rechain(1)
    owner.run("DELETE FROM ledger_checkpoints")  # the owner drops every checkpoint (and the local heads)
    (tmp_path / "ledger.sqlite.signing-key.heads.jsonl").unlink()
    capsys.readouterr()
    pin = ["--key-fingerprint", report["key_id"]]
    assert main(["ledger", "verify", "--db", db, *pin, "--witness", str(witness)]) == 2
    assert "rewritten: the first 3 entries differ" in capsys.readouterr().err
    witness.unlink()  # without the witness: the token's entry is no longer sealed, and verify says so
    assert main(["ledger", "verify", "--db", db, *pin]) == 2
    assert "(token_created) is not sealed" in capsys.readouterr().err


def test_a_service_started_before_the_key_existed_admits_tokens_made_later(
    store_url: str, tmp_path: Path
) -> None:
    """The first request may come before any key is pinned; the anchors are read again once they exist."""
    key = tmp_path / "fresh-key.pem"
    service = Ledger.open(store_url, key_path=key, owner="allow")
    assert authenticate(service, "mfl_not-a-token") is None
    admin = Ledger.open(store_url, key_path=key, owner="allow")
    token = create_token(admin, "late-admin", "admin", actor="root")
    admin.close()
    found = authenticate(service, token)
    assert found is not None and (found.name, found.role) == ("late-admin", "admin")
    service.close()
