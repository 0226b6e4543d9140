"""A whitespace-only optional expression is refused over HTTP exactly as the CLI refuses it ("--where is
empty"), while an absent or null one means "not given"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from misflag.api import create_app
from misflag.cli import main

from .conftest import BASE_URL

LOG = b"g,flag,truth,s\n" + b"".join(
    f"{'ab'[i % 2]},{i % 3 == 0:d},{i % 4 == 0:d},{i % 10}\n".encode() for i in range(200)
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    app = create_app(data_dir=tmp_path_factory.mktemp("serve"), max_jobs=100)
    with TestClient(app, base_url=BASE_URL) as client:
        reply = client.post("/api/uploads", files={"file": ("log.csv", LOG, "text/csv")})
        assert reply.status_code == 201, reply.text
        yield client, reply.json()["upload_id"]


@pytest.mark.parametrize("field", ["flag", "where", "score", "weight"])
@pytest.mark.parametrize("blank", [" ", "   ", "\t\n "])
def test_blank_optional_expression_refused_like_the_cli(
    served: tuple[TestClient, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    field: str,
    blank: str,
) -> None:
    client, upload_id = served
    body = {"upload_id": upload_id, "truth": "truth", "flag": "flag", "groups": ["g"], field: blank}
    reply = client.post("/api/audits", json=body)
    assert 400 <= reply.status_code < 500, reply.text
    detail = reply.json()["detail"]
    assert str(detail).startswith(f"{field} is empty"), detail  # the API names its field; the CLI, the flag

    log = tmp_path / "log.csv"
    log.write_bytes(LOG)
    args = ["decisions", "audit", str(log), "--truth", "truth", "--flag", "flag", "--group", "g"]
    args += [f"--{field}", blank] if field != "flag" else []
    if field == "flag":
        args[args.index("--flag") + 1] = blank
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"--{field} is empty" in err, err


@pytest.mark.parametrize("field", ["where", "score", "weight"])
def test_absent_or_null_optional_expression_is_accepted(served: tuple[TestClient, str], field: str) -> None:
    client, upload_id = served
    body = {"upload_id": upload_id, "truth": "truth", "flag": "flag", "groups": ["g"], "replicates": 100}
    assert client.post("/api/audits", json=body).status_code == 202
    assert client.post("/api/audits", json={**body, field: None}).status_code == 202
