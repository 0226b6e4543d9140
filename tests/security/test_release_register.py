"""The release register on the web service, against a hostile client and a tampered data directory.

The service keeps one register per input digest in its own data directory (`releases/<sha256>.json`,
0600); over HTTP a client can only ask for protection ("protect_releases"), never name a register: a
path in the request (JSON or form) is refused or ignored and nothing is written outside the data
directory. A register file edited to hold garbage fails the job in one line, untouched; a register
holding another input's releases neither protects nor refuses this one. The register's path never
appears in a result, a report's command line, or an error.
"""

from __future__ import annotations

import json
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
AUDIT = {"truth": "two_year_recid", "flag": "score_text IN ('Medium', 'High')", "protect_releases": True}


def _wait(client: TestClient, job_id: str) -> dict[str, Any]:
    for _ in range(1200):
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] not in {"queued", "running"}:
            return job
        time.sleep(0.1)
    raise AssertionError("the job did not finish")


def _upload(client: TestClient, content: bytes) -> dict[str, Any]:
    reply = client.post("/api/uploads", files={"file": ("compas.csv", content, "text/csv")})
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


def _audit(client: TestClient, upload_id: str, **fields: Any) -> dict[str, Any]:
    reply = client.post("/api/audits", json={"upload_id": upload_id, **AUDIT, **fields})
    assert reply.status_code == 202, reply.text
    return _wait(client, reply.json()["job_id"])


@pytest.fixture()
def service(tmp_path: Path, compas_csv: Path) -> Iterator[tuple[TestClient, Path, dict[str, Any]]]:
    data = tmp_path / "serve"
    with TestClient(create_app(data_dir=data), base_url=BASE) as client:
        yield client, data, _upload(client, compas_csv.read_bytes())


def test_the_service_keeps_a_private_register_per_input_digest(service: Any) -> None:
    client, data, upload = service
    first = _audit(client, upload["upload_id"], groups=["race"])
    second = _audit(client, upload["upload_id"], groups=["sex"])
    assert first["state"] == second["state"] == "done", (first, second)
    register = data / "releases" / f"{upload['sha256']}.json"
    assert [r["name"] for r in json.loads(register.read_text())["releases"]] == ["1: race", "2: sex"]
    assert stat.S_IMODE(register.stat().st_mode) == 0o600
    assert stat.S_IMODE(register.parent.stat().st_mode) == 0o700
    result = client.get(second["result_url"]).json()
    suppression = result["metadata"]["disclosure_audit"]["secondary_suppression"]
    assert suppression["earlier_releases"] == ["1: race"]
    text = json.dumps(result)
    assert str(data) not in text and "release-register" not in result["metadata"]["command"]
    assert "--protect-releases" in result["metadata"]["command"]


@pytest.mark.parametrize("path", ["../../escaped.json", "/tmp/escaped.json", "releases/../../x.json"])
def test_a_register_path_over_http_is_refused_and_nothing_is_written(
    service: Any, tmp_path: Path, path: str
) -> None:
    client, data, upload = service
    reply = client.post(
        "/api/audits", json={"upload_id": upload["upload_id"], **AUDIT, "release_register": path}
    )
    assert reply.status_code == 422 and "release_register" in reply.text
    assert not (data / "releases").exists()
    assert not (tmp_path / "escaped.json").exists() and not Path("/tmp/escaped.json").exists()


def test_a_register_path_in_the_page_form_is_ignored(service: Any, tmp_path: Path) -> None:
    client, data, upload = service
    page = client.get(f"/uploads/{upload['upload_id']}", headers=HTML).text
    assert 'name="protect_releases"' in page and 'name="release_register"' not in page
    assert 'name="ledger"' not in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    form = {
        "csrf_token": token.group(1),
        "truth": AUDIT["truth"],
        "flag": AUDIT["flag"],
        "group_expressions": "race",
        "protect_releases": "on",
        "release_register": str(tmp_path / "escaped.json"),
        "ledger": str(tmp_path / "escaped.sqlite"),  # nor does the service open a ledger a form names
    }
    reply = client.post(f"/uploads/{upload['upload_id']}/audit", data=form, headers={"origin": BASE})
    job_id = str(reply.url).rstrip("/").split("/")[-1]
    assert reply.status_code == 200 and _wait(client, job_id)["state"] == "done"
    assert not (tmp_path / "escaped.json").exists() and not (tmp_path / "escaped.sqlite").exists()
    assert (data / "releases" / f"{upload['sha256']}.json").exists()


def test_a_register_edited_to_hold_garbage_fails_the_job_in_one_line(service: Any) -> None:
    client, data, upload = service
    folder = data / "releases"
    folder.mkdir(mode=0o700)
    register = folder / f"{upload['sha256']}.json"
    for garbage in (
        "{not json",
        json.dumps({"format": "misflag-release-register/1", "releases": [{"x": 1}]}),
    ):
        register.write_text(garbage)
        job = _audit(client, upload["upload_id"], groups=["race"])
        assert job["state"] == "failed" and "\n" not in job["error"]
        assert job["error"].startswith(
            f"release register {register.name!r} is not a misflag release register"
        )
        assert str(data) not in job["error"]
        assert register.read_text() == garbage


def test_a_register_of_another_input_neither_protects_nor_refuses(service: Any, compas_csv: Path) -> None:
    """Another upload's register copied over this one's file: its releases carry the other input's
    digest, so they are not this data; the audit is published as it would be alone, and recorded."""
    client, data, upload = service
    lines = compas_csv.read_bytes().splitlines(keepends=True)
    other = _upload(client, b"".join(lines[:4001]))
    for groups in (["race"], ["sex"], ["race", "sex"]):
        assert _audit(client, other["upload_id"], groups=groups, intersect=True)["state"] == "done"
    (data / "releases" / f"{other['sha256']}.json").replace(data / "releases" / f"{upload['sha256']}.json")
    job = _audit(client, upload["upload_id"], groups=["race"])
    assert job["state"] == "done", job
    result = client.get(job["result_url"]).json()
    assert result["metadata"]["disclosure_audit"]["secondary_suppression"]["earlier_releases"] == []
    names = [
        r["name"]
        for r in json.loads((data / "releases" / f"{upload['sha256']}.json").read_text())["releases"]
    ]
    assert names == ["1: race intersected", "2: sex intersected", "3: race, sex intersected", "4: race"]


def _edited(release: dict[str, Any], how: str) -> None:
    """One release of a register edited by hand: well-formed JSON, garbage where figures go."""
    rows = release["rows"]
    if how == "text value":
        rows[0]["value"] = "abc"
    elif how == "infinite value":
        rows[0]["value"] = float("inf")
    elif how == "numeric group":
        rows[0]["group"] = 5
    elif how == "text row count":
        release["metadata"]["rows_audited"] = "lots"
    elif how == "NaN count":
        release["withheld_counts"] = [["race", "Asian", "decision", "fpr", "numerator", float("nan")]]


@pytest.mark.parametrize(
    "how", ["text value", "infinite value", "numeric group", "text row count", "NaN count"]
)
def test_a_hand_edited_register_or_bundle_is_one_line_on_the_command_line(
    compas_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    """Garbage inside a well-formed register (or a saved bundle given to `disclosure check`): exit 2 with
    one line, no traceback, the file untouched and no output written."""
    from misflag.cli import main

    args = ["decisions", "audit", str(compas_csv), "--truth", AUDIT["truth"], "--flag", AUDIT["flag"]]
    register = tmp_path / "releases.json"
    bundle = tmp_path / "race.json"
    assert main([*args, "--group", "race", "--release-register", str(register), "--save", str(bundle)]) == 0
    data = json.loads(register.read_text())
    _edited(data["releases"][0], how)
    register.write_text(json.dumps(data))
    if how != "NaN count":  # a bundle carries no withheld counts
        saved = json.loads(bundle.read_text())
        _edited(saved, how)
        bundle.write_text(json.dumps(saved))
    capsys.readouterr()
    before = register.read_text()
    out = tmp_path / "sex.json"
    assert main([*args, "--group", "sex", "--release-register", str(register), "--save", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"error: release register {str(register)!r} is not a misflag release register"
    )
    assert register.read_text() == before and not out.exists()
    if how != "NaN count":  # a bundle carries no withheld counts
        assert main(["disclosure", "check", str(bundle)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "does not hold misflag result rows" in err[0], err
