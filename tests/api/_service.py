"""What the web service's tests share: waiting for a job, and the service under uvicorn for a browser."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

FINISHED = frozenset({"done", "failed"})


def wait_job(
    client: TestClient, job: str, states: frozenset[str] = FINISHED, seconds: float = 120
) -> dict[str, Any]:
    """A job's status once it is in one of `states` (`job`: its id, or a URL ending in it).

    Polls every 20 ms at first, then less often (up to every 250 ms), so a job of a second is seen
    done within tens of milliseconds and a long one is not slowed by the polls' own work."""
    job_id = job.rstrip("/").rsplit("/", 1)[-1]
    deadline, pause = time.monotonic() + seconds, 0.02
    while time.monotonic() < deadline:
        status: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if status["state"] in states:
            return status
        time.sleep(pause)
        pause = min(0.25, pause * 1.5)
    raise AssertionError(f"the job did not reach {sorted(states)} in {seconds:g} s")


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, in a thread: its base URL; stopped on exit.

    Its start does not wait for the jobs' fork server (`JobManager.start`): 20 s is ample. The URL is
    given once the server has forked one bounded child, so that a browser's first upload (checked in
    such a child) is not cut off by the browser's 30 s limit while the server still warms up."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        assert app.state.jobs.sandbox.run("warming up", int) == 0
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
