"""Every limit of the web service holds: bodies stopped while they stream (audit and inventory uploads,
JSON), Parquet bombs refused from their footer, uploads kept and jobs queued are capped, a job past its
time limit is killed, SIGTERM stops the server promptly, and an exposed bind without a token refuses to
start."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from misflag.api import create_app
from tests.api._service import wait_job

BASE = "http://127.0.0.1:8000"
SMALL = b"g,flag,truth\n" + b"".join(
    f"{'ab'[i % 2]},{i % 3 == 0:d},{i % 4 == 0:d}\n".encode() for i in range(200)
)


class Counting:
    """A request body of `total` bytes in 64 KiB chunks that counts how much the server pulled."""

    def __init__(self, total: int, head: bytes = b"", tail: bytes = b"") -> None:
        self.total, self.head, self.tail, self.sent = total, head, tail, 0

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        while self.sent < self.total:
            chunk = b"x" * min(65536, self.total - self.sent)
            self.sent += len(chunk)
            yield chunk
        yield self.tail


def _multipart(field: str, name: str) -> tuple[bytes, bytes, dict[str, str]]:
    head = (
        f'--B\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    return head, b"\r\n--B--\r\n", {"content-type": "multipart/form-data; boundary=B"}


def _log(rows: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.choice(list("abcdefgh"), rows),
            "b": rng.choice(list("pqrstuvw"), rows),
            "c": rng.choice(list("klmnoxyz"), rows),
            "flag": rng.integers(0, 2, rows),
            "truth": rng.integers(0, 2, rows),
        }
    )
    return frame.to_csv(index=False).encode()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(data_dir=tmp_path / "data", max_upload_bytes=1_000_000, max_body_bytes=100_000)
    with TestClient(app, base_url=BASE) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The service under uvicorn on a free loopback port (a real socket: the client sees when it stops)."""
    import threading

    import uvicorn

    data = tmp_path_factory.mktemp("live")
    app = create_app(data_dir=data, max_upload_bytes=1_000_000, max_body_bytes=100_000)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", data
    server.should_exit = True
    thread.join(timeout=20)


def _send_until_answered(base: str, path: str, head: bytes, total: int) -> tuple[int, bytes]:
    """POST a chunked body of `total` bytes over a raw socket, stopping as soon as the server answers.

    Returns the bytes sent by then and the start of the answer."""
    import select

    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nTransfer-Encoding: chunked\r\n"
            "Content-Type: multipart/form-data; boundary=B\r\n\r\n".encode()
        )
        sent, chunk = 0, b"x" * 65536
        sock.sendall(b"%x\r\n%s\r\n" % (len(head), head))
        while sent < total and not select.select([sock], [], [], 0)[0]:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (TimeoutError, OSError):
                break  # the server stopped reading
            sent += len(chunk)
        return sent, sock.recv(4096)


@pytest.mark.parametrize(("path", "field"), [("/api/uploads", "file"), ("/inventory/scorecard", "files")])
def test_upload_bodies_are_stopped_while_streaming(live: tuple[str, Path], path: str, field: str) -> None:
    base, data = live
    head, _tail, _headers = _multipart(field, "big.csv")
    sent, answer = _send_until_answered(base, path, head, 300 * 1024 * 1024)  # 300 MB, no Content-Length
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 8 * 1024 * 1024  # answered just past the 1 MB limit (plus socket buffers), not at 300 MB
    assert [p for p in data.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("path", ["/api/uploads", "/inventory/check", "/api/audits", "/ledger/events"])
def test_declared_oversize_is_refused_before_reading(client: TestClient, path: str) -> None:
    body = Counting(300 * 1024 * 1024)
    headers = {"content-length": str(300 * 1024 * 1024), "content-type": "multipart/form-data; boundary=B"}
    reply = client.post(path, content=body, headers=headers)
    assert reply.status_code == 413 and "larger than the limit" in reply.json()["detail"]
    assert body.sent <= 65536


def test_json_bodies_are_limited_too(client: TestClient) -> None:
    reply = client.post(
        "/api/audits", content=Counting(5_000_000), headers={"content-type": "application/json"}
    )
    assert reply.status_code == 413


def test_parquet_bomb_is_refused_from_its_footer(tmp_path: Path) -> None:
    rows = 20_000_000
    table = pa.table(
        {"flag": pa.array(np.zeros(rows, dtype=np.int8)), "truth": pa.array(np.ones(rows, dtype=np.int8))}
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", row_group_size=rows)
    assert buffer.tell() < 1_000_000  # a small file ...
    with TestClient(create_app(data_dir=tmp_path), base_url=BASE) as client:
        files = {"file": ("bomb.parquet", buffer.getvalue(), "application/octet-stream")}
        reply = client.post("/api/uploads", files=files)
        assert reply.status_code == 400  # ... of 20M rows, refused before any page is decoded
        assert (
            reply.json()["detail"]
            == "'bomb.parquet' has 20,000,000 rows; this service audits at most 10,000,000 rows a file"
        )


def test_parquet_uncompressed_size_is_limited(tmp_path: Path) -> None:
    table = pa.table({"x": pa.array(np.zeros(1_000_000, dtype=np.int64))})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    app = create_app(data_dir=tmp_path, max_parquet_bytes=1_000_000, max_inventory_bytes=1_000_000)
    with TestClient(app, base_url=BASE) as client:
        reply = client.post(
            "/api/uploads", files={"file": ("wide.parquet", buffer.getvalue(), "application/octet-stream")}
        )
        assert (
            reply.status_code == 400
            and "uncompressed; the limit is 1,000,000 bytes" in reply.json()["detail"]
        )
        reply = client.post(
            "/inventory/check",
            files={"files": ("wide.parquet", buffer.getvalue(), "application/octet-stream")},
        )
        assert reply.status_code == 422 and "uncompressed" in reply.json()["detail"]


def test_csv_rows_are_limited(tmp_path: Path) -> None:
    with TestClient(create_app(data_dir=tmp_path, max_rows=100), base_url=BASE) as client:
        reply = client.post("/api/uploads", files={"file": ("log.csv", SMALL, "text/csv")})
        assert reply.status_code == 400 and "has 200 rows" in reply.json()["detail"]


def test_uploads_kept_are_capped(tmp_path: Path) -> None:
    app = create_app(data_dir=tmp_path, max_uploads=3, max_upload_total_bytes=20_000)
    with TestClient(app, base_url=BASE) as client:
        ids = [
            client.post("/api/uploads", files={"file": ("a.csv", SMALL, "text/csv")}).json()["upload_id"]
            for _ in range(3)
        ]
        reply = client.post("/api/uploads", files={"file": ("a.csv", SMALL, "text/csv")})
        assert reply.status_code == 429 and "keeps 3 upload(s)" in reply.json()["detail"]
        assert client.delete(f"/api/uploads/{ids[0]}").status_code == 204
        assert client.post("/api/uploads", files={"file": ("a.csv", SMALL, "text/csv")}).status_code == 201
        for upload_id in ids[1:]:
            assert client.delete(f"/api/uploads/{upload_id}").status_code == 204
        big = SMALL + b"a,1,1\n" * 4000  # 24 kB: over what is left of the 20 kB total
        reply = client.post("/api/uploads", files={"file": ("b.csv", big, "text/csv")})
        assert reply.status_code == 413
        assert len(list((tmp_path / "uploads").iterdir())) == 1


def test_job_time_limit_kills_the_audit(tmp_path: Path) -> None:
    # 0.02 s: far below what reading and auditing 300,000 rows takes in the job's process on any machine,
    # so the audit is always killed before it can write a result.
    app = create_app(data_dir=tmp_path, job_timeout_seconds=0.02, max_upload_bytes=50_000_000)
    with TestClient(app, base_url=BASE) as client:
        upload_id = client.post(
            "/api/uploads", files={"file": ("log.csv", _log(300_000), "text/csv")}
        ).json()["upload_id"]
        body = {
            "upload_id": upload_id,
            "truth": "truth",
            "flag": "flag",
            "groups": ["a", "b", "c"],
            "intersect": True,
            "replicates": 2000,
        }
        job = client.post("/api/audits", json=body).json()
        failed = wait_job(client, job["job_id"])
        assert failed["state"] == "failed", failed
        assert "longer than this service's limit of 0.02 s" in failed["error"], failed
        folder = tmp_path / "jobs" / job["job_id"]
        time.sleep(3)
        assert sorted(p.name for p in folder.iterdir()) == ["status.json"]  # the killed audit wrote nothing
        assert json.loads((folder / "status.json").read_text())["state"] == "failed"


def test_queued_jobs_are_capped_and_a_running_job_can_be_cancelled(tmp_path: Path) -> None:
    app = create_app(data_dir=tmp_path, max_jobs=1, max_workers=1, max_upload_bytes=50_000_000)
    with TestClient(app, base_url=BASE) as client:
        upload_id = client.post(
            "/api/uploads", files={"file": ("log.csv", _log(300_000), "text/csv")}
        ).json()["upload_id"]
        body = {
            "upload_id": upload_id,
            "truth": "truth",
            "flag": "flag",
            "groups": ["a", "b", "c"],
            "intersect": True,
            "replicates": 2000,
        }
        first = client.post("/api/audits", json=body).json()
        second = client.post("/api/audits", json=body)
        assert second.status_code == 429 and "already queued or running" in second.json()["detail"]
        wait_job(client, first["job_id"], frozenset({"running"}))
        assert client.delete(f"/api/jobs/{first['job_id']}").status_code == 204
        for _ in range(100):
            if client.get(f"/api/jobs/{first['job_id']}").status_code == 404:
                break
            time.sleep(0.1)
        assert client.get(f"/api/jobs/{first['job_id']}").status_code == 404
        assert not (tmp_path / "jobs" / first["job_id"]).exists()
        assert (
            client.post("/api/audits", json=body | {"replicates": 100, "intersect": False}).status_code == 202
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(*args: str) -> list[str]:
    return [sys.executable, "-c", "from misflag.cli import run; run()", "serve", *args]


@pytest.mark.slow
def test_sigterm_stops_the_server_and_its_jobs(tmp_path: Path) -> None:
    import httpx

    port = _free_port()
    # a short folder of its own: the job server's socket path must fit AF_UNIX's 108 bytes, which a nested
    # tmp_path (an xdist worker's adds popen-gw0/) can pass
    scratch = Path(tempfile.mkdtemp(prefix="misflag-sigterm-"))
    server = subprocess.Popen(
        _serve("--port", str(port), "--data-dir", str(tmp_path), "--max-upload-mb", "64"),
        env=os.environ | {"TMPDIR": str(scratch)},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/openapi.json", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=60) as client:
            upload = client.post(
                "/api/uploads", files={"file": ("log.csv", _log(300_000), "text/csv")}
            ).json()
            body = {
                "upload_id": upload["upload_id"],
                "truth": "truth",
                "flag": "flag",
                "groups": ["a", "b", "c"],
                "intersect": True,
                "replicates": 2000,
            }
            job = client.post("/api/audits", json=body).json()
            for _ in range(200):
                if client.get(f"/api/jobs/{job['job_id']}").json()["state"] == "running":
                    break
                time.sleep(0.05)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=20) == 128 + signal.SIGTERM  # the running audit does not hold it
        status = json.loads((tmp_path / "jobs" / job["job_id"] / "status.json").read_text())
        assert status["state"] == "failed" and "stopped" in status["error"]
        assert list(scratch.iterdir()) == []  # the job server's socket folder went with it
    finally:
        if server.poll() is None:
            server.kill()
        shutil.rmtree(scratch, ignore_errors=True)


def test_exposed_bind_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    env = os.environ | {"NO_COLOR": "1"}
    args = ("--host", "0.0.0.0", "--port", str(_free_port()), "--data-dir", str(tmp_path))
    done = subprocess.run(_serve(*args), capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs an access token" in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "uploads").exists()


def test_a_temporary_folder_too_long_for_the_job_socket_refuses_to_start(tmp_path: Path) -> None:
    """A TMPDIR whose path leaves the job server's socket (AF_UNIX: 107 bytes on Linux) no room is one
    line, exit 2, before the service starts (it was uvicorn's 'Application startup failed' and a
    traceback); one byte shorter, the same service starts, answers, and checks an upload in a process
    forked by its job server."""
    import httpx

    room = 107 - len("/pymp-12345678/listener-12345678")
    scratch = Path(tempfile.mkdtemp(prefix="misflag-tmpdir-"))
    try:
        base = str(scratch) + "/"
        too_long, longest = Path(base + "x" * (room + 1 - len(base))), Path(base + "y" * (room - len(base)))
        too_long.mkdir(), longest.mkdir()
        args = ("--port", str(_free_port()), "--data-dir", str(tmp_path))
        env = os.environ | {"NO_COLOR": "1", "TMPDIR": str(too_long)}
        done = subprocess.run(_serve(*args), capture_output=True, text=True, timeout=120, env=env)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
        assert f"{room + 1} bytes long" in lines[0] and "TMPDIR" in lines[0]
        port = _free_port()
        server = subprocess.Popen(
            _serve("--port", str(port), "--data-dir", str(tmp_path)),
            env=env | {"TMPDIR": str(longest)},
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            body = {"upload_id": "", "truth": "t", "flag": "f"}
            for _ in range(300):
                try:
                    answer = httpx.post(f"http://127.0.0.1:{port}/api/audits", json=body, timeout=2)
                    break
                except httpx.HTTPError:
                    assert server.poll() is None, server.stderr.read() if server.stderr else ""
                    time.sleep(0.1)
            assert answer.status_code < 500  # a refusal, not a crash
            # the service answers before its job server is ready (it starts in the background): an upload,
            # checked in a child process forked by that server, is what shows the server started
            upload = httpx.post(
                f"http://127.0.0.1:{port}/api/uploads",
                files={"file": ("log.csv", b"flag,truth\n1,0\n0,1\n", "text/csv")},
                timeout=120,
            )
            assert upload.status_code == 201, upload.text
        finally:
            server.kill()
            server.wait()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
