"""The workbench's routes under attack: forged posts, oversized and hostile fields, markup in data values,
file paths where the CLI would read a file, masked columns, and the ledger page without a token."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from misflag.api import create_app
from misflag.api._workbench import AUDITS

BASE = "http://127.0.0.1:8000"
HTML = {"accept": "text/html"}
MARKUP = "<script>alert(1)</script>"


def _token(client: TestClient, path: str = "/") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path, headers=HTML).text)
    assert found
    return found.group(1)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = create_app(data_dir=tmp_path_factory.mktemp("workbench-security"))
    with TestClient(app, base_url=BASE) as client:
        yield client


def _upload(client: TestClient, kind: str, text: str) -> str:
    token = _token(client, f"/audits/{kind}")
    files = {"file": ("log.csv", text.encode(), "text/csv")}
    answer = client.post(
        f"/audits/{kind}/upload", data={"csrf_token": token}, files=files, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text[:300]
    return str(answer.headers["location"])


def _wait(client: TestClient, location: str) -> dict[str, Any]:
    job = location.rsplit("/", 1)[-1]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status: dict[str, Any] = client.get(f"/api/jobs/{job}").json()
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.3)
    raise AssertionError("the job did not finish")


@pytest.mark.parametrize("kind", ["decisions", *AUDITS])
def test_every_sample_post_needs_the_form_token(client: TestClient, kind: str) -> None:
    for data in ({}, {"csrf_token": "forged"}):
        answer = client.post(f"/audits/{kind}/sample", data=data, headers=HTML)
        assert answer.status_code == 403 and "anti-forgery token" in answer.text


def test_every_form_post_needs_the_form_token(client: TestClient) -> None:
    location = _upload(client, "biometrics", "score,genuine,grp\n0.5,1,a\n")
    forged = {"csrf_token": "forged", "score": "score", "genuine": "genuine", "threshold": "0.5"}
    for path in (location + "/run", "/audits/linkage-risk/run"):
        assert client.post(path, data=forged, headers=HTML).status_code == 403, path
    files = {"file": ("log.csv", b"a,b\n1,2\n", "text/csv")}
    assert client.post("/audits/monitor/upload", files=files, headers=HTML).status_code == 403
    pairs = _upload(client, "linkage-audit", "id_l,id_r,score\n1,2,0.9\n")
    assert client.post(pairs + "/records", files=files, headers=HTML).status_code == 403
    assert client.post(pairs + "/run", data=dict(forged, records="0" * 32), headers=HTML).status_code == 403


def test_a_post_from_another_site_is_refused_before_the_route(client: TestClient) -> None:
    token = _token(client, "/audits/inventory")
    answer = client.post(
        "/audits/inventory/sample", data={"csrf_token": token}, headers={"origin": "https://evil.example"}
    )
    assert answer.status_code == 403 and "cross-site" in answer.text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("population", "9" * 3000, "--population is longer than 2,000 characters"),
        ("population", "1e9", "--population must be a whole number"),
        ("rule", "/etc/passwd", "--rule must be one of crosscheck, last-dob, fuzzy-name-dob"),
        ("method", "montecarlo; rm -rf /", "--method must be one of analytic, montecarlo, both"),
        ("population_mix", "/etc/passwd", "--population-mix does not parse as JSON"),
        ("list_mix", '{"a": "lots"}', "--list-mix must be a JSON object of group: share"),
        ("population_mix", "[" * 100_000, "--population-mix is longer than 2,000 characters"),
        ("replicates", "100000", "--replicates must be between 1 and 100 on this service"),
        ("list_size", "999999999999", "--list must be at least 1 and at most --population"),
        ("prevalence", "nan", "--prevalence must be a finite number"),
        # checked as the CLI checks them, before a job starts, naming the flag
        ("prevalence", "0", "--prevalence must be in (0, 1], got 0.0"),
        ("seed", "-1", "--seed must be a whole number of at least 0, got -1"),
        ("replicates", "1", "Monte Carlo needs at least 2 replicates"),
        (
            "population",
            "100000000000",
            "--list must be at least 1 and at most --population, which is at most",
        ),
    ],
)
def test_hostile_linkage_risk_settings_get_one_line(
    client: TestClient, field: str, value: str, message: str
) -> None:
    token = _token(client, "/audits/linkage-risk")
    form = {
        "csrf_token": token,
        "rule": "crosscheck",
        "population": "1000000",
        "list_size": "1000",
        "method": "both",
        field: value,
    }
    answer = client.post("/audits/linkage-risk/run", data=form, headers=HTML)
    shown = re.search(r'id="error">([^<]*)<', answer.text)
    assert answer.status_code == 400 and shown, answer.text[:300]
    assert shown.group(1).replace("&#39;", "'").startswith(message)
    assert "Traceback" not in answer.text


@pytest.mark.parametrize(
    ("field", "value", "refused"),
    [
        ("score", "read_csv('/etc/passwd')", "read_csv"),
        ("score", "score; DROP TABLE x", "--score"),
        ("genuine", "(SELECT 1)", "--genuine"),
        ("group", "name", "--group cannot read name: its values are masked"),
        ("where", "getenv('HOME') = 'x'", "getenv"),
        ("score", "", "--score and --genuine are required"),
    ],
)
def test_hostile_biometrics_expressions_are_refused(
    client: TestClient, field: str, value: str, refused: str
) -> None:
    rows = "".join(f"0.{i},{i % 2},Person {i} Smith-{i * 7919},g{i % 2}\n" for i in range(60))
    location = _upload(client, "biometrics", "score,genuine,name,grp\n" + rows)
    token = _token(client, location)
    form = {"csrf_token": token, "score": "score", "genuine": "genuine", "threshold": "0.5", field: value}
    answer = client.post(location + "/run", data=form, headers=HTML)
    assert answer.status_code == 400, answer.text[:300]
    shown = re.search(r'id="error">([^<]*)<', answer.text)
    assert shown and refused in shown.group(1).replace("&#39;", "'"), shown
    assert "Person 1 Smith" not in answer.text  # a masked value never reaches the page


def test_markup_in_data_values_is_escaped_on_every_page(client: TestClient) -> None:
    rows = "".join(f"0.{i % 10},{i % 2},{MARKUP if i % 3 else 'plain'}\n" for i in range(90))
    location = _upload(client, "biometrics", "score,genuine,grp\n" + rows)
    page = client.get(location, headers=HTML).text
    assert MARKUP not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    token = _token(client, location)
    form = {"csrf_token": token, "score": "score", "genuine": "genuine", "group": "grp", "threshold": "0.5"}
    answer = client.post(location + "/run", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text[:300]
    status = _wait(client, answer.headers["location"])
    assert status["state"] == "done", status
    job_page = client.get(answer.headers["location"], headers=HTML).text
    assert MARKUP not in job_page.replace("\\u003c", "<").split('<script type="application/json"')[0]
    assert "<script>alert(1)" not in job_page


def test_an_upload_form_of_one_audit_is_not_another_audits_route(client: TestClient) -> None:
    token = _token(client, "/audits/linkage-risk")
    files = {"file": ("log.csv", b"a,b\n1,2\n", "text/csv")}
    assert (
        client.post("/audits/linkage-risk/upload", data={"csrf_token": token}, files=files).status_code == 404
    )
    assert client.get("/audits/../../etc/passwd", headers=HTML).status_code == 404
    assert client.get("/audits/nonexistent", headers=HTML).status_code == 404
    assert client.get("/static/charts/../../_write.py").status_code == 404
    assert client.get("/static/charts/LICENSE-vega").status_code == 404  # only the three scripts


def test_ledger_page_shows_nothing_without_a_token(client: TestClient, tmp_path: Path) -> None:
    page = client.get("/ledger-view", headers=HTML)
    assert (
        page.status_code == 200
        and 'type="password"' in page.text
        and "entries" not in page.text.split("<script")[0]
    )
    for path in ("/ledger/verify", "/ledger/cases/case-1", "/ledger/export?format=csv"):
        assert client.get(path).status_code == 401, path


def test_a_list_field_takes_at_most_twenty_lines(client: TestClient) -> None:
    location = _upload(client, "biometrics", "score,genuine\n0.5,1\n0.4,0\n")
    form = {
        "csrf_token": _token(client, location),
        "score": "score",
        "genuine": "genuine",
        "threshold": "\n".join(str(i / 100) for i in range(21)),
    }
    answer = client.post(location + "/run", data=form, headers=HTML)
    assert answer.status_code == 400 and "--threshold takes at most 20 lines" in answer.text
