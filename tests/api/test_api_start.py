"""The service answers before the jobs' fork server is ready (issue 26): `JobManager.start` removes expired
files and leaves the fork server's start (seconds of imports and a small audit; 28 s at load 9) to a
background thread. The fork server is replaced by a stand-in whose first process does not start until the
test lets it, so what is checked is the order of events, not a time."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from misflag.api._jobs import JobManager
from misflag.api._settings import ServeSettings


class _SlowServer:
    """Stands in for the fork server's context: a process's `start` waits until `ready` is set."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.started: list[str] = []
        self.joined: list[str] = []

    def Process(self, *, target: Any, name: str, daemon: bool) -> Any:  # multiprocessing's name
        server = self

        class _Process:
            def start(self) -> None:
                server.started.append(name)
                assert server.ready.wait(timeout=30)

            def join(self, timeout: float) -> None:
                server.joined.append(name)

        return _Process()


def test_start_returns_before_the_fork_server_is_ready(tmp_path: Path) -> None:
    jobs = JobManager(ServeSettings.default(data_dir=tmp_path))
    server = _SlowServer()
    jobs._context = server
    expired = tmp_path / "jobs" / ("0" * 32)
    expired.mkdir(parents=True)
    os.utime(expired, (0, 0))
    starting = threading.Thread(target=jobs.start)
    starting.start()
    starting.join(timeout=10)
    try:
        assert not starting.is_alive()  # start() came back while the warm-up still waits for the server
        assert not expired.exists()  # expired jobs are still removed before the service answers
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.started == ["misflag-job-warm-up"] and server.joined == []
    finally:
        server.ready.set()
    deadline = time.monotonic() + 10
    while not server.joined and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.joined == ["misflag-job-warm-up"]  # once the server answers, the warm-up is waited for
    jobs.shutdown()
