"""The FastAPI application: audit upload page, report pages, and the routers of the ledger and inventory.

Every request passes `GuardMiddleware` first (host names, cross-site writes, access tokens, body size,
security headers); see docs/security.md for what the service promises on loopback and beyond.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from misflag import __version__
from misflag.api._access_routes import router as access_router
from misflag.api._audit_routes import router as audit_router
from misflag.api._docs import router as docs_router
from misflag.api._guard import Guard, GuardMiddleware
from misflag.api._inventory_routes import router as inventory_router
from misflag.api._jobs import JobManager
from misflag.api._ledger_routes import router as ledger_router
from misflag.api._ledger_view import router as ledger_view_router
from misflag.api._pages import reply
from misflag.api._settings import LOOPBACK_HOSTS, ServeSettings
from misflag.api._storage import private_dir
from misflag.api._workbench_routes import router as workbench_router
from misflag.errors import MisflagError

log = logging.getLogger("misflag.serve")


def create_app(
    *,
    data_dir: Path | None = None,
    ledger_db: str | None = None,
    allowed_hosts: Sequence[str] = (),
    **limits: Any,
) -> FastAPI:
    """Build the app; routers read `app.state.settings`. The CLI's `misflag serve` runs it under uvicorn.

    `allowed_hosts` adds Host names to the loopback ones; `limits` override ServeSettings fields
    (max_upload_bytes, job_timeout_seconds, max_workers, require_token, ...).
    """
    hosts = tuple(dict.fromkeys((*LOOPBACK_HOSTS, *allowed_hosts)))
    settings = replace(
        ServeSettings.default(data_dir=data_dir, ledger_db=ledger_db), allowed_hosts=hosts, **limits
    )
    private_dir(settings.data_dir)
    jobs = JobManager(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(jobs.start)
        yield
        jobs.shutdown()

    app = FastAPI(
        title="misflag",
        version=__version__,
        description="Audit who a flagging system wrongly flags: upload a decision log, run an audit, read the report.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.jobs = jobs
    app.state.guard = Guard(settings)
    app.include_router(docs_router)
    app.include_router(access_router)
    app.include_router(audit_router)
    app.include_router(ledger_router)
    app.include_router(inventory_router)
    app.include_router(workbench_router)
    app.include_router(ledger_view_router)
    app.add_middleware(GuardMiddleware, guard=app.state.guard)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(MisflagError, _misflag_error)
    return app


async def _http_error(request: Request, problem: Exception) -> Response:
    assert isinstance(problem, HTTPException)
    detail = problem.detail if isinstance(problem.detail, str) else "request refused"
    response = reply(request, problem.status_code, detail)
    response.headers.update(problem.headers or {})
    return response


async def _misflag_error(request: Request, problem: Exception) -> Response:
    return reply(request, 400, str(problem).splitlines()[0] if str(problem) else "bad request")
