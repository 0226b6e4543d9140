"""HTTP API of the ledger: every endpoint × every role (no token → 401, wrong role → 403), auditor reads
logged, and schemathesis against the OpenAPI spec finds no server error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from misflag.api import create_app
from misflag.ledger import ROLES, Ledger, create_token, read_entries, token_id
from tests.ledger._plant import entry_body, plant

FLAG = {
    "kind": "flagged",
    "case_id": "c-new",
    "payload": {"rule_id": "r", "rule_version": "1", "input_digest": "d"},
}
UNKNOWN_TOKEN_ID = "0123456789abcdef"
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, set[str]]] = [
    ("POST", "/ledger/events", {"events": [FLAG]}, {"recorder", "admin"}),
    ("GET", "/ledger/entries", None, {"auditor", "admin"}),
    ("GET", "/ledger/cases/c0", None, {"reviewer", "auditor", "admin"}),
    ("GET", "/ledger/verify", None, {"auditor", "admin"}),
    ("GET", "/ledger/checkpoints", None, set(ROLES)),
    ("POST", "/ledger/checkpoints", None, {"recorder", "admin"}),
    ("GET", "/ledger/heads/latest", None, set(ROLES)),
    ("GET", "/ledger/proofs/inclusion?seq=0", None, {"auditor", "admin"}),
    ("GET", "/ledger/proofs/consistency?first=1", None, {"auditor", "admin"}),
    ("GET", "/ledger/export?format=csv", None, {"auditor", "admin"}),
    ("POST", "/ledger/tokens", {"name": "n", "role": "auditor"}, {"admin"}),
    ("GET", "/ledger/tokens", None, {"admin"}),
    ("POST", f"/ledger/tokens/{UNKNOWN_TOKEN_ID}/revoke", None, {"admin"}),
    ("GET", "/ledger/rules", None, set(ROLES)),
    ("PUT", "/ledger/rules", {"rule_set": {"version": 1}}, {"admin"}),
]


@pytest.fixture
def served(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_case: Any
) -> Iterator[tuple[FastAPI, dict[str, str], Ledger]]:
    """The app on a seeded ledger (one lawful case, sealed) and a token per role."""
    monkeypatch.setenv("MISFLAG_LEDGER_KEY", str(tmp_path / "key.pem"))
    monkeypatch.setenv("MISFLAG_LEDGER_ALLOW_OWNER", "1")  # the test role owns its schema
    ledger = Ledger.open(store_url, owner="allow")
    ledger.append(make_case("c0", sex="F"))
    ledger.checkpoint()
    tokens = {role: create_token(ledger, f"{role}-1", role, actor="setup") for role in ROLES}
    app = create_app(data_dir=tmp_path / "serve", ledger_db=store_url)
    yield app, tokens, ledger
    if getattr(app.state, "ledger", None) is not None:
        app.state.ledger.close()
    ledger.close()


def test_ledger_api_every_endpoint_is_listed(served: tuple[FastAPI, dict[str, str], Ledger]) -> None:
    paths = served[0].openapi()["paths"]
    routes = {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/ledger")
        for method in operations
    }
    tested = {
        (method, path.split("?")[0].replace("/c0", "/{case_id}").replace(UNKNOWN_TOKEN_ID, "{token_id}"))
        for method, path, _, _ in ENDPOINTS
    }
    assert routes == tested


def test_ledger_api_access_matrix(served: tuple[FastAPI, dict[str, str], Ledger]) -> None:
    app, tokens, _ = served
    client = TestClient(app, base_url="http://localhost")
    for method, path, body, allowed in ENDPOINTS:
        assert client.request(method, path, json=body).status_code == 401, (method, path)
        bad = {"Authorization": "Bearer mfl_not-a-token"}
        assert client.request(method, path, json=body, headers=bad).status_code == 401, (method, path)
        for role, token in tokens.items():
            answer = client.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
            if role in allowed:
                assert answer.status_code not in (401, 403) and answer.status_code < 500, (
                    method,
                    path,
                    role,
                    answer.text,
                )
            else:
                assert answer.status_code == 403, (method, path, role, answer.status_code)


def test_ledger_api_append_rules_and_auditor_reads(served: tuple[FastAPI, dict[str, str], Ledger]) -> None:
    app, tokens, ledger = served
    client = TestClient(app, base_url="http://localhost")

    def auth(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[role]}"}

    first = client.post("/ledger/events", json={"events": [FLAG]}, headers=auth("recorder"))
    assert first.status_code == 200
    seq = first.json()["entries"][0]["seq"]
    stored = read_entries(ledger, start=seq, limit=1)[0]
    assert stored["actor"] == "recorder-1" and stored["role"] == "recorder", (
        "actor and role come from the token"
    )
    refused = client.post(
        "/ledger/events",
        json={"events": [{"kind": "action", "case_id": "c-new", "payload": {"action": "hold"}}]},
        headers=auth("recorder"),
    )
    assert refused.status_code == 409 and "review_before_action" in refused.json()["detail"]
    invalid = client.post(
        "/ledger/events", json={"events": [{"kind": "flagged", "case_id": "c-x"}]}, headers=auth("recorder")
    )
    assert invalid.status_code == 422 and "payload lacks" in invalid.json()["detail"]
    before = ledger.verify().entries
    assert client.get("/ledger/cases/c0", headers=auth("reviewer")).status_code == 200
    assert ledger.verify().entries == before, "a reviewer's read is not logged"
    assert client.get("/ledger/cases/c0", headers=auth("auditor")).status_code == 200
    logged = read_entries(ledger, start=before, limit=5)
    assert [(e["kind"], e["actor"], e["payload"]["case_id"]) for e in logged] == [
        ("auditor_read", "auditor-1", "c0")
    ]
    assert client.get("/ledger/cases/nope", headers=auth("reviewer")).status_code == 404
    export = client.get("/ledger/export?format=csv", headers=auth("auditor"))
    assert export.status_code == 200 and export.text.splitlines()[0].startswith('"case_id","sex","flagged"')
    loosen = {"rule_set": {"version": 2, "rules": {"notice_before_action": False}}}
    assert client.put("/ledger/rules", json=loosen, headers=auth("admin")).status_code == 422
    done = client.put("/ledger/rules", json=loosen | {"reason": "pilot"}, headers=auth("admin"))
    assert done.status_code == 200 and done.json()["loosened"] == ["notice_before_action"]
    (fingerprint,) = ledger.pinned_keys()
    pinned = client.get(
        f"/ledger/verify?require_sealed=false&key_fingerprint={fingerprint}", headers=auth("auditor")
    )
    assert pinned.json()["ok"] is True


def test_ledger_api_token_revocation(served: tuple[FastAPI, dict[str, str], Ledger]) -> None:
    """A revoked token gets 401 at once; listing shows who revoked it and when; both acts are entries."""
    app, tokens, ledger = served
    client = TestClient(app, base_url="http://localhost")
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    made = client.post("/ledger/tokens", json={"name": "temp-reviewer", "role": "reviewer"}, headers=admin)
    assert made.status_code == 200
    held, identifier = made.json()["token"], made.json()["id"]
    assert identifier == token_id(held) and len(identifier) == 16
    assert client.get("/ledger/cases/c0", headers={"Authorization": f"Bearer {held}"}).status_code == 200
    listed = {row["id"]: row for row in client.get("/ledger/tokens", headers=admin).json()}
    assert listed[identifier] | {"created": None} == {
        "id": identifier,
        "name": "temp-reviewer",
        "role": "reviewer",
        "created": None,
        "revoked": None,
        "revoked_by": None,
    }
    assert held not in json.dumps(listed), "listing never shows a token"
    revoked = client.post(f"/ledger/tokens/{identifier}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["name"] == "temp-reviewer"
    assert client.get("/ledger/cases/c0", headers={"Authorization": f"Bearer {held}"}).status_code == 401
    again = client.post(f"/ledger/tokens/{identifier}/revoke", headers=admin)
    assert again.status_code == 422 and "already revoked" in again.json()["detail"]
    assert client.post("/ledger/tokens/not-an-id/revoke", headers=admin).status_code == 422
    after = {row["id"]: row for row in client.get("/ledger/tokens", headers=admin).json()}
    assert after[identifier]["revoked"] is not None and after[identifier]["revoked_by"] == "admin-1"
    entry = read_entries(ledger, start=revoked.json()["revoked_in_entry"], limit=1)[0]
    assert (entry["kind"], entry["actor"], entry["payload"]["id"]) == ("token_revoked", "admin-1", identifier)
    created = [e for e in read_entries(ledger, limit=1000) if e["kind"] == "token_created"]
    assert identifier in {e["payload"].get("id") for e in created}
    assert all(row["revoked"] is None for key, row in after.items() if key != identifier)
    assert ledger.verify(require_sealed=False, public_keys=ledger.pinned_keys()).ok


@pytest.mark.slow
def test_ledger_api_schemathesis_finds_no_server_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_case: Any
) -> None:
    """Schemathesis cases for every ledger operation, with an admin token and without: never a 5xx."""
    monkeypatch.setenv("MISFLAG_LEDGER_KEY", str(tmp_path / "key.pem"))
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    ledger = Ledger.open(url)
    ledger.append(make_case("c0"))
    ledger.checkpoint()
    token = create_token(ledger, "admin-1", "admin", actor="setup")
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json",
        create_app(data_dir=tmp_path / "serve", ledger_db=url, allowed_hosts=("testserver",)),
    )
    operations = [result.ok() for result in schema.include(path_regex="^/ledger").get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) == len(ENDPOINTS)
    failures: list[str] = []
    seen: set[int] = set()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case: Any) -> None:
            for headers in ({"Authorization": f"Bearer {token}"}, {}):
                response = case.call(headers=headers)
                seen.add(response.status_code)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}"
                    )

        fuzz()
    ledger.close()
    assert failures == []
    assert {200, 401} <= seen, f"the fuzzer must reach the routes, saw only {sorted(seen)}"


def test_ledger_api_verify_pins_the_key_the_caller_names(
    served: tuple[FastAPI, dict[str, str], Ledger],
) -> None:
    """`GET /ledger/verify?key_fingerprint=` trusts only the key with that id, and the answer says what it
    trusted; a fingerprint of another key is refused with one clear line."""
    app, tokens, ledger = served
    client = TestClient(app, base_url="http://localhost")
    headers = {"Authorization": f"Bearer {tokens['auditor']}"}
    (fingerprint,) = ledger.pinned_keys()
    pinned = client.get(f"/ledger/verify?key_fingerprint={fingerprint.upper()}", headers=headers)
    assert pinned.status_code == 200 and pinned.json()["ok"] is True
    assert pinned.json()["trusted"] == f"key {fingerprint}, pinned by the caller"
    default = client.get("/ledger/verify", headers=headers).json()
    assert (default["ok"], default["status"], default["consistent"], default["problem"]) == (
        False,
        "unpinned",
        True,
        None,
    ), "without a pin the answer is never ok, however consistent the ledger"
    assert default["anchors"] == [fingerprint] and default["trusted"].startswith(
        f"the service's own key anchors ({fingerprint}; the operator's view): not ok until"
    )
    other = "0" * 32 if fingerprint != "0" * 32 else "1" * 32
    refused = client.get(f"/ledger/verify?key_fingerprint={other}", headers=headers)
    assert refused.status_code == 422 and refused.json()["detail"].startswith(
        f"no public key with fingerprint {other}"
    )
    malformed = client.get("/ledger/verify?key_fingerprint=not-hex", headers=headers)
    assert malformed.status_code == 422 and "32 hex digits" in malformed.json()["detail"]


def test_ledger_api_export_refuses_a_case_entry_planted_without_a_proof(
    served: tuple[FastAPI, dict[str, str], Ledger], store_url: str
) -> None:
    """A `corrected` row inserted around the service (no writer proof) is never exported: the decision
    log answers 503 naming the entry. As admin, whose reads are not logged (an auditor's read is an append, which refuses to chain onto
    the planted row first)."""
    app, tokens, _ = served
    client = TestClient(app, base_url="http://localhost")
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    assert client.get("/ledger/export?format=csv", headers=admin).status_code == 200
    seq = plant(
        store_url, "corrected", "c0", entry_body({"flag_was_wrong": True}, actor="x", role="reviewer")
    )
    refused = client.get("/ledger/export?format=csv", headers=admin)
    named = f"refusing to export the decision log: entry {seq} ('corrected') carries no valid writer proof"
    assert refused.status_code == 503 and refused.json()["detail"].startswith(named)


def test_ledger_api_export_of_the_whole_ledger_writes_nothing(
    served: tuple[FastAPI, dict[str, str], Ledger],
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """`GET /ledger/export?format=ledger` is a read: with an unsealed entry in the store, an admin's
    export leaves the entry count and the latest checkpoint as they were (it used to seal the tail
    first, a checkpoint written by a GET), an auditor's adds only the logged read; the file carries the
    tail as it stands, which `verify_export` counts as unsealed."""
    from misflag.ledger import verify_export

    monkeypatch.setenv("MISFLAG_LEDGER_CHECKPOINT_SECONDS", "3600")  # the service's sealer stays idle
    app, tokens, ledger = served
    client = TestClient(app, base_url="http://localhost")

    def auth(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[role]}"}

    assert client.post("/ledger/events", json={"events": [FLAG]}, headers=auth("recorder")).status_code == 200
    engine = sa.create_engine(store_url)

    def stored() -> tuple[int, int, list[str]]:
        with engine.connect() as connection:
            count = connection.exec_driver_sql("SELECT count(*) FROM ledger_entries").scalar_one()
            sealed = connection.exec_driver_sql("SELECT max(tree_size) FROM ledger_checkpoints").scalar_one()
            kinds = connection.exec_driver_sql("SELECT kind FROM ledger_entries ORDER BY seq").scalars()
            return int(count), int(sealed), list(kinds)

    count, sealed, kinds = stored()
    assert count == sealed + 1 and kinds[-1] == "flagged"  # the recorder's entry, unsealed
    answer = client.get("/ledger/export?format=ledger", headers=auth("admin"))
    assert answer.status_code == 200
    assert stored() == (count, sealed, kinds)
    lines = [json.loads(line) for line in answer.text.splitlines()]
    assert lines[0]["entries"] == count and sum(line.get("t") == "entry" for line in lines) == count
    assert max(line["tree_size"] for line in lines if line.get("t") == "checkpoint") == sealed
    assert client.get("/ledger/export?format=ledger", headers=auth("auditor")).status_code == 200
    assert stored() == (count + 1, sealed, [*kinds, "auditor_read"])
    engine.dispose()
    exported = tmp_path / "exported.jsonl"
    exported.write_text(answer.text, encoding="utf-8")
    report = verify_export(exported, ledger.pinned_keys())
    assert (report.problem, report.entries, report.sealed, report.unsealed) == (None, count, sealed, 1)
