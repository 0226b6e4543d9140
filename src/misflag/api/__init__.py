"""The web service: audit page, report pages, ledger and inventory routes (FastAPI)."""

from misflag.api._app import create_app

__all__ = ["create_app"]
