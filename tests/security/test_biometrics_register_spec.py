"""The biometric spec's register fields (`release_register`, `protect_releases`, `ledger`) against hostile
values given through the Python API, a `--settings` file and the web service's forms.

`test_biometrics_release_register.py` covers the CLI flags; here the same kinds of values arrive by the
other entries. Through the API each is one typed `MisflagError` line; through `--settings` one `error:`
line, exit 2: a folder as the register, a register that is not JSON, a register path or a ledger that is
not text or is blank, a "yes" for a true/false setting (read as true by Python, it would record a release
no one asked for), a ledger that is neither a URL nor a path (its password never echoed). Nothing is
saved, no register or ledger file is made (a register's lock file aside, taken before it is read), a
register's bytes stay as they were. On the web, a form's
register path or ledger is never read (the form has neither field) and a garbage register in the
service's folder fails the job in one line, the file untouched.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from misflag.api import create_app
from misflag.biometrics import BiometricSpec, audit_biometrics
from misflag.cli import main
from misflag.errors import MisflagError
from tests.api._service import wait_job
from tests.api.conftest import BASE_URL, form_token
from tests.biometrics.test_biometrics_lp_attack import SMALL_PAIR, scores

KEYWORDS: dict[str, Any] = {"score": "score", "genuine": "genuine", "threshold": 0.5}
SECRET = "hunter2-secret"


@pytest.fixture
def score_file(tmp_path: Path) -> Path:
    path = tmp_path / "scores.parquet"
    scores(SMALL_PAIR).to_parquet(path)
    return path


def hostile(tmp_path: Path) -> dict[str, tuple[dict[str, Any], str]]:
    """Case -> (the register fields as JSON settings, words the one line holds, from either entry)."""
    not_json = tmp_path / "not-json.json"
    if tmp_path.is_dir():
        not_json.write_text("{not json", encoding="utf-8")
    return {
        "folder as register": ({"release_register": str(tmp_path)}, "give a file in an existing folder"),
        "register not JSON": ({"release_register": str(not_json)}, "is not a misflag release register"),
        "register a number": ({"release_register": 5}, "must be a file path"),
        "register blank": ({"release_register": " "}, "must be a file path"),
        "protect yes": ({"protect_releases": "yes"}, "must be true or false, got 'yes'"),
        "ledger a number": ({"ledger": 7}, "must be a ledger's URL or SQLite path"),
        "ledger blank": ({"ledger": ""}, "must be a ledger's URL or SQLite path"),
        "ledger http": ({"ledger": f"http://auditor:{SECRET}@example.org/x"}, "unsupported ledger store"),
        "ledger a folder": ({"ledger": str(tmp_path)}, "cannot open the ledger"),
        "ledger nowhere": ({"ledger": str(tmp_path / "no" / "l.sqlite")}, "does not exist"),
    }


CASES = list(hostile(Path("/nonexistent-folder")))


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under the folder and its bytes, but a register's lock (taken before it is read)."""
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix != ".lock"}


@pytest.mark.parametrize("case", CASES)
def test_the_api_refuses_in_one_typed_line(score_file: Path, tmp_path: Path, case: str) -> None:
    fields, words = hostile(tmp_path)[case]
    before = _files(tmp_path)
    with pytest.raises(MisflagError) as refused:
        audit_biometrics(str(score_file), **KEYWORDS, **fields)
    message = str(refused.value)
    assert words in message and "\n" not in message and SECRET not in message
    assert _files(tmp_path) == before  # no register, lock or ledger made, the register as it was


@pytest.mark.parametrize("case", CASES)
def test_settings_refuse_in_one_line(
    score_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    fields, words = hostile(tmp_path)[case]
    spec = BiometricSpec(score="score", genuine="genuine", thresholds=(0.5,)).to_dict()
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(spec | fields), encoding="utf-8")
    before = _files(tmp_path)
    save = tmp_path / "out.json"
    assert (
        main(["biometrics", "audit", str(score_file), "--settings", str(settings), "--save", str(save)]) == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err and SECRET not in err
    assert words in err
    assert _files(tmp_path) == before and not save.exists()


def test_settings_name_a_setting_by_its_flag(
    score_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = BiometricSpec(score="score", genuine="genuine", thresholds=(0.5,)).to_dict()
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(spec | {"protect_releases": "yes"}), encoding="utf-8")
    assert main(["biometrics", "audit", str(score_file), "--settings", str(settings)]) == 2
    assert capsys.readouterr().err.strip() == "error: --protect-releases must be true or false, got 'yes'"


@pytest.fixture
def upload(tmp_path: Path) -> Any:
    """A service with SMALL_PAIR's scores uploaded to the biometric workbench: (client, data, page)."""
    buffer = io.BytesIO()
    scores(SMALL_PAIR).to_parquet(buffer)
    data = tmp_path / "serve"
    with TestClient(create_app(data_dir=data), base_url=BASE_URL) as client:
        files = {"file": ("scores.parquet", buffer.getvalue(), "application/octet-stream")}
        token = form_token(client, "/audits/biometrics")
        answer = client.post(
            "/audits/biometrics/upload", data={"csrf_token": token}, files=files, follow_redirects=False
        )
        assert answer.status_code == 303
        yield client, data, str(answer.headers["location"])


def _run(client: TestClient, page: str, **extra: str) -> dict[str, Any]:
    form = {"csrf_token": form_token(client, page), "score": "score", "genuine": "genuine"}
    form |= {"threshold": "0.5", "protect_releases": "on", **extra}
    answer = client.post(page + "/run", data=form, follow_redirects=False)
    assert answer.status_code == 303, re.findall(r'id="error">([^<]*)', answer.text)
    return dict(wait_job(client, answer.headers["location"]))


def test_a_form_never_names_a_register_or_a_ledger(upload: Any, tmp_path: Path) -> None:
    client, data, page = upload
    shown = client.get(page, headers={"accept": "text/html"}).text
    assert 'name="protect_releases"' in shown
    assert 'name="release_register"' not in shown and 'name="ledger"' not in shown
    escaped, ledger = tmp_path / "escaped.json", tmp_path / "escaped.sqlite"
    job = _run(client, page, release_register=str(escaped), ledger=str(ledger))
    assert job["state"] == "done", job
    assert not escaped.exists() and not ledger.exists()
    registers = list((data / "releases").glob("*.json"))
    assert len(registers) == 1 and len(json.loads(registers[0].read_text())["releases"]) == 1


def test_a_garbage_register_fails_the_job_in_one_line(upload: Any) -> None:
    client, data, page = upload
    assert _run(client, page)["state"] == "done"
    (register,) = (data / "releases").glob("*.json")
    for garbage in ("{not json", json.dumps({"format": "misflag-release-register/1", "releases": [{}]})):
        register.write_text(garbage)
        job = _run(client, page)
        assert job["state"] == "failed" and "\n" not in str(job["error"])
        error = str(job["error"])  # the job's line shortens the digest's long name
        assert error.startswith(f"release register '{register.name[:16]}")
        assert "is not a misflag release register" in error
        assert str(data) not in str(job["error"]) and register.read_text() == garbage
