"""Load test of `misflag serve`: 20 concurrent uploads and audits of a 1M-row CSV against a local server.

Checks: every upload and audit succeeds, every report downloads, and afterwards (once the clients delete
their jobs and uploads) no file is left in the data directory, in the server's working directory or in
the system temporary folder. Prints throughput, and compares with the same 20 audits run one after another
in-process (what a user without the server would do: `misflag decisions audit ... --report`).

    python benchmarks/serve_load.py [--rows 1000000] [--clients 20] [--workers 2]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

AUDIT = {"truth": "truth", "flag": "flag", "groups": ["region", "sex"], "replicates": 1000}


def make_csv(path: Path, rows: int, seed: int = 1) -> None:
    """A synthetic decision log: groups, a score, a flag with group-dependent error rates, the truth."""
    rng = np.random.default_rng(seed)
    region = rng.choice(
        ["north", "south", "east", "west", "centre"], size=rows, p=[0.3, 0.25, 0.2, 0.15, 0.1]
    )
    sex = rng.choice(["female", "male"], size=rows)
    truth = rng.random(rows) < 0.2
    bias = np.where(region == "south", 0.08, 0.0)
    flag = np.where(truth, rng.random(rows) < 0.7, rng.random(rows) < 0.1 + bias)
    score = np.clip(np.round(rng.normal(np.where(flag, 7, 4), 2)), 1, 10).astype(int)
    frame = pd.DataFrame(
        {"region": region, "sex": sex, "score": score, "flag": flag.astype(int), "truth": truth.astype(int)}
    )
    frame.to_csv(path, index=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def one_client(base: str, data: Path) -> tuple[float, int]:
    """Upload, audit, wait, download the report, delete; returns (seconds, report bytes)."""
    start = time.perf_counter()
    with httpx.Client(base_url=base, timeout=600) as client, data.open("rb") as handle:
        reply = client.post("/api/uploads", files={"file": ("log.csv", handle, "text/csv")})
        reply.raise_for_status()
        upload_id = reply.json()["upload_id"]
        reply = client.post("/api/audits", json={"upload_id": upload_id, **AUDIT})
        reply.raise_for_status()
        job_id = reply.json()["job_id"]
        while (job := client.get(f"/api/jobs/{job_id}").json())["state"] in {"queued", "running"}:
            time.sleep(0.25)
        if job["state"] != "done":
            raise RuntimeError(f"job failed: {job['error']}")
        report = client.get(f"/jobs/{job_id}/report.html")
        report.raise_for_status()
        if "Findings" not in report.text:
            raise RuntimeError("report lacks its findings")
        client.delete(f"/api/jobs/{job_id}").raise_for_status()
        client.delete(f"/api/uploads/{upload_id}").raise_for_status()
    return time.perf_counter() - start, len(report.content)


def sequential_baseline(data: Path, count: int, scratch: Path) -> float:
    """The same audits and reports one after another in-process, without the server."""
    from misflag.decisions import audit_decisions
    from misflag.report import write_report

    start = time.perf_counter()
    for i in range(count):
        result = audit_decisions(data, truth="truth", flag="flag", groups=["region", "sex"], replicates=1000)
        write_report(result, html_path=scratch / f"report-{i}.html")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline", type=int, default=3, help="sequential audits timed for the comparison")
    args = parser.parse_args()
    system_tmp = Path(tempfile.gettempdir())
    with tempfile.TemporaryDirectory(prefix="misflag-load-") as root_name:
        root = Path(root_name)
        data, data_dir, workdir = root / "log.csv", root / "data", root / "cwd"
        workdir.mkdir()
        make_csv(data, args.rows)
        size_mb = data.stat().st_size / 1e6
        print(
            f"input: {args.rows:,} rows, {size_mb:.1f} MB CSV; {args.clients} clients; {args.workers} workers"
        )
        before = {p for p in system_tmp.iterdir() if p != root}
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-c", "from misflag.cli import run; run()", "serve", "--port", str(port),
             "--data-dir", str(data_dir), "--workers", str(args.workers), "--max-upload-mb", "1024"],
            cwd=workdir,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    httpx.get(f"{base}/openapi.json", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                futures = [pool.submit(one_client, base, data) for _ in range(args.clients)]
                outcomes, errors = [], []
                for future in futures:
                    try:
                        outcomes.append(future.result())
                    except Exception as problem:  # counted and printed, not raised
                        errors.append(f"{type(problem).__name__}: {problem}")
            elapsed = time.perf_counter() - start
        finally:
            server.terminate()
            server.wait(timeout=60)
        left_data = [p for p in data_dir.rglob("*") if p.is_file() and p.name != "ledger.sqlite"]
        left_cwd = list(workdir.rglob("*"))
        left_tmp = sorted(str(p) for p in set(system_tmp.iterdir()) - before - {root})
        latencies = sorted(seconds for seconds, _ in outcomes)
        print(f"errors: {len(errors)}", *errors[:5], sep="\n  ")
        print(
            f"leftover files: data dir {len(left_data)}, server cwd {len(left_cwd)}, system tmp {len(left_tmp)}"
        )
        for path in (left_data + left_cwd)[:5] + left_tmp[:5]:
            print(f"  {path}")
        if latencies:
            print(
                f"server: {len(outcomes)} audits in {elapsed:.1f} s = {len(outcomes) / elapsed * 60:.1f} audits/min, "
                f"{len(outcomes) * args.rows / elapsed / 1e6:.2f} M rows/s, {len(outcomes) * size_mb / elapsed:.1f} MB/s "
                f"uploaded; per-client latency median {latencies[len(latencies) // 2]:.1f} s, max {latencies[-1]:.1f} s"
            )
        per_audit = sequential_baseline(data, args.baseline, root) / args.baseline
        sequential = per_audit * args.clients
        print(
            f"in-process sequential (no server): {per_audit:.2f} s per audit+report, "
            f"{sequential:.1f} s for {args.clients} (estimated from {args.baseline})"
        )
        print(f"ratio server / sequential in-process: {elapsed / sequential:.2f}")
        if errors or left_data or left_cwd or left_tmp:
            sys.exit(1)


if __name__ == "__main__":
    main()
