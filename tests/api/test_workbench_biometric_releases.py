"""Biometric jobs on the web service protected against the earlier releases of the same upload, as the
CLI's `--protect-releases` protects them (docs/biometrics.md, "Linked releases").

The pair of `test_biometrics_lp_attack_two_releases.py`, run as two workbench jobs with "protect
releases" on the same uploaded scores: the second is protected (the scipy `milp` reader of that test
pins nothing across the two results, while the cross table run unprotected is broken by it: the
control) and publishes the CLI's rows through a register file, row for row; in the other order the
second is refused in one line, nothing recorded. The service keeps the releases in its own register of
the upload's digest, the one its decision jobs use: a decision job and a biometric job of the same upload
are recorded one after the other, each published as it would be alone.
"""

from __future__ import annotations

import io
import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from misflag.api import create_app
from misflag.cli import main
from tests.api._service import wait_job
from tests.biometrics._attacker import bundle_rows as rows
from tests.biometrics.test_biometrics_lp_attack import SMALL_PAIR, scores
from tests.biometrics.test_biometrics_lp_attack_two_releases import (
    AUDIT,
    WITH_GROUP,
    exposed,
    together,
)
from tests.biometrics.test_biometrics_lp_attack_two_releases import saved_rows as cli_rows

from .conftest import BASE_URL, form_token

HTML = {"accept": "text/html"}
PAIR = {"score": "score", "genuine": "genuine", "threshold": "0.5", "group_a": "ga", "group_b": "gb"}
WITH_GA = {**PAIR, "group": "ga"}


def parquet_bytes() -> bytes:
    buffer = io.BytesIO()
    scores(SMALL_PAIR).to_parquet(buffer)
    return buffer.getvalue()


@pytest.fixture
def service(tmp_path: Path) -> Any:
    """A service with SMALL_PAIR's scores uploaded to the biometric workbench: (client, data dir, upload page)."""
    data = tmp_path / "serve"
    with TestClient(create_app(data_dir=data), base_url=BASE_URL) as client:
        token = form_token(client, "/audits/biometrics")
        files = {"file": ("scores.parquet", parquet_bytes(), "application/octet-stream")}
        answer = client.post(
            "/audits/biometrics/upload", data={"csrf_token": token}, files=files, follow_redirects=False
        )
        assert answer.status_code == 303, re.findall(r'id="error">([^<]*)', answer.text)
        yield client, data, str(answer.headers["location"])


def run(client: TestClient, page: str, form: dict[str, str], protect: bool = True) -> dict[str, Any]:
    fields = {"csrf_token": form_token(client, page), **form} | (
        {"protect_releases": "on"} if protect else {}
    )
    answer = client.post(page + "/run", data=fields, follow_redirects=False)
    assert answer.status_code == 303, re.findall(r'id="error">([^<]*)', answer.text)
    return dict(wait_job(client, answer.headers["location"]))


def result(client: TestClient, job: dict[str, Any]) -> dict[str, Any]:
    assert job["state"] == "done", job
    return dict(client.get(f"/jobs/{job['job_id']}/result.json").json())


def register_of(data: Path, page: str) -> Path:
    upload = page.rstrip("/").rsplit("/", 1)[-1]
    sha256 = json.loads((data / "uploads" / upload / "meta.json").read_text())["sha256"]
    return data / "releases" / f"{sha256}.json"


def test_the_second_job_is_protected_as_through_the_cli(service: Any, tmp_path: Path) -> None:
    client, data, page = service
    first = result(client, run(client, page, WITH_GA))
    second = result(client, run(client, page, PAIR))
    assert not exposed(SMALL_PAIR, together(rows(first), rows(second)))
    # the control: the cross table published unprotected is what the same reader breaks
    apart = result(client, run(client, page, PAIR, protect=False))
    assert exposed(SMALL_PAIR, together(rows(first), rows(apart)))
    # the CLI through a register file publishes the same rows
    source = tmp_path / "scores.parquet"
    source.write_bytes(parquet_bytes())
    saved = [tmp_path / "cli-1.json", tmp_path / "cli-2.json"]
    for options, save in zip((WITH_GROUP, []), saved, strict=True):
        command = ["biometrics", "audit", str(source), *AUDIT, *options, "--save", str(save)]
        assert main([*command, "--release-register", str(tmp_path / "cli-register.json")]) == 0
    assert [rows(first), rows(second)] == [cli_rows(path) for path in saved]
    register = register_of(data, page)
    recorded = [r["name"] for r in json.loads(register.read_text())["releases"]]
    assert recorded == ["1: biometrics by ga, ga × gb", "2: biometrics ga × gb"]
    assert stat.S_IMODE(register.stat().st_mode) == 0o600
    assert stat.S_IMODE(register.parent.stat().st_mode) == 0o700
    # published: protect_releases, never the register's path
    assert second["metadata"]["release"] == "2: biometrics ga × gb"
    assert second["metadata"]["spec"]["protect_releases"] is True
    assert second["metadata"]["spec"]["release_register"] is None
    assert "--protect-releases" in second["metadata"]["command"]
    assert str(data) not in json.dumps(second) and "releases/" not in json.dumps(second)


def test_the_reverse_order_is_refused_in_one_line(service: Any) -> None:
    client, data, page = service
    result(client, run(client, page, PAIR))
    register = register_of(data, page)
    before = register.read_bytes()
    refused = run(client, page, WITH_GA)
    assert refused["state"] == "failed" and "\n" not in str(refused["error"])
    assert str(refused["error"]).startswith("this audit cannot be published without exposing")
    assert "'1: biometrics ga × gb'" in str(refused["error"]) and str(data) not in str(refused["error"])
    assert register.read_bytes() == before


def test_decision_and_biometric_jobs_share_the_register_each_as_alone(service: Any) -> None:
    client, data, page = service
    upload = page.rstrip("/").rsplit("/", 1)[-1]
    decision = {"upload_id": upload, "flag": "score > 0.5", "truth": "genuine", "groups": ["ga"]}

    def decided(protect: bool) -> dict[str, Any]:
        reply = client.post("/api/audits", json=decision | {"protect_releases": protect})
        assert reply.status_code == 202, reply.text
        return result(client, dict(wait_job(client, f"/jobs/{reply.json()['job_id']}")))

    alone = [rows(decided(False)), rows(result(client, run(client, page, WITH_GA, protect=False)))]
    linked = [rows(decided(True)), rows(result(client, run(client, page, WITH_GA)))]
    assert linked == alone
    recorded = [r["name"] for r in json.loads(register_of(data, page).read_text())["releases"]]
    assert recorded == ["1: ga", "2: biometrics by ga, ga × gb"]
