"""The issue's memory bombs, each refused in one line under a stated limit while the server keeps serving.

Every case is played over HTTP against an in-process service (TestClient), so the test's own resident
memory, read from /proc/self/status, *is* the server's: it must not grow by more than 512 MB, and the
service must still answer an upload afterwards (the canary). The bounded child processes themselves
are checked with the adversary's tools: a CPU spin, a 3 GB allocation, a 10 MB write.
"""

from __future__ import annotations

import gzip
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from misflag.api import create_app
from misflag.api._limits import MAX_ROW_GROUPS
from misflag.api._sandbox import LimitExceeded, ProcessLimits, Sandbox, size_bytes
from misflag.errors import InputError

BASE = "http://127.0.0.1:8000"
MB = 1024 * 1024
GROWTH_LIMIT = 512 * MB
SMALL = b"g,flag,truth\n" + b"".join(
    f"{'ab'[i % 2]},{i % 3 == 0:d},{i % 4 == 0:d}\n".encode() for i in range(200)
)


def rss() -> int:
    """This process's resident memory in bytes (VmRSS of /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = create_app(
        data_dir=tmp_path_factory.mktemp("bombs"), max_parquet_bytes=100 * MB, max_inventory_bytes=100 * MB
    )
    with TestClient(app, base_url=BASE) as served:
        yield served


def _canary(client: TestClient, before: int) -> None:
    """The service still serves an upload, and its memory grew by at most 512 MB."""
    reply = client.post("/api/uploads", files={"file": ("canary.csv", SMALL, "text/csv")})
    assert reply.status_code == 201, reply.text
    assert rss() - before < GROWTH_LIMIT, f"server RSS grew by {(rss() - before) / MB:.0f} MB"


def _one_line(reply: Any, status: int, *words: str) -> str:
    assert reply.status_code == status, reply.text[:300]
    detail = str(reply.json()["detail"])
    assert "\n" not in detail and "Traceback" not in detail and "internal error" not in detail, detail
    for word in words:
        assert word in detail, detail
    return detail


def gzip_bomb(inflated: int) -> bytes:
    """A gzip file inflating to `inflated` bytes of CSV: one 64 MiB member (about 1000 to 1), repeated
    (gzip readers read concatenated members as one stream)."""
    member = gzip.compress(
        b"system,agency,year,purpose\n" + b"x,y,2024,z\n" * (64 * MB // 11), compresslevel=9
    )
    return member * max(1, inflated // (64 * MB))


def dictionary_bomb(rows: int, width: int) -> bytes:
    """A Parquet file without statistics: `rows` copies of one `width`-byte string (a one-entry dictionary)."""
    values = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array(["x" * width]))
    out = io.BytesIO()
    pq.write_table(pa.table({"name": values}), out, write_statistics=False, compression="zstd")
    return out.getvalue()


def test_the_inventory_csv_gz_bomb_is_refused_while_inflating(client: TestClient) -> None:
    bomb = gzip_bomb(300 * MB)
    assert len(bomb) < 1 * MB  # the shape: under 1 MB sent, hundreds of MB inflated
    before = rss()
    reply = client.post("/inventory/scorecard", files={"files": ("inv.csv.gz", bomb, "application/gzip")})
    _one_line(reply, 422, "'inv.csv.gz' inflates to more than 104,857,600 bytes")
    _canary(client, before)


def test_the_inventory_dictionary_bomb_is_refused_from_its_dictionary(client: TestClient) -> None:
    bomb = dictionary_bomb(200_000, 10_000)  # 2 GB decoded
    assert len(bomb) < 64 * 1024
    assert not pq.ParquetFile(io.BytesIO(bomb)).metadata.row_group(0).column(0).is_stats_set
    before = rss()
    reply = client.post(
        "/inventory/scorecard", files={"files": ("inv.parquet", bomb, "application/octet-stream")}
    )
    _one_line(reply, 422, "'inv.parquet' expands to more than 104,857,600 bytes uncompressed")
    _canary(client, before)


def test_the_upload_dictionary_bomb_without_statistics_is_refused(client: TestClient) -> None:
    """The issue's 173 KB file: millions of 100 KB values under a declared size of a few MB."""
    bomb = dictionary_bomb(2_000_000, 100_000)  # 200 GB decoded
    meta = pq.ParquetFile(io.BytesIO(bomb)).metadata
    assert meta.row_group(0).column(0).total_uncompressed_size < 100 * MB  # the old estimate let it in
    before = rss()
    reply = client.post("/api/uploads", files={"file": ("bomb.parquet", bomb, "application/octet-stream")})
    _one_line(reply, 400, "'bomb.parquet' expands to more than 104,857,600 bytes uncompressed")
    _canary(client, before)


def test_a_file_of_too_many_row_groups_is_refused_before_they_are_walked(client: TestClient) -> None:
    out = io.BytesIO()
    pq.write_table(pa.table({"g": list(range(MAX_ROW_GROUPS + 1))}), out, row_group_size=1)
    before = rss()
    reply = client.post(
        "/api/uploads", files={"file": ("groups.parquet", out.getvalue(), "application/octet-stream")}
    )
    _one_line(reply, 400, f"has {MAX_ROW_GROUPS + 1:,} row groups; the limit is {MAX_ROW_GROUPS:,}")
    _canary(client, before)


def test_a_plain_text_column_without_statistics_is_measured_honestly(client: TestClient) -> None:
    """Plain encoding stores every byte, so its declared size is the truth: a benign file passes."""
    out = io.BytesIO()
    table = pa.table({"g": [f"group {i % 7}" for i in range(500)], "flag": [i % 2 for i in range(500)]})
    pq.write_table(table, out, write_statistics=False, use_dictionary=False)
    reply = client.post(
        "/api/uploads", files={"file": ("plain.parquet", out.getvalue(), "application/octet-stream")}
    )
    assert reply.status_code == 201, reply.text


def test_an_inventory_past_its_cpu_limit_is_stopped_in_one_line(tmp_path: Path) -> None:
    """Inflating 2 GB costs seconds of CPU; with one second allowed the child is stopped by SIGXCPU."""
    app = create_app(data_dir=tmp_path, job_cpu_seconds=1, max_inventory_bytes=4 * 1024 * MB)
    with TestClient(app, base_url=BASE) as served:
        before = rss()
        bomb = gzip_bomb(2048 * MB)
        reply = served.post("/inventory/history", files={"files": ("inv.csv.gz", bomb, "application/gzip")})
        _one_line(
            reply, 422, "the inventory history failed: it used more than this service's limit of 1 s of CPU"
        )
        _canary(served, before)


LIMITS = ProcessLimits(memory_bytes=2 * 1024**3, cpu_seconds=2, output_bytes=MB)


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(LIMITS, timeout_seconds=60)


def test_a_child_over_its_memory_limit_fails_with_one_line(sandbox: Sandbox) -> None:
    before = rss()
    with pytest.raises(
        InputError, match=r"^allocating failed: it needed more memory than this service's limit"
    ):
        sandbox.run("allocating", bytearray, 3 * 1024**3)
    assert rss() - before < GROWTH_LIMIT


def test_a_child_over_its_cpu_limit_is_stopped(sandbox: Sandbox) -> None:
    with pytest.raises(
        LimitExceeded, match=r"^spinning failed: it used more than this service's limit of 2 s"
    ):
        sandbox.run("spinning", sum, range(10**12))


def test_a_child_writing_past_its_file_limit_is_stopped(sandbox: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "big.bin"
    with pytest.raises(InputError, match=r"^writing failed: it wrote a file larger than .* 1,048,576 bytes"):
        sandbox.run("writing", Path.write_bytes, target, b"x" * (10 * MB))
    assert target.stat().st_size <= MB


def test_a_child_past_the_wall_clock_is_killed() -> None:
    slow = Sandbox(ProcessLimits(2 * 1024**3, 60, MB), timeout_seconds=1)
    with pytest.raises(
        LimitExceeded, match=r"^sleeping failed: it ran longer than this service's limit of 1 s"
    ):
        slow.run("sleeping", __import__("time").sleep, 30)


def test_a_child_answers_its_value(sandbox: Sandbox) -> None:
    assert sandbox.run("adding", sum, [1, 2, 3]) == 6


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2GB", 2 * 10**9), ("500MB", 500 * 10**6), ("1.5GiB", 3 * 2**29), ("4kb", 4000), ("10 B", 10)],
)
def test_memory_sizes_read_as_duckdb_reads_them(text: str, expected: int) -> None:
    assert size_bytes(text) == expected


def test_a_bad_memory_size_is_one_line() -> None:
    with pytest.raises(InputError, match="must look like 2GB"):
        size_bytes("2 elephants")


def test_default_limits_follow_the_service_settings(tmp_path: Path) -> None:
    """`--job-memory 2GB` gives DuckDB 2,000,000,000 bytes and the process that plus 1 GiB above its start;
    CPU seconds are the 600 s time limit on every core; files up to 1 GiB."""
    limits = create_app(data_dir=tmp_path).state.jobs.limits
    assert limits == ProcessLimits(2_000_000_000 + 1024**3, 600 * (os.cpu_count() or 1), 1024**3)
    tight = create_app(data_dir=tmp_path, job_memory_limit="500MB", job_cpu_seconds=7).state.jobs.limits
    assert (tight.memory_bytes, tight.cpu_seconds) == (500_000_000 + 1024**3, 7)


def test_an_audit_past_its_cpu_limit_fails_in_one_line(tmp_path: Path) -> None:
    """A 300,000-row audit of 512 intersections with 2,000 replicates needs several CPU seconds (about
    3.7 s of CPU in-process, the upload check 0.1 s); with one second allowed the
    job's process is stopped by SIGXCPU and the job page says so."""
    rows = 300_000
    log = "a,b,c,flag,truth\n" + "".join(
        f"{'abcdefgh'[i % 8]},{'pqrstuvw'[i // 8 % 8]},{'klmnoxyz'[i // 64 % 8]},{i % 3 == 0:d},{i % 5 == 0:d}\n"
        for i in range(rows)
    )
    app = create_app(data_dir=tmp_path, job_cpu_seconds=1, max_upload_bytes=50 * MB)
    with TestClient(app, base_url=BASE) as served:
        before = rss()
        upload = served.post("/api/uploads", files={"file": ("log.csv", log.encode(), "text/csv")})
        assert upload.status_code == 201, upload.text
        body = {
            "upload_id": upload.json()["upload_id"],
            "truth": "truth",
            "flag": "flag",
            "groups": ["a", "b", "c"],
            "intersect": True,
            "replicates": 2000,
        }
        job = served.post("/api/audits", json=body).json()
        while (status := served.get(f"/api/jobs/{job['job_id']}").json())["state"] not in {"done", "failed"}:
            time.sleep(0.1)
        assert status["state"] == "failed", status
        assert status["error"] == (
            "the audit failed: it used more than this service's limit of 1 s of CPU time and was stopped"
        )
        _canary(served, before)
