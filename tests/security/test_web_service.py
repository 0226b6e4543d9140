"""The web service against a hostile web page and a hostile network: foreign Host names (DNS rebinding),
cross-site form posts, missing security headers, CDN-loaded docs, readable data files, CSV formulas,
masked columns reached through a pattern, and access without a token when the service is exposed."""

from __future__ import annotations

import csv
import io
import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from misflag.api import create_app

BASE = "http://127.0.0.1:8000"
HTML = {"accept": "text/html"}
LOG = b"region,flag,truth,full_name\n" + b"".join(
    f"{r},{i % 3 == 0:d},{i % 4 == 0:d},person {i}\n".encode()
    for i, r in enumerate(["north", "south", "=cmd|' /C calc'!A0", "+1+1", "-2", "@SUM(A1)"] * 50)
)


def _token(client: TestClient, path: str = "/") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path, headers=HTML).text)
    assert found
    return found.group(1)


def _upload(client: TestClient, **headers: str) -> Any:
    return client.post("/api/uploads", files={"file": ("log.csv", LOG, "text/csv")}, headers=headers)


def _wait(client: TestClient, job_id: str) -> dict[str, Any]:
    for _ in range(1200):
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] not in {"queued", "running"}:
            return job
        time.sleep(0.1)
    raise AssertionError("the job did not finish")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str, str]]:
    """A service with one upload and one finished audit grouped by the formula-like region."""
    app = create_app(data_dir=tmp_path_factory.mktemp("web"))
    with TestClient(app, base_url=BASE) as client:
        upload_id = _upload(client).json()["upload_id"]
        body = {"upload_id": upload_id, "truth": "truth", "flag": "flag", "groups": ["region"], "min_cell": 1}
        job = client.post("/api/audits", json=body | {"replicates": 100}).json()
        assert _wait(client, job["job_id"])["state"] == "done"
        yield client, upload_id, job["job_id"]


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "localhost.evil", "0.0.0.0", ""]
)
def test_foreign_host_is_refused(served: Any, host: str) -> None:
    client, upload_id, _job = served
    for path in ("/", f"/api/uploads/{upload_id}", "/openapi.json", "/ledger/rules"):
        reply = client.get(path, headers={"host": host})
        assert reply.status_code == 400, (host, path)
        assert "answers only to the host names" in reply.json()["detail"]


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST", "localhost."]
)
def test_loopback_names_are_served(served: Any, host: str) -> None:
    client, upload_id, _job = served
    assert client.get(f"/api/uploads/{upload_id}", headers={"host": host}).status_code == 200


def test_allowed_host_adds_a_name(tmp_path: Path) -> None:
    with TestClient(create_app(data_dir=tmp_path, allowed_hosts=["audit.internal"]), base_url=BASE) as client:
        assert client.get("/openapi.json", headers={"host": "audit.internal:8443"}).status_code == 200
        assert client.get("/openapi.json", headers={"host": "other.internal"}).status_code == 400


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example"},
        {"origin": "null"},
        {"origin": "null", "sec-fetch-site": "cross-site"},
        {"origin": "http://127.0.0.1:9999"},  # another port is another origin
        {"referer": "http://evil.example/page.html"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
    ],
)
def test_cross_site_posts_are_refused(served: Any, headers: dict[str, str]) -> None:
    client, upload_id, _job = served
    assert _upload(client, **headers).status_code == 403
    form = {"truth": "truth", "flag": "flag", "csrf_token": _token(client, f"/uploads/{upload_id}")}
    reply = client.post(f"/uploads/{upload_id}/audit", data=form, headers=headers | HTML)
    assert reply.status_code == 403 and "cross-site request refused" in reply.text
    assert client.post("/ledger/events", json={"events": []}, headers=headers).status_code == 403
    assert client.delete(f"/api/uploads/{upload_id}", headers=headers).status_code == 403


def test_page_forms_need_their_token(served: Any) -> None:
    client, upload_id, _job = served
    same_site = {"origin": BASE} | HTML
    form = {"truth": "truth", "flag": "flag"}
    for token in (
        None,
        "",
        "x" * 43,
        _token(TestClient(client.app, base_url=BASE)),
    ):  # last: another visitor's
        data = form | ({"csrf_token": token} if token is not None else {})
        reply = client.post(f"/uploads/{upload_id}/audit", data=data, headers=same_site)
        assert reply.status_code == 403 and "anti-forgery token" in reply.text
        files = {"file": ("log.csv", LOG, "text/csv")}
        reply = client.post("/upload", data=data, files=files, headers=same_site)
        assert reply.status_code == 403 and "anti-forgery token" in reply.text
    reply = client.post(
        f"/uploads/{upload_id}/audit", data=form | {"csrf_token": _token(client)}, headers=same_site
    )
    assert reply.status_code == 200 and "/jobs/" in str(reply.url)


def test_json_api_needs_no_form_token(served: Any) -> None:
    client, upload_id, _job = served
    assert _upload(client).status_code == 201  # no Origin: not a browser form
    reply = client.post("/api/audits", json={"upload_id": upload_id, "truth": "truth", "flag": "flag"})
    assert reply.status_code == 202


def test_security_headers_on_every_response(served: Any) -> None:
    client, upload_id, job_id = served
    requests = [
        ("GET", "/", HTML),
        ("GET", f"/uploads/{upload_id}", HTML),
        ("GET", f"/jobs/{job_id}", HTML),
        ("GET", f"/jobs/{job_id}/report.html", {}),
        ("GET", f"/jobs/{job_id}/report.html?download=true", {}),
        ("GET", f"/jobs/{job_id}/result.csv", {}),
        ("GET", f"/jobs/{job_id}/result.json", {}),
        ("GET", "/docs", {}),
        ("GET", "/static/swagger/swagger-ui-bundle.js", {}),
        ("GET", "/openapi.json", {}),
        ("GET", "/inventory/", {}),
        ("GET", "/ledger/rules", {}),  # 401
        ("GET", "/no/such/page", HTML),  # 404
        ("GET", "/", {"host": "evil.example"}),  # refused before any route
        ("POST", "/api/uploads", {"origin": "http://evil.example"}),
    ]
    for method, path, headers in requests:
        reply = client.request(method, path, headers=headers)
        policy = reply.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy, path
        assert "http:" not in policy and "https:" not in policy and "*" not in policy, path
        assert reply.headers["x-content-type-options"] == "nosniff", path
        assert reply.headers["x-frame-options"] == "DENY", path
        assert reply.headers["referrer-policy"] == "same-origin", path  # no URL leaves the site


def test_page_scripts_run_only_with_the_page_nonce_or_hash(served: Any) -> None:
    client, _upload_id, job_id = served
    page = client.get("/inventory/", headers=HTML)
    nonce = re.search(r"'nonce-([^']+)'", page.headers["content-security-policy"])
    assert nonce and f'<script nonce="{nonce.group(1)}">' in page.text
    assert "onchange=" not in page.text  # inline handlers would be blocked
    report = client.get(f"/jobs/{job_id}/report.html")
    hashes = re.findall(r"'sha256-[A-Za-z0-9+/=]+'", report.headers["content-security-policy"])
    scripts = [s for s in re.findall(r"<script([^>]*)>", report.text) if "application/json" not in s]
    assert len(hashes) == len(scripts) >= 1  # one hash per executable script, nothing else allowed


def test_docs_work_offline(served: Any) -> None:
    client, _upload, _job = served
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    assert not re.search(r"https?://", page.text)
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 100, url
    assert client.get("/openapi.json").json()["info"]["title"] == "misflag"
    assert client.get("/redoc").status_code == 404  # ReDoc would need a CDN: not offered
    assert client.get("/static/swagger/redoc.standalone.js").status_code == 404  # only the files /docs needs


def test_data_files_are_private(served: Any) -> None:
    client, _upload, _job = served
    root = client.app.state.settings.data_dir
    checked = 0
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.is_dir():
            assert mode == 0o700, (path, oct(mode))
        else:
            assert mode == 0o600, (path, oct(mode))
        checked += 1
    names = {p.name for p in root.rglob("*")}
    assert {"uploads", "jobs", "meta.json", "input.csv", "status.json", "result.json", "report.html"} <= names
    assert checked > 8


def test_result_csv_neutralises_formulas(served: Any) -> None:
    client, _upload, job_id = served
    text = client.get(f"/jobs/{job_id}/result.csv").text
    rows = list(csv.DictReader(io.StringIO(text)))
    groups = {row["group"] for row in rows if row["attribute"] == "region"}
    assert groups == {"north", "south", "'=cmd|' /C calc'!A0", "'+1+1", "'-2", "'@SUM(A1)"}
    for row in rows:
        for column in ("attribute", "group", "stage", "metric", "warning"):
            assert not row[column].startswith(("=", "+", "@", "\t", "\r")), row
            assert not re.match(r"-[^0-9]", row[column]), row


@pytest.mark.parametrize(
    "group",
    [
        "full_name",
        "FULL_NAME",
        '"full_name"',
        "upper(full_name)",
        "COLUMNS('full_.*')",
        "*",
        "region || full_name",
    ],
)
def test_identifier_columns_cannot_be_grouped_by_any_spelling(served: Any, group: str) -> None:
    client, upload_id, _job = served
    body = {"upload_id": upload_id, "truth": "truth", "flag": "flag", "groups": [group]}
    reply = client.post("/api/audits", json=body)
    assert 400 <= reply.status_code < 500, (group, reply.text)
    assert "person 1" not in reply.text


def test_http_gives_the_cli_message_for_a_bad_expression(served: Any) -> None:
    from misflag.errors import ExpressionError
    from misflag.io import check_expression

    client, upload_id, _job = served
    for bad in ("nope", "flag +", "(SELECT 1)"):
        with pytest.raises(ExpressionError) as raised:
            check_expression(bad, ["region", "flag", "truth", "full_name"], "{flag}")  # names the field
        reply = client.post("/api/audits", json={"upload_id": upload_id, "truth": "truth", "flag": bad})
        assert reply.status_code == 400 and reply.json()["detail"] == str(raised.value).splitlines()[0]


def test_http_schema_follows_the_decision_spec(served: Any) -> None:
    from dataclasses import fields

    from misflag.decisions import DecisionSpec

    client, _upload, _job = served
    schema = client.get("/openapi.json").json()["components"]["schemas"]["AuditRequest"]["properties"]
    # every field of the spec is offered but the release register's path, which only the service sets, and
    # a ledger (the service never opens one a request names)
    assert {f.name for f in fields(DecisionSpec)} - {"release_register", "ledger"} <= set(schema)
    assert "release_register" not in schema and "ledger" not in schema
    for field in ("bogus", "ledger"):
        body = {"upload_id": "0" * 32, "truth": "t", "flag": "f", field: "sqlite:///tmp/x.sqlite"}
        reply = client.post("/api/audits", json=body)
        assert reply.status_code == 422 and field in reply.text


def test_exposed_service_needs_a_token(tmp_path: Path) -> None:
    from misflag.ledger import Ledger, create_token

    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    ledger = Ledger.open(url)
    auditor = create_token(ledger, "auditor-1", "auditor", actor="test")
    recorder = create_token(ledger, "recorder-1", "recorder", actor="test")
    ledger.close()
    app = create_app(data_dir=tmp_path / "serve", ledger_db=url, require_token=True)
    with TestClient(app, base_url=BASE) as client:
        for path in ("/", "/api/uploads/" + "0" * 32, "/docs", "/openapi.json", "/inventory/"):
            assert client.get(path).status_code == 401, path
        assert _upload(client).status_code == 401
        assert _upload(client, authorization="Bearer mfl_wrong").status_code == 401
        assert _upload(client, authorization=f"Bearer {recorder}").status_code == 403
        assert _upload(client, authorization=f"Bearer {auditor}").status_code == 201
        assert client.get("/login").status_code == 200  # open: where a browser signs in
        token = _token(client, "/login")
        refused = client.post("/login", data={"token": recorder, "csrf_token": token}, headers=HTML)
        assert refused.status_code == 401 and client.get("/").status_code == 401
        signed = client.post("/login", data={"token": auditor, "csrf_token": token}, headers=HTML)
        assert signed.status_code == 200 and "Audit a decision log" in signed.text
        cookie = signed.history[0].headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert client.get("/", headers=HTML).status_code == 200
        client.post("/logout")
        assert client.get("/").status_code == 401


def test_a_bug_is_one_line_with_the_headers(tmp_path: Path) -> None:
    app = create_app(data_dir=tmp_path)

    def broken() -> None:
        raise ZeroDivisionError("secret detail")

    app.add_api_route("/broken", broken)
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as client:
        reply = client.get("/broken")
    assert reply.status_code == 500
    assert reply.json() == {"detail": "internal error (ZeroDivisionError); please report it"}
    assert reply.headers["x-content-type-options"] == "nosniff" and "secret" not in reply.text


def test_exposed_bind_needs_a_live_token_of_an_allowed_role(tmp_path: Path) -> None:
    from misflag.commands.serve import _check_tokens
    from misflag.errors import InputError
    from misflag.ledger import Ledger, create_token, revoke_token, token_id

    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    with pytest.raises(InputError, match="needs an access token"):
        _check_tokens(url, "0.0.0.0")  # no ledger at all
    ledger = Ledger.open(url)
    create_token(ledger, "recorder-1", "recorder", actor="test")
    auditor = create_token(ledger, "auditor-1", "auditor", actor="test")
    revoke_token(ledger, token_id(auditor), actor="test")
    ledger.close()
    with pytest.raises(InputError, match="needs an access token"):
        _check_tokens(url, "0.0.0.0")  # a recorder and a revoked auditor do not count
    ledger = Ledger.open(url)
    create_token(ledger, "admin-1", "admin", actor="test")
    ledger.close()
    _check_tokens(url, "0.0.0.0")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        (
            "x'); COPY (SELECT 1) TO '/tmp/owned.csv' --.csv",
            "owned.csv_ --.csv is not a known inventory layout",
        ),
        ("../../escape.csv", "escape.csv is not a known inventory layout"),
        ("a\"b'c.csv", "a_22b_c.csv is not a known inventory layout"),
        ("x.duckdb", "'x.duckdb' is not a .csv, .csv.gz or .parquet inventory file"),
    ],
)
def test_inventory_uploads_are_stored_under_server_made_names(tmp_path: Path, name: str, shown: str) -> None:
    with TestClient(create_app(data_dir=tmp_path / "data"), base_url=BASE) as client:
        reply = client.post("/inventory/check", files={"files": (name, b"a,b\n1,2\n", "text/csv")})
    assert reply.status_code == 422 and reply.json()["detail"].startswith(shown)
    assert str(tmp_path) not in reply.text
    assert not Path("/tmp/owned.csv").exists() and not list(tmp_path.parent.glob("escape.csv"))
    assert [p for p in (tmp_path / "data").rglob("*") if p.is_file()] == []
