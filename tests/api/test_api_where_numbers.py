"""A huge number in a web audit's where filter: refused when the form is sent, one line naming the field.

Before, `score > <400 nines>` started a job that failed as 'the audit failed: a value could not be
converted to the type it needed' (the biometrics page: no field named), and `score > 1e999999` ran as
`score > infinity` and failed as 'no rows are left'. Both are now refused by the expression check, on
the JSON API (`where`) and on the workbench pages (`--where`), before a job starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from misflag.api import create_app

from .conftest import BASE_URL, form_token

HTML = {"accept": "text/html"}
LOG = "score,flag,truth,grp\n" + "".join(
    f"{i / 60},{i % 2},{(i // 2) % 2},{'AB'[i % 3 == 0]}\n" for i in range(60)
)
SCORES = "score,genuine,grp\n" + "".join(f"{(i % 10) / 10},{i % 2},{'AB'[i % 3 == 0]}\n" for i in range(60))
MONITOR = "day,grp,flagged,harm\n" + "".join(
    f"2024-01-{1 + i % 28:02d},{'AB'[i % 2]},{int(i % 3 == 0)},{int(i % 5 == 0)}\n" for i in range(200)
)
FORMS = {
    "biometrics": {
        "score": "score",
        "genuine": "genuine",
        "group": "grp",
        "threshold": "0.5",
        "reference": "A",
    },
    "monitor": {"time": "day", "group": "grp", "reference": "A", "flag": "flagged", "truth": "harm"},
}
COLUMN = {"biometrics": "score", "monitor": "harm"}
#: (where after the column, what the message says of the number), each written out by hand.
HUGE = [
    (" > 1e999999", "holds the number 1e999999, past the largest a double holds (1.7976931348623157e308)"),
    (
        " > " + "9" * 400,
        "holds the number 99999999999999999999... (400 characters), of 400 digits; at most 38",
    ),
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = create_app(data_dir=tmp_path_factory.mktemp("where-numbers"))
    with TestClient(app, base_url=BASE_URL) as test_client:
        yield test_client


def _jobs(client: TestClient) -> list[str]:
    """The job folders the service holds (one is made when a job starts)."""
    root = cast(FastAPI, client.app).state.jobs.root
    return sorted(path.name for path in root.iterdir()) if root.exists() else []


@pytest.mark.parametrize(("where", "said"), HUGE)
def test_the_json_api_refuses_the_number_naming_where(client: TestClient, where: str, said: str) -> None:
    upload = client.post("/api/uploads", files={"file": ("log.csv", LOG.encode(), "text/csv")}).json()
    body = {"upload_id": upload["upload_id"], "flag": "flag", "truth": "truth", "groups": ["grp"]}
    before = _jobs(client)
    reply = client.post("/api/audits", json=body | {"where": "score" + where})
    assert reply.status_code == 400, reply.text[:300]
    detail = reply.json()["detail"]
    assert detail.startswith("where expression 'score") and said in detail, detail
    assert "\n" not in detail and "9" * 81 not in detail
    assert _jobs(client) == before  # refused before a job started


@pytest.mark.parametrize(("where", "said"), HUGE)
@pytest.mark.parametrize("kind", ["biometrics", "monitor"])
def test_the_workbench_refuses_the_number_naming_where(
    client: TestClient, kind: str, where: str, said: str
) -> None:
    text = SCORES if kind == "biometrics" else MONITOR
    token = form_token(client, f"/audits/{kind}")
    answer = client.post(
        f"/audits/{kind}/upload",
        data={"csrf_token": token},
        files={"file": ("in.csv", text.encode(), "text/csv")},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text[:300]
    page = str(answer.headers["location"])
    form = FORMS[kind] | {"where": COLUMN[kind] + where, "csrf_token": form_token(client, page)}
    before = _jobs(client)
    refused = client.post(page + "/run", data=form, headers=HTML, follow_redirects=False)
    assert refused.status_code == 400, refused.status_code
    found = re.findall(r'id="error">([^<]*)', refused.text)
    assert found, refused.text[:300]
    message = found[0].replace("&#39;", "'")
    assert message.startswith(f"--where expression '{COLUMN[kind]}") and said in message, message
    assert "9" * 81 not in message
    assert _jobs(client) == before


def test_the_same_where_with_a_number_an_engine_holds_starts_a_job(client: TestClient) -> None:
    """The control: 38 nines is accepted and a job starts, so the refusals above are the number's."""
    upload = client.post("/api/uploads", files={"file": ("log.csv", LOG.encode(), "text/csv")}).json()
    body = {"upload_id": upload["upload_id"], "flag": "flag", "truth": "truth", "groups": ["grp"]}
    before = _jobs(client)
    reply = client.post("/api/audits", json=body | {"where": "score < " + "9" * 38})
    assert reply.status_code == 202, reply.text[:300]
    assert _jobs(client) == sorted([*before, reply.json()["job_id"]])  # the count a refusal must not change
