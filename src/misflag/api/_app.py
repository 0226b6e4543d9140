"""The FastAPI application: audit upload page, report pages, and the routers of the ledger and inventory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from misflag import __version__
from misflag.api._audit_routes import router as audit_router
from misflag.api._inventory_routes import router as inventory_router
from misflag.api._jobs import JobManager
from misflag.api._ledger_routes import router as ledger_router
from misflag.api._pages import render_page
from misflag.api._settings import ServeSettings
from misflag.errors import MisflagError

log = logging.getLogger("misflag.serve")


def create_app(*, data_dir: Path | None = None, ledger_db: str | None = None, **limits: Any) -> FastAPI:
    """Build the app; routers read `app.state.settings`. The CLI's `misflag serve` runs it under uvicorn.

    `limits` override ServeSettings fields (max_upload_bytes, job_ttl_seconds, max_workers, ...).
    """
    settings = replace(ServeSettings.default(data_dir=data_dir, ledger_db=ledger_db), **limits)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    jobs = JobManager(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        jobs.cleanup()
        yield
        jobs.shutdown()

    app = FastAPI(
        title="misflag",
        version=__version__,
        description="Audit who a flagging system wrongly flags: upload a decision log, run an audit, read the report.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.jobs = jobs
    app.include_router(audit_router)
    app.include_router(ledger_router)
    app.include_router(inventory_router)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(MisflagError, _misflag_error)
    app.add_exception_handler(Exception, _internal_error)
    return app


def _wants_page(request: Request) -> bool:
    """Browsers reading pages get an HTML message; API clients get JSON."""
    path = request.url.path
    api = path.startswith(("/api/", "/ledger", "/inventory", "/openapi", "/docs")) or path.endswith(
        (".json", ".csv")
    )
    return not api and "text/html" in request.headers.get("accept", "")


def _reply(request: Request, status: int, message: str) -> Response:
    if _wants_page(request):
        return render_page("base.html", error=message, status=status)
    return JSONResponse({"detail": message}, status_code=status)


async def _http_error(request: Request, problem: Exception) -> Response:
    assert isinstance(problem, HTTPException)
    detail = problem.detail if isinstance(problem.detail, str) else "request refused"
    return _reply(request, problem.status_code, detail)


async def _misflag_error(request: Request, problem: Exception) -> Response:
    return _reply(request, 400, str(problem))


async def _internal_error(request: Request, problem: Exception) -> Response:
    log.exception("internal error on %s", request.url.path)
    return _reply(request, 500, f"internal error ({type(problem).__name__}); please report it")
