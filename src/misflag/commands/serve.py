"""`misflag serve`: the web workbench (a page per audit, sample data, reports) and the ledger's HTTP API.

On loopback (the default) the service answers only to loopback host names and needs no login. Bound to
any other address it is reachable by others, so every page and API call then needs a ledger token of role
auditor or admin; the service refuses to start until such a token exists.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import tempfile
from pathlib import Path

import typer

from misflag.errors import InputError, literal

#: The longest socket path AF_UNIX takes (Linux: 108 bytes with the final NUL; macOS and the BSDs: 104).
SOCKET_PATH_BYTES = 107 if sys.platform.startswith("linux") else 103
#: What multiprocessing's job server adds to the temporary folder: /pymp-XXXXXXXX/listener-XXXXXXXX.
SOCKET_SUFFIX_BYTES = len("/pymp-12345678/listener-12345678")


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind; loopback by default."),
    port: int = typer.Option(8000, help="Port to listen on."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Where uploads, jobs and reports are kept."
    ),
    ledger_db: str | None = typer.Option(
        None, "--ledger-db", help="Ledger store: sqlite:///PATH or postgresql://..."
    ),
    allowed_host: list[str] = typer.Option(
        [], "--allowed-host", help="A host name the service answers to besides loopback (repeatable)."
    ),
    max_upload_mb: int = typer.Option(512, "--max-upload-mb", help="Largest file a user may upload, in MiB."),
    max_rows: int = typer.Option(10_000_000, "--max-rows", help="Most rows an uploaded file may have."),
    max_uploads: int = typer.Option(20, "--max-uploads", help="Uploads kept at once; more are refused."),
    workers: int = typer.Option(2, "--workers", help="Audits that run at once; others wait in a queue."),
    job_timeout: float = typer.Option(
        600.0, "--job-timeout", help="Seconds an audit may run before it is stopped."
    ),
    job_memory: str = typer.Option(
        "2GB",
        "--job-memory",
        help="Memory DuckDB may use in one job, e.g. 2GB or 500MB; the job's process may map 1 GiB more "
        "(an OS limit) for Python, Arrow and the report.",
    ),
    keep_hours: float = typer.Option(24.0, "--keep-hours", help="Remove uploads and jobs older than this."),
    require_token: bool = typer.Option(
        False, "--require-token", help="Need a ledger token on every page even on loopback."
    ),
) -> None:
    """Start the web service (FastAPI + uvicorn): upload a file, run an audit, read the report."""
    from misflag._text import printable, shown
    from misflag.api._settings import LOOPBACK_ADDRESSES, ServeSettings

    if not 1 <= port <= 65535:
        raise InputError(f"--port must be between 1 and 65535, got {port}")
    if min(max_upload_mb, workers, max_rows, max_uploads) < 1 or keep_hours <= 0 or job_timeout <= 0:
        raise InputError(
            "--max-upload-mb, --max-rows, --max-uploads and --workers must be at least 1, "
            "and --keep-hours and --job-timeout above 0"
        )
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", job_memory.strip(), flags=re.IGNORECASE):
        raise InputError(
            f"--job-memory must be a size such as 2GB or 500MB, not {literal(shown(job_memory))}"
        )
    _check_socket_room()
    exposed = host not in LOOPBACK_ADDRESSES
    defaults = ServeSettings.default(data_dir=data_dir, ledger_db=ledger_db)
    if exposed or require_token:
        _check_tokens(defaults.ledger_db, host)
    os.umask(0o077)  # every file the service writes is its user's alone
    import uvicorn  # only now: a refused option above costs no FastAPI or uvicorn import

    from misflag.api import create_app

    hosts = [*allowed_host, *([host] if exposed and host not in {"0.0.0.0", "::"} else [])]
    app = create_app(
        data_dir=data_dir,
        ledger_db=ledger_db,
        allowed_hosts=hosts,
        require_token=exposed or require_token,
        max_upload_bytes=max_upload_mb * 1024 * 1024,
        max_rows=max_rows,
        max_uploads=max_uploads,
        max_workers=workers,
        job_timeout_seconds=job_timeout,
        job_memory_limit=job_memory.strip(),
        job_ttl_seconds=int(keep_hours * 3600),
    )
    names = ", ".join(app.state.settings.allowed_hosts)
    folder = printable(str(app.state.settings.data_dir))
    typer.echo(f"misflag is serving on http://{host}:{port}/ (data in {folder})")
    typer.echo(f"answering to the host names {names}; access token required: {exposed or require_token}")
    if host in {"0.0.0.0", "::"} and not allowed_host:
        typer.echo(
            "note: give --allowed-host NAME for each name or address clients use to reach it", err=True
        )
    # uvicorn stops gracefully on SIGTERM (killing running audits), then re-raises the signal to the
    # handler it found: exit through Python (status 143) so that temporary files are removed at exit
    signal.signal(signal.SIGTERM, _exit_on_signal)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _check_tokens(ledger_db: str, host: str) -> None:
    """InputError unless the ledger holds a live token that may use the audit pages: read, as
    authentication reads it, from the sealed, verified chain (a row planted in the tokens table counts
    for nothing)."""
    from misflag._text import shown
    from misflag.api._guard import TOKEN_ROLES
    from misflag.errors import LedgerError
    from misflag.ledger import Ledger, list_tokens

    hint = (
        f"serving on {literal(shown(host))} needs an access token: create one with "
        "`misflag ledger token create --name NAME --role auditor` (same --ledger-db) first"
    )
    try:
        ledger = Ledger.open(ledger_db, create=False)
    except LedgerError:
        raise InputError(hint) from None
    try:
        live = [t for t in list_tokens(ledger) if t["revoked"] is None and t["role"] in TOKEN_ROLES]
    finally:
        ledger.close()
    if not live:
        raise InputError(hint)


def _check_socket_room() -> None:
    """The job server listens on a socket in the temporary folder; one whose path leaves no room for it
    would stop the service at start-up with a traceback: say so in one line before anything starts."""
    folder = tempfile.gettempdir()
    room = SOCKET_PATH_BYTES - SOCKET_SUFFIX_BYTES
    if len(os.fsencode(folder)) > room:
        raise InputError(
            f"the temporary folder's path is {len(os.fsencode(folder))} bytes long, more than the {room} "
            "the job server's socket leaves it: set TMPDIR to a shorter folder (e.g. TMPDIR=/tmp)"
        )
