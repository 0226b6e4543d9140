"""schemathesis against the service's OpenAPI spec (audit and file routes): no request gets a 500.

The spec is the one the app serves at /openapi.json (`APP.openapi()`), read without starting the app's
lifespan: `from_asgi` would start it, and its job worker, at import, so every xdist worker paid for it at
collection; the first case's call starts it, on the worker that runs the test."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from misflag.api import create_app

_DATA = Path(tempfile.mkdtemp(prefix="misflag-schema-test-"))
atexit.register(shutil.rmtree, _DATA, True)
# schemathesis calls the app as "testserver": allowed here, as --allowed-host would
APP = create_app(data_dir=_DATA, max_upload_bytes=100_000, allowed_hosts=["testserver"])
_SPEC = schemathesis.openapi.from_dict(APP.openapi())
_SPEC.app, _SPEC.location = APP, "/openapi.json"  # what from_asgi sets: cases call the app in process
schema = _SPEC.include(tag=["audit", "files"])


def test_openapi_spec_lists_the_audit_routes() -> None:
    paths = APP.openapi()["paths"]
    assert {"/api/uploads", "/api/audits", "/api/jobs/{job_id}", "/jobs/{job_id}/report.html"} <= set(paths)
    upload = paths["/api/uploads"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, (
        f"{case.method} {case.path}: {response.status_code} {response.text[:300]}"
    )
