"""Limits of one web job: an audit that needs more memory than the service allows fails with one line
(DuckDB's out-of-memory error, no traceback) and writes nothing; the same upload audits fine with room."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from misflag.api import create_app
from tests.api._service import wait_job

from .conftest import BASE_URL


def _log(rows: int) -> bytes:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "a": rng.integers(0, 50, rows),
            "b": rng.integers(0, 50, rows),
            "flag": rng.integers(0, 2, rows),
            "truth": rng.integers(0, 2, rows),
        }
    )
    return frame.to_csv(index=False).encode()


def _audit(tmp_path: Path, **limits: Any) -> tuple[dict[str, Any], Path]:
    app = create_app(data_dir=tmp_path, **limits)
    with TestClient(app, base_url=BASE_URL) as client:
        reply = client.post("/api/uploads", files={"file": ("log.csv", _log(200_000), "text/csv")})
        assert reply.status_code == 201, reply.text
        body = {
            "upload_id": reply.json()["upload_id"],
            "truth": "truth",
            "flag": "flag",
            "groups": ["a", "b"],
            "replicates": 100,
        }
        job = client.post("/api/audits", json=body)
        assert job.status_code == 202, job.text
        return wait_job(client, job.json()["job_id"]), tmp_path / "jobs" / job.json()["job_id"]


def test_job_over_the_memory_limit_fails_cleanly(tmp_path: Path) -> None:
    failed, folder = _audit(tmp_path / "tight", job_memory_limit="4MB")
    assert failed["state"] == "failed", failed
    error = failed["error"]
    assert error.startswith("the audit failed:") and "memory" in error, error
    assert "\n" not in error and "Traceback" not in error and "internal error" not in error
    assert "/" not in error  # no server path leaks
    assert sorted(p.name for p in folder.iterdir()) == ["status.json"]  # no half-written result
    assert json.loads((folder / "status.json").read_text())["state"] == "failed"


def test_the_same_job_runs_under_the_default_limit(tmp_path: Path) -> None:
    done, folder = _audit(tmp_path / "roomy")
    assert done["state"] == "done", done
    assert {"result.json", "report.html"} <= {p.name for p in folder.iterdir()}
