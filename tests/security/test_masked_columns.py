"""Masked columns are unreadable through any expression of a web job, and engine errors never quote data.

The attacker's tool is the issue's own: an expression that makes the engine fail on a masked value
(`CAST(CASE WHEN id = 42 THEN full_name ...) AS INTEGER)`) so the job page prints it. Every expression
field is tried, in every spelling (case, quoting, nesting); each is refused in one line naming the
column, and a job that fails in the engine reports the expression and the kind of problem only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from misflag.api import create_app
from misflag.api._failures import problem

BASE = "http://127.0.0.1:8000"
ROWS = 120
LOG = "id,full_name,race,flag,truth,score,w\n" + "".join(
    f"{i},Person {i} Smith,{'ab'[i % 2]},{i % 3 == 0:d},{i % 4 == 0:d},{i % 10},{1 + i % 2}\n"
    for i in range(ROWS)
)
BASE_FIELDS: dict[str, Any] = {"flag": "flag", "truth": "truth", "groups": ["race"], "replicates": 100}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    app = create_app(data_dir=tmp_path_factory.mktemp("masked"))
    with TestClient(app, base_url=BASE) as client:
        reply = client.post("/api/uploads", files={"file": ("log.csv", LOG.encode(), "text/csv")})
        assert reply.status_code == 201, reply.text
        masked = {c["name"] for c in reply.json()["columns"] if c["masked"]}
        assert masked == {"id", "full_name"}, masked  # the premise: both are masked, the rest shown
        yield client, reply.json()["upload_id"]


def _wait(client: TestClient, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in {"done", "failed"}:
            return dict(job)
        time.sleep(0.1)
    raise AssertionError("the job did not finish in 120 s")


LEAKS = [
    ("where", "CAST(CASE WHEN id = 42 THEN full_name ELSE '1' END AS INTEGER) = 1", "full_name"),
    ("where", "length(FULL_NAME) > 3", "full_name"),
    ("where", '"Full_Name" IS NOT NULL', "full_name"),
    ("flag", "CASE WHEN id = 42 THEN 1 ELSE 0 END", "id"),
    ("flag", "CAST(substr(full_name, 1, 1) = 'P' AS INTEGER)", "full_name"),
    ("truth", 'CAST("ID" % 2 AS INTEGER)', "id"),
    ("score", "length(full_name)", "full_name"),
    ("weight", "1 + id / 1000", "id"),
    ("weight", "CAST(CASE WHEN full_name LIKE 'Person 4%' THEN 'x' ELSE '1' END AS DOUBLE)", "full_name"),
    ("stages", ["screen=flag", "review=CAST(full_name = 'Person 1 Smith' AS INTEGER)"], "full_name"),
    ("groups", ["upper(Full_Name)"], "full_name"),
    ("groups", ["race || CAST(id AS VARCHAR)"], "id"),
]


@pytest.mark.parametrize(("field", "value", "column"), LEAKS)
def test_no_expression_reads_a_masked_column(served: Any, field: str, value: Any, column: str) -> None:
    client, upload_id = served
    body = {**BASE_FIELDS, "upload_id": upload_id, field: value}
    if field == "stages":
        body.pop("flag")
    reply = client.post("/api/audits", json=body)
    assert reply.status_code == 400, reply.text
    detail = reply.json()["detail"]
    assert column in detail and "\n" not in detail, detail
    assert "Person" not in detail and "Smith" not in detail


def test_the_issue_leak_names_the_where_expression(served: Any) -> None:
    client, upload_id = served
    where = "CAST(CASE WHEN id = 42 THEN full_name ELSE '1' END AS INTEGER) = 1"
    reply = client.post("/api/audits", json={**BASE_FIELDS, "upload_id": upload_id, "where": where})
    assert reply.json()["detail"].startswith(
        "the where expression cannot read full_name: its values are masked"
    )


def test_a_star_cannot_read_masked_columns_unnamed(served: Any) -> None:
    client, upload_id = served
    reply = client.post(
        "/api/audits",
        json={**BASE_FIELDS, "upload_id": upload_id, "where": "length(CAST(COLUMNS(*) AS VARCHAR)) > 0"},
    )
    assert reply.status_code == 400 and "Person" not in reply.text, reply.text


def test_an_engine_failure_names_the_expression_not_the_value(served: Any) -> None:
    """The same attack on a shown column: the job fails, and its page names the where expression and the
    target type; the value that failed is nowhere in the status."""
    client, upload_id = served
    where = "CAST(CASE WHEN score = 7 THEN race || ' secret-7' ELSE '1' END AS INTEGER) = 1"
    job = client.post("/api/audits", json={**BASE_FIELDS, "upload_id": upload_id, "where": where})
    assert job.status_code == 202, job.text
    failed = _wait(client, job.json()["job_id"])
    assert failed["state"] == "failed"
    assert failed["error"] == "the where expression failed: a value could not be converted to INTEGER"
    page = client.get(f"/jobs/{failed['job_id']}", headers={"accept": "text/html"}).text
    assert "secret-7" not in page


def test_a_failing_weight_is_named(served: Any) -> None:
    client, upload_id = served
    weight = "CAST(CASE WHEN score = 3 THEN race ELSE '1' END AS DOUBLE)"
    job = client.post("/api/audits", json={**BASE_FIELDS, "upload_id": upload_id, "weight": weight})
    failed = _wait(client, job.json()["job_id"])
    assert failed["error"] == "the weight expression failed: a value could not be converted to DOUBLE", failed


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("DuckDB could not run the query: Conversion Error: Could not convert string 'Person 42 Smith' to INT32",
         "a value could not be converted to INTEGER"),
        ("Conversion Error: Type INT32 with value 1000 can't be cast because the value is out of range for the "
         "destination type INT8", "a value could not be converted to TINYINT"),
        ("Conversion Error: Could not convert string 'x' to INT32' to SECRET", "a value could not be converted to the type it needed"),
        ("Invalid Input Error: Person 42 Smith", "a function was given a value it cannot use"),
        ("Out of Memory Error: could not allocate block of size 256.0 KiB (1.9 GiB/1.9 GiB used)",
         "it needed more memory than this service's limit allows"),
        ("Some New Error: Person 42 Smith", "the engine could not run it"),
    ],
)  # fmt: skip
def test_engine_messages_become_data_free_problems(message: str, expected: str) -> None:
    assert problem(message) == expected


def test_masked_columns_are_checked_with_the_parsed_tree_not_words(served: Any) -> None:
    """A string literal that spells a masked column's name reads nothing: the audit runs."""
    client, upload_id = served
    where = "race <> 'full_name' AND race <> 'id'"
    job = client.post("/api/audits", json={**BASE_FIELDS, "upload_id": upload_id, "where": where})
    assert job.status_code == 202, job.text
    assert _wait(client, job.json()["job_id"])["state"] == "done"


def test_a_fresh_service_refuses_too(tmp_path: Path) -> None:
    """The refusal holds on a fresh service too (the check reads the upload's record, not a cache)."""
    app = create_app(data_dir=tmp_path)
    with TestClient(app, base_url=BASE) as client:
        upload = client.post("/api/uploads", files={"file": ("log.csv", LOG.encode(), "text/csv")}).json()
        reply = client.post(
            "/api/audits",
            json={**BASE_FIELDS, "upload_id": upload["upload_id"], "truth": "CAST(id > 5 AS INT)"},
        )
        assert reply.status_code == 400 and "cannot read id" in reply.json()["detail"]
