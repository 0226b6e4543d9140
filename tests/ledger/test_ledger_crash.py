"""Crash test: writers append over HTTP while `misflag serve` is killed with SIGKILL at random moments,
5 times; after each restart every acknowledged entry is present and the chain verifies. Each kill comes
only once the round's writers have been acknowledged, so every one lands among live appends (a round
spent killing a server that had not started writing proves nothing); the server's start, not the kill,
is what each round costs (about 4 s), so rounds are few and each kills at a random point of a wider
window. (How long it takes is measured in benchmarks/ledger.py, never asserted here.)"""

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

import httpx
import pytest

from misflag.ledger import Ledger, create_token, read_entries

RESTARTS = 5
WRITERS = 4


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(db: str, folder: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "misflag.cli",
            "serve",
            "--port",
            str(port),
            "--ledger-db",
            db,
            "--data-dir",
            str(folder / "serve"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


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

    for round_ in range(RESTARTS):
        server = _start(db, tmp_path, port, env)
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
            time.sleep(rng.uniform(0.0, 0.5))  # then kill at a random moment among live appends
        finally:  # the kill; after a failed check too, so that no server or writer outlives the test
            server.send_signal(signal.SIGKILL)
            server.wait()
            stop.set()
            for thread in writers:
                if thread.is_alive():
                    thread.join()
        ledger = Ledger.open(db, key_path=tmp_path / "key.pem", create=False)
        stored = {entry["seq"]: entry["hash"] for entry in read_entries(ledger, start=0, limit=10_000)}
        lost = {seq for seq, digest in acknowledged.items() if stored.get(seq) != digest}
        assert not lost, f"round {round_}: acknowledged entries lost or changed: {sorted(lost)[:10]}"
        assert ledger.verify(key_fingerprint=fingerprint).ok
        ledger.close()
    server = _start(db, tmp_path, port, env)
    try:
        assert _wait_ready(base, admin, fingerprint, time.monotonic() + 300)["ok"] is True
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    assert len(acknowledged) > RESTARTS, "writers must have been acknowledged in most rounds"
