"""The FastAPI application: audit upload page, report pages, and the routers of the ledger and inventory."""

from __future__ import annotations

from fastapi import FastAPI

from misflag import __version__
from misflag.api._inventory_routes import router as inventory_router
from misflag.api._ledger_routes import router as ledger_router


def create_app() -> FastAPI:
    """Build the app; the CLI's `misflag serve` runs it under uvicorn."""
    app = FastAPI(title="misflag", version=__version__)
    app.include_router(ledger_router)
    app.include_router(inventory_router)
    return app
