"""Settings of one running web service, shared by every router through `app.state.settings`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_data_dir


def default_data_dir() -> Path:
    return Path(user_data_dir("misflag", appauthor=False)) / "serve"


@dataclass(frozen=True)
class ServeSettings:
    """Where the service keeps uploads, jobs and the ledger, and its limits."""

    data_dir: Path
    ledger_db: str
    max_upload_bytes: int = 512 * 1024 * 1024
    job_ttl_seconds: int = 24 * 3600

    @classmethod
    def default(cls, data_dir: Path | None = None, ledger_db: str | None = None) -> ServeSettings:
        root = data_dir or default_data_dir()
        return cls(data_dir=root, ledger_db=ledger_db or f"sqlite:///{root / 'ledger.sqlite'}")
