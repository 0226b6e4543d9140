"""The memory bombs of issue 20 sent over HTTP to a real `misflag serve`: time, answer, the server's RSS
before and after, and the peak RSS of the server and of its largest child process (sampled every 20 ms).

    python benchmarks/memory_bombs.py [--source-tree DIR]   # DIR/src on PYTHONPATH: measure another tree

Bombs: a 0.9 MB csv.gz inflating to 600 MiB (inventory), a Parquet of one dictionary entry of 10 KB x
200,000 rows without statistics (inventory), a Parquet of 10M rows x 100 KB without statistics (upload),
and a Parquet of 100,000 row groups (upload). Each request has 120 s.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq

MB = 1024 * 1024


def rss(pid: int) -> int:
    """Resident bytes of one process (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found += [int(child), *descendants(int(child))]
    except OSError:
        pass
    return found


class Peaks(threading.Thread):
    """Samples the server's RSS and its largest descendant's RSS until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.server, self.child, self.running = pid, 0, 0, True

    def run(self) -> None:
        while self.running:
            self.server = max(self.server, rss(self.pid))
            self.child = max([self.child, *(rss(c) for c in descendants(self.pid))])
            time.sleep(0.02)


def bombs() -> list[tuple[str, str, str, str, bytes]]:
    member = gzip.compress(b"system,agency,year,purpose\n" + b"x,y,2024,z\n" * (60 * MB // 11), 9)
    gz = member * 10  # 600 MiB inflated
    out = []
    for rows, width in ((200_000, 10_000), (10_000_000, 100_000)):
        values = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array(["x" * width]))
        buffer = io.BytesIO()
        pq.write_table(pa.table({"name": values}), buffer, write_statistics=False, compression="zstd")
        out.append(buffer.getvalue())
    groups = io.BytesIO()
    pq.write_table(pa.table({"g": list(range(100_000))}), groups, row_group_size=1)
    return [
        ("csv.gz 600 MiB inflated", "/inventory/scorecard", "files", "inv.csv.gz", gz),
        ("dictionary 200k x 10 KB", "/inventory/scorecard", "files", "inv.parquet", out[0]),
        ("dictionary 10M x 100 KB", "/api/uploads", "file", "bomb.parquet", out[1]),
        ("100k row groups", "/api/uploads", "file", "groups.parquet", groups.getvalue()),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source-tree", type=Path, default=None)
    args = parser.parse_args()
    env = dict(os.environ)
    if args.source_tree:
        env["PYTHONPATH"] = str(args.source_tree / "src")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = Path(tempfile.mkdtemp(prefix="bombs-"))
    command = [
        sys.executable,
        "-c",
        "from misflag.cli import run; run()",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data),
    ]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(f"{base}/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        print(
            f"{'bomb':28} {'bytes':>10} {'s':>6} {'srv MB before':>13} {'after':>6} {'srv peak':>8} {'child peak':>10}  answer"
        )
        for label, path, field, name, body in bombs():
            before = rss(server.pid)
            peaks = Peaks(server.pid)
            peaks.start()
            started = time.monotonic()
            try:
                reply = httpx.post(
                    f"{base}{path}", files={field: (name, body, "application/octet-stream")}, timeout=120
                )
                answer = f"{reply.status_code} {reply.text[:110]}"
            except httpx.HTTPError as error:
                answer = f"no answer ({type(error).__name__})"
            elapsed = time.monotonic() - started
            time.sleep(0.5)
            peaks.running = False
            peaks.join()
            print(
                f"{label:28} {len(body):>10,} {elapsed:>6.1f} {before / MB:>13.0f} {rss(server.pid) / MB:>6.0f} "
                f"{peaks.server / MB:>8.0f} {peaks.child / MB:>10.0f}  {answer}"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
