"""The FastAPI application: audit upload page, report pages, and the routers of the ledger and inventory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from misflag import __version__
from misflag.api._inventory_routes import router as inventory_router
from misflag.api._ledger_routes import router as ledger_router
from misflag.api._settings import ServeSettings


def create_app(*, data_dir: Path | None = None, ledger_db: str | None = None) -> FastAPI:
    """Build the app; routers read `app.state.settings`. The CLI's `misflag serve` runs it under uvicorn."""
    settings = ServeSettings.default(data_dir=data_dir, ledger_db=ledger_db)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = FastAPI(title="misflag", version=__version__)
    app.state.settings = settings
    app.include_router(ledger_router)
    app.include_router(inventory_router)
    return app
