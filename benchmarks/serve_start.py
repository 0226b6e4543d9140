"""Benchmark: the web service's start-up and its first audit (issue 26).

Each run is a fresh Python process (the jobs' fork server is started once per process, so only a fresh
process shows what `misflag serve` or a test's first `TestClient` pays). In it: `create_app`, then
  * start: from entering `TestClient(app)` (the service's lifespan) to the first answered request (GET /);
  * first audit: upload a 200-row decision log and audit it (100 replicates) through the JSON API, at once,
    from that first answer to the job's `done` (the upload's check and the audit each run in a sandboxed
    child process, so they wait for the fork server if it is not ready yet);
  * warm audit: the same upload and audit again in the same process (what every later one costs);
  * start to first audit done: the sum of the first two (what a user who audits at once waits).
Prints the median, minimum and maximum of each over `--runs` processes, and the load average before and after.

    python benchmarks/serve_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

#: One run, in a fresh interpreter: prints a JSON object of seconds.
_RUN = """\
import json, sys, tempfile, time
from pathlib import Path
from fastapi.testclient import TestClient
from misflag.api import create_app

LOG = "g,flag,truth\\n" + "".join(f"{'ab'[i % 2]},{i % 3 == 0:d},{i % 4 == 0:d}\\n" for i in range(200))

def audit(client):
    start = time.perf_counter()
    upload = client.post("/api/uploads", files={"file": ("log.csv", LOG.encode(), "text/csv")})
    assert upload.status_code == 201, upload.text
    body = {"upload_id": upload.json()["upload_id"], "truth": "truth", "flag": "flag", "groups": ["g"],
            "replicates": 100}
    job = client.post("/api/audits", json=body).json()
    while (state := client.get(f"/api/jobs/{job['job_id']}").json()["state"]) not in ("done", "failed"):
        time.sleep(0.01)
    assert state == "done", state
    return time.perf_counter() - start

with tempfile.TemporaryDirectory() as folder:
    app = create_app(data_dir=Path(folder))
    start = time.perf_counter()
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        assert client.get("/", headers={"accept": "text/html"}).status_code == 200
        answered = time.perf_counter() - start
        first = audit(client)
        warm = audit(client)
print(json.dumps({"start": answered, "first audit": first, "warm audit": warm}))
"""


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    print(f"load average before: {_load()}")
    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", _RUN], capture_output=True, text=True, check=True)
        run = json.loads(done.stdout.strip().splitlines()[-1])
        run["start to first audit done"] = run["start"] + run["first audit"]
        for name, seconds in run.items():
            samples.setdefault(name, []).append(seconds)
    for name, values in samples.items():
        print(
            f"{name:<26} median {statistics.median(values):6.2f} s "
            f"(min {min(values):.2f}, max {max(values):.2f}; n={len(values)})"
        )
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
