"""Uploads through the page and the JSON API: checks with clear messages, masked previews, safe paths,
size limits and clean-up (in-process with FastAPI's TestClient)."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from misflag.api import create_app
from misflag.api._preview import MASK, name_reason
from misflag.datasets import DATASETS

from .conftest import BASE_URL, form_token

HTML = {"accept": "text/html"}
COMPAS_IDENTIFIERS = set(DATASETS["compas"].identifier_columns)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(data_dir=tmp_path / "data", max_upload_bytes=200_000)
    with TestClient(app, base_url=BASE_URL) as test_client:
        yield test_client


def _state(client: TestClient) -> Any:
    """The app's state (settings, jobs) behind a test client."""
    return cast(FastAPI, client.app).state


def _files(name: str, data: bytes, content_type: str = "text/csv") -> dict:
    return {"file": (name, data, content_type)}


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.name != "ledger.sqlite"]


def test_compas_preview_masks_identifier_columns(compas_csv: Path, tmp_path: Path) -> None:
    with TestClient(create_app(data_dir=tmp_path / "data"), base_url=BASE_URL) as client:
        reply = client.post("/api/uploads", files=_files("compas.csv", compas_csv.read_bytes()))
    assert reply.status_code == 201, reply.text
    info = reply.json()
    assert info["rows"] == 7214 and info["filename"] == "compas.csv"
    masked = {c["name"] for c in info["columns"] if c["masked"]}
    assert masked >= COMPAS_IDENTIFIERS
    assert masked.isdisjoint(
        {"sex", "race", "age", "score_text", "decile_score", "two_year_recid", "c_charge_desc"}
    )
    names = [c["name"] for c in info["columns"]]
    assert len(info["preview"]) == 10
    for row in info["preview"]:
        for name, value in zip(names, row, strict=True):
            assert (value == MASK) == (name in masked)
    frame = pd.read_csv(compas_csv, nrows=10)
    assert [row[names.index("age")] for row in info["preview"]] == [str(a) for a in frame["age"]]


@pytest.mark.parametrize(
    ("column", "masked"),
    [
        ("two_year_recid", False),
        ("rec_id", True),
        ("firstName", True),
        ("SSN", True),
        ("date_of_birth", True),
        ("postcode", True),
        ("decile_score", False),
        ("race", False),
    ],
)
def test_identifier_names(column: str, masked: bool) -> None:
    assert (name_reason(column) is not None) == masked


def test_values_decide_masking_whatever_the_name(client: TestClient) -> None:
    frame = pd.DataFrame(
        {
            "note": [f"person {i} lives at {i} main st" for i in range(300)],
            "serial": range(1000, 1300),
            "share": [i / 300 for i in range(300)],
            "region": ["north", "south", "east"] * 100,
            "when": pd.date_range("2020-01-01", periods=300),
        }
    )
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    reply = client.post(
        "/api/uploads", files=_files("t.parquet", buffer.getvalue(), "application/octet-stream")
    )
    assert reply.status_code == 201, reply.text
    reasons = {c["name"]: c["masked"] for c in reply.json()["columns"]}
    assert reasons["note"].startswith("text with")
    assert reasons["serial"] == "unique on nearly every row (a key)"
    assert reasons["when"] == "dates can identify people"
    assert reasons["share"] is None and reasons["region"] is None


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (_files("data.xlsx", b"a,b\n1,2\n"), "'data.xlsx' is not a .csv or .parquet file"),
        (_files("empty.csv", b""), "'empty.csv' is empty (0 bytes)"),
        (_files("bin.csv", b"a,b\n\x00\x01\x02\n"), "'bin.csv' is not a text CSV file"),
        (
            _files("fake.parquet", b"a,b\n1,2\n", "application/octet-stream"),
            "'fake.parquet' is not a Parquet file",
        ),
        (_files("pic.csv", b"a,b\n1,2\n", "image/png"), "'pic.csv' was sent as image/png"),
        (_files("header.csv", b"a,b\n"), "has no data rows"),
        ({"other": ("x.csv", b"a\n1\n", "text/csv")}, "choose a CSV or Parquet file"),
    ],
)
def test_bad_files_get_one_clear_message_on_the_page(client: TestClient, files: dict, message: str) -> None:
    reply = client.post("/upload", data={"csrf_token": form_token(client)}, files=files, headers=HTML)
    assert reply.status_code == 400
    assert 'role="alert"' in reply.text and message in reply.text.replace("&#39;", "'")
    assert "Traceback" not in reply.text and str(_state(client).settings.data_dir) not in reply.text
    assert _leftovers(_state(client).settings.data_dir) == []


def test_not_multipart_and_too_large_are_refused(client: TestClient) -> None:
    reply = client.post("/api/uploads", content=b"a,b\n1,2\n", headers={"content-type": "text/csv"})
    assert reply.status_code == 400 and "multipart/form-data" in reply.json()["detail"]
    big = b"a,b\n" + b"1,2\n" * 60_000  # 240 kB > 200 kB: stopped while streaming
    reply = client.post("/api/uploads", files=_files("big.csv", big))
    assert reply.status_code == 413 and "larger than the limit of 200,000 bytes" in reply.json()["detail"]
    huge = b"x" * 400_000  # declared length far over the limit: refused before reading
    token = {"csrf_token": form_token(client)}
    reply = client.post("/upload", data=token, files=_files("huge.csv", huge), headers=HTML)
    assert reply.status_code == 413 and 'role="alert"' in reply.text
    assert _leftovers(_state(client).settings.data_dir) == []


def test_file_names_never_become_paths(client: TestClient, tmp_path: Path) -> None:
    reply = client.post("/api/uploads", files=_files("../../../escape.csv", b"a,b\n1,0\n2,1\n"))
    assert reply.status_code == 201
    assert reply.json()["filename"] == "escape.csv"
    data_dir = _state(client).settings.data_dir
    assert not list(tmp_path.rglob("escape.csv"))
    assert all(p.resolve().is_relative_to(data_dir.resolve()) for p in tmp_path.rglob("*") if p.is_file())
    for bad in ("..%2F..%2Fetc", "ABC", "0" * 31, "../" + "0" * 32):
        assert client.get(f"/api/uploads/{bad}").status_code == 404
        assert client.get(f"/api/jobs/{bad}").status_code == 404


def test_old_uploads_and_jobs_are_cleaned_up(client: TestClient) -> None:
    upload = client.post("/api/uploads", files=_files("a.csv", b"y,f,g\n1,0,a\n0,1,b\n")).json()
    folder = _state(client).settings.data_dir / "uploads" / upload["upload_id"]
    assert folder.is_dir()
    jobs = _state(client).jobs
    assert jobs.cleanup() == 0  # young: kept
    old = time.time() - _state(client).settings.job_ttl_seconds - 60
    os.utime(folder, (old, old))
    assert jobs.cleanup() == 1
    assert not folder.exists()
    assert client.get(f"/api/uploads/{upload['upload_id']}").status_code == 404


@pytest.mark.parametrize("rows", [300, 1_000, 5_000])
def test_a_key_column_is_masked_by_its_exact_distinct_count(rows: int) -> None:
    """Every value distinct (a key): masked whatever an approximate distinct count would have said."""
    import pyarrow as pa

    from misflag.api._preview import classify
    from misflag.engine import DuckDBEngine

    engine = DuckDBEngine()
    engine.register_arrow("t", pa.table({"k": list(range(rows)), "v": [index % 3 for index in range(rows)]}))
    views = {view.name: view.masked for view in classify(engine, "t")}
    assert views["k"] == "unique on nearly every row (a key)"
    assert views["v"] is None


def test_uploads_follow_the_readers_encoding_rule(client: TestClient) -> None:
    """A Windows-1252 upload is read as the CLI reads it (the euro sign and curly quotes come back);
    UTF-16 and a mixed file get the readers' own one line, and nothing is kept."""
    text = "grp;flag;truth\n" + "São €5;1;0\nZoë “quoted”;0;1\n" * 20
    reply = client.post("/api/uploads", files=_files("latin.csv", text.encode("cp1252")))
    assert reply.status_code == 201, reply.text
    info = reply.json()
    column = [c["name"] for c in info["columns"]].index("grp")
    assert {row[column] for row in info["preview"]} == {"São €5", "Zoë “quoted”"}
    refused = {
        "wide.csv": (text.encode("utf-16"), "is UTF-16 text (by its byte-order mark); save it as UTF-8 CSV"),
        "mixed.csv": (text.encode() + "Zoë;1;0\n".encode("cp1252"), "mixes UTF-8 with another encoding"),
    }
    for name, (data, expected) in refused.items():
        answer = client.post("/api/uploads", files=_files(name, data))
        assert answer.status_code == 400 and expected in answer.json()["detail"], (name, answer.text)
        assert "\n" not in answer.json()["detail"]
    uploads = _state(client).settings.data_dir / "uploads"
    assert len([p for p in uploads.iterdir() if p.is_dir()]) == 1  # only the Windows-1252 upload
