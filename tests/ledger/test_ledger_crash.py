"""Crash test: writers append over HTTP while `misflag serve` is killed with SIGKILL at random moments,
8 times; after each restart every acknowledged entry is present and the chain verifies. Each kill comes
only once the round's writers have been acknowledged (a round spent killing a server that had not started
writing proves nothing), at a random point of a wider window. Five rounds kill among live appends; three
(rounds 1, 4, 7) first stop the writers and wait for each one's last answer, so the kill finds the last
acknowledged write with no later one behind it: a COMMIT deferred to the next write (acknowledged, still
uncommitted) is lost there every time, where among four busy writers the next write may commit it first.
Each server is a fork of one interpreter that imported what `serve` imports (the import, seconds on a loaded
machine, was what a round cost): a fresh process running `misflag serve`, killed at once with its jobs'
fork server (its process group), whose warm-up would otherwise outlive it and slow the next rounds. (How
long a restart takes is measured in benchmarks/ledger.py, never asserted here.)"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from subprocess import PIPE

import httpx
import pytest

from misflag.ledger import Ledger, create_token, read_entries

RESTARTS = 8
QUIET = 3  # every third round, from round 1, kills once the writers have stopped
WRITERS = 4


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


#: Imports what `misflag serve` imports, once; then for each `start` line on stdin forks a child that runs
#: `misflag serve ARGS` in a process group of its own and prints its pid, and for each `kill` line SIGKILLs
#: that group (the server and its jobs' fork server) and prints the server's exit status once reaped.
SERVER_FORKS = """
import os, signal, sys, threading
import uvicorn
import misflag.api, misflag.commands.serve
from misflag.cli import main
assert threading.active_count() == 1, "a thread started before the fork"
child = 0
for line in sys.stdin:
    if line.strip() == "start":
        child = os.fork()
        if child == 0:
            os.setsid()
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            code = 1
            try:
                code = main(["serve", *sys.argv[1:]])
            finally:
                os._exit(code)
        print(child, flush=True)
    elif line.strip() == "kill":
        os.killpg(child, signal.SIGKILL)
        print(os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]), flush=True)
"""


def _servers(db: str, folder: Path, port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    """The process that forks a `misflag serve` on `port` for `db` on each `start` (see SERVER_FORKS)."""
    args = ["--port", str(port), "--ledger-db", db, "--data-dir", str(folder / "serve")]
    command = [sys.executable, "-c", SERVER_FORKS, *args]
    return subprocess.Popen(command, env=env, stdin=PIPE, stdout=PIPE, text=True)


def _ask(servers: subprocess.Popen[str], command: str) -> int:
    """Send `start` or `kill`; return the answer (the new server's pid, or the killed one's exit status)."""
    assert servers.stdin is not None and servers.stdout is not None
    servers.stdin.write(f"{command}\n")
    servers.stdin.flush()
    answer = servers.stdout.readline()
    assert answer, f"the forking process ended (exit {servers.wait()}) instead of answering {command}"
    return int(answer)


def _stop(stop: threading.Event, writers: list[threading.Thread]) -> None:
    """Stop the writers and wait for each one's request in flight to be answered or to fail."""
    stop.set()
    for thread in writers:
        if thread.is_alive():
            thread.join()


def _wait_ready(base: str, token: str, fingerprint: str, deadline: float) -> dict[str, object]:
    """Poll until the restarted server answers; return its verify report against the pinned key."""
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(
                f"{base}/ledger/verify?key_fingerprint={fingerprint}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            )
            if answer.status_code == 200:
                report: dict[str, object] = answer.json()
                return report
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("the server did not come back in time")


@pytest.mark.slow
def test_ledger_survives_sigkill_during_concurrent_appends(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    env = os.environ | {"MISFLAG_LEDGER_KEY": str(tmp_path / "key.pem")}
    setup = Ledger.open(db, key_path=tmp_path / "key.pem")
    recorder = create_token(setup, "writer", "recorder", actor="setup")
    admin = create_token(setup, "admin-1", "admin", actor="setup")
    (fingerprint,) = setup.pinned_keys()  # what `init` printed, kept apart from the server
    setup.close()
    port, rng = _free_port(), random.Random(6)
    base = f"http://127.0.0.1:{port}"
    acknowledged: dict[int, str] = {}
    in_round: dict[int, int] = {}  # entries acknowledged in each round
    lock = threading.Lock()

    def write(writer: int, round_: int, stop: threading.Event) -> None:
        with httpx.Client(timeout=5) as client:
            number = 0
            while not stop.is_set():
                case = f"w{writer}-r{round_}-{number}"
                number += 1
                event = {
                    "kind": "flagged",
                    "case_id": case,
                    "groups": {"site": f"s{writer}"},
                    "payload": {"rule_id": "r", "rule_version": "1", "input_digest": "d"},
                }
                try:
                    answer = client.post(
                        f"{base}/ledger/events",
                        json={"events": [event]},
                        headers={"Authorization": f"Bearer {recorder}"},
                    )
                except httpx.TransportError:
                    return
                if answer.status_code == 200:
                    with lock:
                        for receipt in answer.json()["entries"]:
                            acknowledged[receipt["seq"]] = receipt["hash"]
                            in_round[round_] = in_round.get(round_, 0) + 1

    with _servers(db, tmp_path, port, env) as servers:
        for round_ in range(RESTARTS):
            _ask(servers, "start")
            stop = threading.Event()
            writers = [threading.Thread(target=write, args=(w, round_, stop)) for w in range(WRITERS)]
            try:
                report = _wait_ready(base, admin, fingerprint, time.monotonic() + 300)
                assert report["ok"] is True, report
                for thread in writers:
                    thread.start()
                deadline = time.monotonic() + 120
                while not in_round.get(round_) and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert in_round.get(round_), f"round {round_}: no append was acknowledged before the kill"
                time.sleep(rng.uniform(0.0, 0.5))  # then kill at a random moment among live appends,
                if round_ % QUIET == 1:  # or once every writer has its last answer
                    _stop(stop, writers)
            finally:  # the kill; after a failed check too, so that no server or writer outlives the test
                try:
                    killed = _ask(servers, "kill")
                finally:
                    _stop(stop, writers)
            assert killed == -signal.SIGKILL, (
                f"round {round_}: the server had ended before the kill ({killed})"
            )
            ledger = Ledger.open(db, key_path=tmp_path / "key.pem", create=False)
            stored = {entry["seq"]: entry["hash"] for entry in read_entries(ledger, start=0, limit=10_000)}
            lost = {seq for seq, digest in acknowledged.items() if stored.get(seq) != digest}
            assert not lost, f"round {round_}: acknowledged entries lost or changed: {sorted(lost)[:10]}"
            assert ledger.verify(key_fingerprint=fingerprint).ok
            ledger.close()
        _ask(servers, "start")
        try:
            assert _wait_ready(base, admin, fingerprint, time.monotonic() + 300)["ok"] is True
        finally:
            _ask(servers, "kill")
    assert len(acknowledged) > RESTARTS, "writers must have been acknowledged in most rounds"
