"""Work a request starts outside the job queue (upload checks, inventory audits, finished jobs' pages) runs
at most `slots` children at once: the adversary ran 10 concurrent `POST /inventory/scorecard` requests and
got 10 children at once (docs/security.md, denial of service). A request waits for a slot up to the
wall-clock limit, then is told the service is busy, in one line.

The children are replaced by an in-process stand-in (`Sandbox._run`) that counts how many run at once, so
the bound is counted, not timed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from misflag.api._jobs import JobManager
from misflag.api._sandbox import LimitExceeded, ProcessLimits, Sandbox
from misflag.api._settings import ServeSettings

LIMITS = ProcessLimits(memory_bytes=2 * 1024**3, cpu_seconds=2, output_bytes=1024**2)


class _Counting:
    """Stands in for a child: holds its slot until released, counting how many hold one at once."""

    def __init__(self) -> None:
        self.lock, self.running, self.most = threading.Lock(), 0, 0
        self.release = threading.Event()

    def __call__(self, what: str, target: Callable[..., Any], *args: Any) -> Any:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self.release.wait(timeout=30)
        with self.lock:
            self.running -= 1
        return target(*args)


def _flood(sandbox: Sandbox, requests: int) -> tuple[_Counting, list[Any]]:
    counting = _Counting()
    sandbox._run = counting  # type: ignore[method-assign]
    answers: list[Any] = []
    threads = [
        threading.Thread(target=lambda: answers.append(sandbox.run("adding", sum, [1, 2])))
        for _ in range(requests)
    ]
    for thread in threads:
        thread.start()
    threading.Timer(0.5, counting.release.set).start()
    for thread in threads:
        thread.join(timeout=30)
    return counting, answers


@pytest.mark.parametrize("slots", [1, 2, 3])
def test_ten_concurrent_requests_run_at_most_slots_children(slots: int) -> None:
    counting, answers = _flood(Sandbox(LIMITS, timeout_seconds=30, slots=slots), 10)
    assert answers == [3] * 10
    assert counting.most == slots  # the control: 10 requests would hold 10 without the slots


def test_a_request_that_finds_no_slot_is_told_the_service_is_busy() -> None:
    sandbox = Sandbox(LIMITS, timeout_seconds=0.2, slots=1)
    counting = _Counting()
    sandbox._run = counting  # type: ignore[method-assign]
    holder = threading.Thread(target=sandbox.run, args=("adding", sum, [1]))
    holder.start()
    while counting.running == 0:
        threading.Event().wait(0.01)
    with pytest.raises(
        LimitExceeded, match=r"^checking failed: the service was busy with other work for 0.2 s; try again$"
    ):
        sandbox.run("checking", sum, [1])
    counting.release.set()
    holder.join(timeout=30)
    assert sandbox.run("adding", sum, [4]) == 4  # the slot is free again


def test_the_service_gives_its_sandbox_as_many_slots_as_audit_workers(tmp_path: Any) -> None:
    settings = ServeSettings(data_dir=tmp_path, ledger_db=str(tmp_path / "l.db"), max_workers=3)
    counting, _ = _flood(JobManager(settings).sandbox, 8)
    assert counting.most == 3
