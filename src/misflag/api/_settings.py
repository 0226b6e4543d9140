"""Settings of one running web service, shared by every router through `app.state.settings`."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_data_dir

from misflag.api._sandbox import MEMORY_HEADROOM, ProcessLimits, size_bytes

#: Host names a loopback service answers to (a DNS-rebinding page sends its own name and is refused).
LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "[::1]")
#: Addresses that only this machine can reach.
LOOPBACK_ADDRESSES = frozenset({"127.0.0.1", "::1", "localhost"})


def default_data_dir() -> Path:
    """The per-user folder of the service's uploads, jobs and ledger."""
    return Path(user_data_dir("misflag", appauthor=False)) / "serve"


@dataclass(frozen=True)
class ServeSettings:
    """Where the service keeps uploads, jobs and the ledger, and its limits."""

    data_dir: Path
    ledger_db: str
    #: Names the service answers to in the Host header (with any port); others get 400.
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    #: Every audit page and API call needs a ledger token (role auditor or admin); on for non-loopback binds.
    require_token: bool = False
    max_upload_bytes: int = 512 * 1024 * 1024
    #: Largest body of any request that is not a file upload (JSON, forms), counted while it streams.
    max_body_bytes: int = 16 * 1024 * 1024
    #: Rows an upload may hold (Parquet: read from its metadata before any data is read).
    max_rows: int = 10_000_000
    #: Uncompressed size a Parquet upload may declare in its metadata.
    max_parquet_bytes: int = 2 * 1024 * 1024 * 1024
    #: Uncompressed size of one inventory file (csv.gz: counted while inflating; Parquet: from its metadata).
    #: Inventories are small tables; one loads into memory whole, at several times this size.
    max_inventory_bytes: int = 256 * 1024 * 1024
    #: Uploads kept at once, and their total size; more are refused until some are deleted or expire.
    max_uploads: int = 20
    max_upload_total_bytes: int = 2 * 1024 * 1024 * 1024
    job_ttl_seconds: int = 24 * 3600
    #: Audits run at once; more wait in a queue (each audit already uses every core through DuckDB).
    max_workers: int = 2
    #: Jobs queued or running at once; more are refused (429) until some finish.
    max_jobs: int = 8
    #: An audit still running after this many seconds is stopped (its process is killed).
    job_timeout_seconds: float = 600.0
    #: An upload check or inventory audit still running after this many seconds is stopped (killed).
    check_timeout_seconds: float = 600.0
    #: Memory DuckDB may use in one audit (a DuckDB size, e.g. "2GB"); a job needing more fails cleanly.
    job_memory_limit: str = "2GB"
    #: Address space each job's process may add to what it maps at its start (RLIMIT_AS); None: the
    #: DuckDB limit plus 1 GiB for Python, Arrow and the report.
    job_process_memory_bytes: int | None = None
    #: CPU seconds of each job's process, all its threads together (RLIMIT_CPU); None: the job time limit
    #: times the number of cores, so the watchdog's wall-clock limit comes first for a job using every core.
    job_cpu_seconds: int | None = None
    #: Largest file a job's process may write (RLIMIT_FSIZE): the report, the result, an upload's record.
    job_output_bytes: int = 1024 * 1024 * 1024
    #: Rows shown in an upload's preview (identifier-looking columns masked).
    preview_rows: int = 10
    #: Upper bound on bootstrap replicates a page user may ask for.
    max_replicates: int = 5000

    def process_limits(self) -> ProcessLimits:
        """The OS limits of every process that reads a user's file (see `_sandbox`)."""
        memory = self.job_process_memory_bytes or size_bytes(self.job_memory_limit) + MEMORY_HEADROOM
        cpu = self.job_cpu_seconds or math.ceil(
            max(self.job_timeout_seconds, self.check_timeout_seconds) * (os.cpu_count() or 1)
        )
        return ProcessLimits(memory, cpu, self.job_output_bytes)

    @classmethod
    def default(cls, data_dir: Path | None = None, ledger_db: str | None = None) -> ServeSettings:
        root = data_dir or default_data_dir()
        return cls(data_dir=root, ledger_db=ledger_db or f"sqlite:///{root / 'ledger.sqlite'}")
