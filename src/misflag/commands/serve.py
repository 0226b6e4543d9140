"""`misflag serve`: the web page to run audits and the ledger's HTTP API."""

from __future__ import annotations

import typer


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind; loopback by default."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Start the web service (FastAPI + uvicorn)."""
    import uvicorn

    from misflag.api import create_app

    uvicorn.run(create_app(), host=host, port=port)
