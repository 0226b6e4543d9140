"""`misflag serve`: the web page to run audits and the ledger's HTTP API."""

from __future__ import annotations

from pathlib import Path

import typer

from misflag.errors import InputError

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind; loopback by default."),
    port: int = typer.Option(8000, help="Port to listen on."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Where uploads, jobs and reports are kept."
    ),
    ledger_db: str | None = typer.Option(
        None, "--ledger-db", help="Ledger store: sqlite:///PATH or postgresql://..."
    ),
    max_upload_mb: int = typer.Option(512, "--max-upload-mb", help="Largest file a user may upload, in MiB."),
    workers: int = typer.Option(2, "--workers", help="Audits that run at once; others wait in a queue."),
    keep_hours: float = typer.Option(24.0, "--keep-hours", help="Remove uploads and jobs older than this."),
) -> None:
    """Start the web service (FastAPI + uvicorn): upload a file, run an audit, read the report."""
    import uvicorn

    from misflag.api import create_app

    if not 1 <= port <= 65535:
        raise InputError(f"--port must be between 1 and 65535, got {port}")
    if max_upload_mb < 1 or workers < 1 or keep_hours <= 0:
        raise InputError("--max-upload-mb and --workers must be at least 1, and --keep-hours above 0")
    if host not in _LOOPBACK:
        typer.echo(
            f"warning: serving on {host}: anyone who can reach it can upload files and read reports "
            "(misflag has no login); put it behind an authenticating proxy",
            err=True,
        )
    app = create_app(
        data_dir=data_dir,
        ledger_db=ledger_db,
        max_upload_bytes=max_upload_mb * 1024 * 1024,
        max_workers=workers,
        job_ttl_seconds=int(keep_hours * 3600),
    )
    typer.echo(f"misflag is serving on http://{host}:{port}/ (data in {app.state.settings.data_dir})")
    uvicorn.run(app, host=host, port=port, log_level="warning")
