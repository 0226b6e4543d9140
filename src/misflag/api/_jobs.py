"""Audits run as background jobs: checked before they start, each run in its own process, with progress.

Each job's process runs under the OS limits of `_sandbox` (address space, CPU seconds, file size).
A job lives in `DATA_DIR/jobs/<32 hex>/` (0700: status.json, result.json, report.html, all 0600). At
most `max_workers` run at once and `max_jobs` are queued or running; a job still running after
`job_timeout_seconds`, a cancelled one, and every running job when the service stops, has its process
killed (a thread could not be interrupted). Jobs and uploads older than the time-to-live are removed when
the service starts and whenever a new upload arrives.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from misflag.api._request import check_audit, command_line
from misflag.api._sandbox import Sandbox
from misflag.api._settings import ServeSettings
from misflag.api._storage import private_dir, write_private
from misflag.api._tasks import Task, run_task
from misflag.api._uploads import (
    ID_PATTERN,
    FormTokenMissing,
    UploadRecord,
    UploadsFull,
    UploadTooLarge,
    input_path,
    uploads_dir,
)
from misflag.api._worker import ready, run_job
from misflag.decisions import DecisionSpec
from misflag.errors import InputError

log = logging.getLogger("misflag.serve")
_ACTIVE = frozenset({"queued", "running"})
_POLL_SECONDS = 0.2


class JobsFull(InputError):
    """As many jobs are queued or running as the service allows (HTTP 429)."""


def refusal_status(problem: InputError) -> int:
    """The HTTP status of one of the service's own refusals; any other InputError is a 400."""
    table: tuple[tuple[type[InputError], int], ...] = (
        (UploadTooLarge, 413),
        (UploadsFull, 429),
        (JobsFull, 429),
        (FormTokenMissing, 403),
    )
    return next((code for kind, code in table if isinstance(problem, kind)), 400)


@dataclass
class JobStatus:
    """Where a job is: queued, running, done or failed, with its current step and the error if any."""

    job_id: str
    upload_id: str
    #: Further uploads the job reads (the linkage audit's records), kept from deletion as `upload_id` is.
    other_uploads: list[str] = field(default_factory=list)
    state: str = "queued"
    #: Which audit runs (a workbench kind: decisions, biometrics, monitor, linkage-risk, ...).
    kind: str = "decisions"
    step: str = "waiting for a free worker"
    fraction: float = 0.0
    error: str | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None


class JobManager:
    """Runs audits in child processes (at most `max_workers` at once) and keeps their status."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.root = private_dir(settings.data_dir / "jobs")
        self._pool = ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="misflag-job")
        self._lock = threading.Lock()
        self._jobs: dict[str, JobStatus] = {}
        self._cancelled: set[str] = set()
        self._stopping = threading.Event()
        self.limits = settings.process_limits()
        #: Runs upload checks, inventory audits and pages, bounded like audits and as many at once (`_sandbox`).
        self.sandbox = Sandbox(self.limits, settings.check_timeout_seconds, slots=settings.max_workers)
        self._context = self.sandbox.context

    def start(self) -> None:
        """Remove expired files and start the fork server in the background, so that the service answers
        at once and a job that arrives later does not wait for it.

        The fork server imports misflag and runs a small audit before it forks anything (`_preload`:
        seconds, tens of seconds on a loaded machine). A job or upload check that arrives before it is
        ready waits in its process's start (multiprocessing connects to the server, which answers once
        its preload is done): its own time limit counts from then, and it runs as fast as a later one."""
        self.cleanup()
        threading.Thread(target=self._warm_up, name="misflag-job-warm-up", daemon=True).start()

    def _warm_up(self) -> None:
        """Start the fork server by forking one process that does nothing; a failure is only logged (each
        job that cannot start its process then fails with one line)."""
        try:
            warm = self._context.Process(target=ready, name="misflag-job-warm-up", daemon=True)
            warm.start()
            warm.join(timeout=120)
        except Exception:
            log.exception("the jobs' fork server did not start")

    def folder(self, job_id: str) -> Path:
        """A job's folder; KeyError for anything but 32 lowercase hex characters."""
        if not ID_PATTERN.fullmatch(job_id):
            raise KeyError(job_id)
        return self.root / job_id

    def submit(self, record: UploadRecord, spec: DecisionSpec) -> JobStatus:
        """Check the spec against the upload (as the CLI does), then queue the audit."""
        columns = [c["name"] for c in record.columns]
        masked = {c["name"]: c["masked"] for c in record.columns if c["masked"]}
        check_audit(spec, columns, masked, self.settings.max_replicates)
        if self._stopping.is_set():
            raise JobsFull("the service is stopping")
        command = command_line(spec, record.filename)
        source = str(input_path(self.settings, record))
        return self._queue(
            record.upload_id,
            "decisions",
            run_job,
            (source, spec.to_dict(), record.filename, command, self.settings.job_memory_limit, self.limits),
        )

    def submit_task(self, task: Task) -> JobStatus:
        """Queue a workbench audit (already checked by its form) to run in a bounded process."""
        if self._stopping.is_set():
            raise JobsFull("the service is stopping")
        args = (task.to_dict(), self.settings.job_memory_limit, self.limits)
        return self._queue(task.upload_id or "", task.kind, run_task, args, list(task.other_uploads))

    def _queue(
        self,
        upload_id: str,
        kind: str,
        target: Callable[..., None],
        args: tuple[Any, ...],
        other_uploads: list[str] | None = None,
    ) -> JobStatus:
        """Register a job and run `target(pipe, folder, *args)` in a process when a worker is free."""
        with self._lock:
            active = sum(s.state in _ACTIVE for s in self._jobs.values())
            if active >= self.settings.max_jobs:
                raise JobsFull(
                    f"{active} audits are already queued or running (the limit is {self.settings.max_jobs}); "
                    "try again when one has finished"
                )
            status = JobStatus(
                job_id=uuid.uuid4().hex, upload_id=upload_id, other_uploads=other_uploads or [], kind=kind
            )
            self._jobs[status.job_id] = status
        private_dir(self.folder(status.job_id))
        self._save(status)
        self._pool.submit(self._run, status, target, args)
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
        """Remove a job and its files; a queued or running job is cancelled (its process killed) first."""
        if self.status(job_id).state in _ACTIVE:
            with self._lock:
                self._cancelled.add(job_id)
            return  # the job's thread removes it once its process is gone
        with self._lock:
            self._jobs.pop(job_id, None)
        shutil.rmtree(self.folder(job_id), ignore_errors=True)

    def busy_uploads(self) -> set[str]:
        """Uploads that a queued or running job still reads (its first file and any other, e.g. records)."""
        with self._lock:
            active = [s for s in self._jobs.values() if s.state in _ACTIVE]
            return {upload for s in active for upload in (s.upload_id, *s.other_uploads)}

    def cleanup(self, now: float | None = None) -> int:
        """Remove uploads and finished jobs older than the time-to-live; returns how many were removed."""
        cutoff = (now or time.time()) - self.settings.job_ttl_seconds
        busy = self.busy_uploads()
        with self._lock:
            running = {k for k, s in self._jobs.items() if s.state in _ACTIVE}
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
        """Stop now: kill running audits, drop queued ones (each is marked failed), wait for the threads."""
        self._stopping.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            left = [s for s in self._jobs.values() if s.state in _ACTIVE]
        for status in left:
            status.state, status.error = "failed", "the service stopped before the audit finished"
            status.finished = time.time()
            self._save(status)

    def _save(self, status: JobStatus) -> None:
        with self._lock:
            self._jobs[status.job_id] = status
            text = json.dumps(asdict(status))
        folder = self.folder(status.job_id)
        if folder.is_dir():
            write_private(folder / "status.json", text)

    def _progress(self, status: JobStatus, step: str, fraction: float) -> None:
        with self._lock:
            status.step, status.fraction = step, max(0.0, min(1.0, float(fraction)))

    def _stop_reason(self, job_id: str, deadline: float) -> str | None:
        if self._stopping.is_set():
            return "the service stopped before the audit finished"
        if job_id in self._cancelled:
            return "the audit was cancelled"
        if time.monotonic() > deadline:
            return (
                f"the audit ran longer than this service's limit of {self.settings.job_timeout_seconds:g} s "
                "and was stopped; audit a smaller file or fewer groups, or run it with the CLI"
            )
        return None

    def _run(self, status: JobStatus, target: Callable[..., None], args: tuple[Any, ...]) -> None:
        folder = self.folder(status.job_id)
        outcome: tuple[Any, ...] = ("failed", "the audit was cancelled")
        if status.job_id not in self._cancelled and not self._stopping.is_set():
            status.state, status.step = "running", "reading the file"
            self._save(status)
            try:
                outcome = self._supervise(status, target, args, folder)
            except Exception as problem:  # a bug (or no process could start): logged, one line for the page
                log.exception("audit job %s failed", status.job_id)
                outcome = ("failed", f"internal error ({type(problem).__name__}); please report it")
        with self._lock:
            cancelled = status.job_id in self._cancelled
            self._cancelled.discard(status.job_id)
        if cancelled:
            with self._lock:
                self._jobs.pop(status.job_id, None)
            shutil.rmtree(folder, ignore_errors=True)
            return
        if outcome[0] == "done":
            status.state, status.step, status.fraction = "done", "finished", 1.0
        else:
            status.state, status.error = "failed", str(outcome[1])
        status.finished = time.time()
        self._save(status)

    def _supervise(
        self, status: JobStatus, target: Callable[..., None], args: tuple[Any, ...], folder: Path
    ) -> tuple[Any, ...]:
        """Run the job's process to its end, or kill it when it must stop; returns its last message.

        The process runs `target(pipe, folder, *args)`."""
        receiver, sender = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=target,
            args=(sender, str(folder), *args),
            name=f"misflag-job-{status.job_id[:8]}",
            daemon=True,
        )
        process.start()
        sender.close()
        deadline = time.monotonic() + self.settings.job_timeout_seconds
        try:
            while (reason := self._stop_reason(status.job_id, deadline)) is None:
                if not receiver.poll(_POLL_SECONDS):
                    continue
                try:
                    message = receiver.recv()
                except EOFError:
                    process.join(timeout=10)
                    return ("failed", f"the audit failed: {self.limits.explain(process.exitcode)}")
                if message[0] != "progress":
                    return tuple(message)
                self._progress(status, message[1], message[2])
            return ("failed", reason)
        finally:
            if process.is_alive():
                process.kill()
            process.join(timeout=10)
            receiver.close()
