"""`misflag serve`: the web page to run audits and the ledger's HTTP API."""

from __future__ import annotations

from pathlib import Path

import typer


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind; loopback by default."),
    port: int = typer.Option(8000, help="Port to listen on."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Where uploads, jobs and reports are kept."),
    ledger_db: str | None = typer.Option(None, "--ledger-db", help="Ledger store: sqlite:///PATH or postgresql://..."),
) -> None:
    """Start the web service (FastAPI + uvicorn)."""
    import uvicorn

    from misflag.api import create_app

    uvicorn.run(create_app(data_dir=data_dir, ledger_db=ledger_db), host=host, port=port)
