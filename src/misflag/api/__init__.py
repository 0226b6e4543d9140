"""The web service: audit page, report pages, ledger and inventory routes (FastAPI).

`create_app` is imported on first use (PEP 562), so `misflag serve` reads its settings (`api._settings`)
and refuses a bad option before FastAPI and every route module load (~3 s of imports under load)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from misflag.api._app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from misflag.api._app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
