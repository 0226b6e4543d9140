"""Settings of one running web service, shared by every router through `app.state.settings`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_data_dir


def default_data_dir() -> Path:
    """The per-user folder of the service's uploads, jobs and ledger."""
    return Path(user_data_dir("misflag", appauthor=False)) / "serve"


@dataclass(frozen=True)
class ServeSettings:
    """Where the service keeps uploads, jobs and the ledger, and its limits."""

    data_dir: Path
    ledger_db: str
    max_upload_bytes: int = 512 * 1024 * 1024
    job_ttl_seconds: int = 24 * 3600
    #: Audits run at once; more wait in a queue (each audit already uses every core through DuckDB).
    max_workers: int = 2
    #: Rows shown in an upload's preview (identifier-looking columns masked).
    preview_rows: int = 10
    #: Upper bound on bootstrap replicates a page user may ask for.
    max_replicates: int = 5000

    @classmethod
    def default(cls, data_dir: Path | None = None, ledger_db: str | None = None) -> ServeSettings:
        root = data_dir or default_data_dir()
        return cls(data_dir=root, ledger_db=ledger_db or f"sqlite:///{root / 'ledger.sqlite'}")
