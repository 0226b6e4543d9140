"""Audits run as background jobs: checked before they start, run on a small thread pool, with progress.

A job lives in `DATA_DIR/jobs/<32 hex>/` (status.json, result.json, report.html). Jobs and uploads older
than the service's time-to-live are removed when the service starts and whenever a new upload arrives.
"""

from __future__ import annotations

import json
import logging
import shlex
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import sqlglot
from sqlglot import exp

from misflag.api._settings import ServeSettings
from misflag.api._uploads import ID_PATTERN, UploadRecord, input_path, uploads_dir
from misflag.decisions import audit_decisions, parse_stage
from misflag.errors import InputError, MisflagError
from misflag.io import check_expression
from misflag.report import write_report

log = logging.getLogger("misflag.serve")


@dataclass(frozen=True)
class AuditParameters:
    """A decision audit as the page asks for it (the same fields as `misflag decisions audit`)."""

    truth: str
    flag: str | None = None
    stages: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    intersect: bool = False
    where: str | None = None
    score: str | None = None
    reference: str | None = None
    seed: int = 0
    replicates: int = 1000
    min_cell: int = 10

    def check(self, record: UploadRecord, settings: ServeSettings) -> None:
        """Every expression parses and names known columns; no group is an identifier column."""
        columns = [c["name"] for c in record.columns]
        masked = {c["name"].lower(): c["masked"] for c in record.columns if c["masked"]}
        check_expression(self.truth, columns, "truth")
        if self.flag is None and not self.stages:
            raise InputError("give the flag expression (or pipeline stages)")
        if self.flag is not None and self.stages:
            raise InputError("give either the flag expression or stages, not both")
        if self.flag is not None:
            check_expression(self.flag, columns, "flag")
        for stage in self.stages:
            name, expression = parse_stage(stage)
            check_expression(expression, columns, f"stage {name}")
        for option, text in (("where", self.where), ("score", self.score)):
            if text is not None:
                check_expression(text, columns, option)
        for group in self.groups:
            check_expression(group, columns, "group")
            hits = [word for word in _words(group) if word in masked]
            if hits:
                raise InputError(
                    f"cannot group by {hits[0]}: it looks like an identifier ({masked[hits[0]]}); "
                    "group by categories such as race or sex"
                )
        if not 0 <= self.seed < 2**32:
            raise InputError("seed must be between 0 and 4294967295")
        if not 100 <= self.replicates <= settings.max_replicates:
            raise InputError(f"replicates must be between 100 and {settings.max_replicates}")
        if not 1 <= self.min_cell <= 1_000_000:
            raise InputError("minimum group size must be between 1 and 1000000")

    def command(self, filename: str) -> str:
        """The equivalent command line, for the report's reproducibility block."""
        words = ["misflag", "decisions", "audit", filename, "--truth", self.truth]
        words += ["--flag", self.flag] if self.flag else []
        for stage in self.stages:
            words += ["--stage", stage]
        for group in self.groups:
            words += ["--group", group]
        for option, value in (
            ("--where", self.where),
            ("--score", self.score),
            ("--reference", self.reference),
        ):
            words += [option, value] if value else []
        words += ["--intersect"] if self.intersect else []
        words += [
            "--seed",
            str(self.seed),
            "--replicates",
            str(self.replicates),
            "--min-cell",
            str(self.min_cell),
        ]
        return " ".join(_quote(word) for word in words)


def _quote(word: str) -> str:
    """Shell quoting that stays readable: double quotes around SQL with single-quoted strings."""
    if "'" in word and not any(c in word for c in '"$`\\!'):
        return f'"{word}"'
    return shlex.quote(word)


def _words(expression: str) -> list[str]:
    """The column names an (already checked) expression reads, lowercased."""
    return [
        column.name.lower() for column in sqlglot.parse_one(expression, read="duckdb").find_all(exp.Column)
    ]


@dataclass
class JobStatus:
    """Where a job is: queued, running, done or failed, with its current step and the error if any."""

    job_id: str
    upload_id: str
    state: str = "queued"
    step: str = "waiting for a free worker"
    fraction: float = 0.0
    error: str | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None


class JobManager:
    """Runs audits on a thread pool and keeps their status in memory and on disk."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.root = settings.data_dir / "jobs"
        self.root.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="misflag-job")
        self._lock = threading.Lock()
        self._jobs: dict[str, JobStatus] = {}

    def folder(self, job_id: str) -> Path:
        """A job's folder; KeyError for anything but 32 lowercase hex characters."""
        if not ID_PATTERN.match(job_id):
            raise KeyError(job_id)
        return self.root / job_id

    def submit(self, record: UploadRecord, parameters: AuditParameters) -> JobStatus:
        """Check the parameters against the upload, then queue the audit."""
        parameters.check(record, self.settings)
        status = JobStatus(job_id=uuid.uuid4().hex, upload_id=record.upload_id)
        self.folder(status.job_id).mkdir(parents=True)
        self._save(status)
        self._pool.submit(self._run, status, record, parameters)
        return status

    def status(self, job_id: str) -> JobStatus:
        """A job's status; KeyError if unknown (or removed)."""
        with self._lock:
            if job_id in self._jobs:
                return JobStatus(**asdict(self._jobs[job_id]))
        path = self.folder(job_id) / "status.json"
        if not path.is_file():
            raise KeyError(job_id)
        return JobStatus(**json.loads(path.read_text(encoding="utf-8")))

    def delete(self, job_id: str) -> None:
        """Remove a finished job and its files; InputError while it still runs."""
        if self.status(job_id).state in {"queued", "running"}:
            raise InputError("the job is still running; delete it when it has finished")
        with self._lock:
            self._jobs.pop(job_id, None)
        shutil.rmtree(self.folder(job_id), ignore_errors=True)

    def busy_uploads(self) -> set[str]:
        """Uploads that a queued or running job still reads."""
        with self._lock:
            return {s.upload_id for s in self._jobs.values() if s.state in {"queued", "running"}}

    def cleanup(self, now: float | None = None) -> int:
        """Remove uploads and finished jobs older than the time-to-live; returns how many were removed."""
        cutoff = (now or time.time()) - self.settings.job_ttl_seconds
        busy = self.busy_uploads()
        with self._lock:
            running = {k for k, s in self._jobs.items() if s.state in {"queued", "running"}}
        removed = 0
        for root, keep in ((self.root, running), (uploads_dir(self.settings), busy)):
            for folder in root.glob("*") if root.is_dir() else []:
                if folder.name in keep or not folder.is_dir() or folder.stat().st_mtime >= cutoff:
                    continue
                shutil.rmtree(folder, ignore_errors=True)
                with self._lock:
                    self._jobs.pop(folder.name, None)
                removed += 1
        return removed

    def shutdown(self) -> None:
        """Stop taking jobs and wait for the running ones."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _save(self, status: JobStatus) -> None:
        with self._lock:
            self._jobs[status.job_id] = status
            text = json.dumps(asdict(status))
        path = self.folder(status.job_id) / "status.json"
        if path.parent.is_dir():
            partial = path.with_name(f"status.{threading.get_ident()}.partial")
            partial.write_text(text, encoding="utf-8")
            partial.replace(path)

    def _progress(self, status: JobStatus, step: str, fraction: float) -> None:
        with self._lock:
            status.step, status.fraction = step, max(0.0, min(1.0, float(fraction)))

    def _run(self, status: JobStatus, record: UploadRecord, parameters: AuditParameters) -> None:
        status.state, status.step = "running", "reading the file"
        self._save(status)
        folder = self.folder(status.job_id)
        try:
            result = audit_decisions(
                input_path(self.settings, record),
                truth=parameters.truth,
                flag=parameters.flag,
                stages=[parse_stage(s) for s in parameters.stages],
                groups=parameters.groups,
                intersect=parameters.intersect,
                where=parameters.where,
                score=parameters.score,
                reference=parameters.reference,
                seed=parameters.seed,
                replicates=parameters.replicates,
                min_cell=parameters.min_cell,
                progress=lambda step, fraction: self._progress(status, step, 0.9 * fraction),
            )
            source = result.metadata.get("input")
            if isinstance(source, dict):
                source["description"] = record.filename
            result.metadata["command"] = parameters.command(record.filename)
            self._progress(status, "writing the report", 0.95)
            result.save(folder / "result.json")
            write_report(result, html_path=folder / "report.html")
            status.state, status.step, status.fraction = "done", "finished", 1.0
        except MisflagError as problem:
            path = str(input_path(self.settings, record))
            status.state, status.error = "failed", str(problem).replace(path, f"'{record.filename}'")
        except Exception as problem:  # a bug: one line for the page, the traceback for the server log
            log.exception("audit job %s failed", status.job_id)
            status.state, status.error = (
                "failed",
                f"internal error ({type(problem).__name__}); please report it",
            )
        status.finished = time.time()
        self._save(status)
