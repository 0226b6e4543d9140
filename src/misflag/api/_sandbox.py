"""Untrusted work (audits, upload checks, inventory audits) runs in a child process under OS limits.

The server process never parses a user's file. Each piece of work runs in a process forked from a
fork server that has already imported misflag, which first lowers its own limits with `setrlimit`:
address space (RLIMIT_AS: what the process has mapped when it starts, which is mostly reserved and not
resident, plus the engine's memory limit plus headroom for Python, Arrow and the report),
CPU seconds (RLIMIT_CPU: SIGXCPU, then SIGKILL), size of any file it writes (RLIMIT_FSIZE: the write
fails with EFBIG, as Python ignores SIGXFSZ) and no core files. DuckDB's own `memory_limit` stays the first line: a query over it fails cleanly before
the OS limit is reached. A child killed by a limit ends with one line naming the limit; the server's
memory is untouched because the memory was never its own.
"""

from __future__ import annotations

import errno
import multiprocessing
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from misflag._text import shown
from misflag.errors import InputError, MisflagError, literal

if sys.platform != "win32":  # Windows has no setrlimit: its children are bounded by the time limits only
    import resource

#: Address space a job may add besides the engine's memory: Python objects, Arrow buffers, the report.
MEMORY_HEADROOM = 1024**3
_POLL_SECONDS = 0.2


class LimitExceeded(InputError):
    """A child process was stopped by one of the service's limits (the message says which)."""


def size_bytes(text: str) -> int:
    """Bytes of a DuckDB-style size ("2GB", "500MB", "1.5GiB"); InputError for anything else."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?)B\s*", text, flags=re.IGNORECASE)
    if not found:
        raise InputError(f"a memory size must look like 2GB or 500MB, not {literal(shown(text))}")
    number, unit, binary = found.groups()
    power = "KMGT".index(unit.upper()) + 1 if unit else 0
    return int(float(number) * (1024 if binary else 1000) ** power)


@dataclass(frozen=True)
class ProcessLimits:
    """The OS limits of one child process."""

    #: Address space the process may add to what it has mapped when the limits are applied.
    memory_bytes: int
    cpu_seconds: int
    output_bytes: int

    def apply(self) -> None:
        """Lower this process's limits (never raises one above a hard limit set from outside).

        The memory limit counts from the address space already mapped: a process forked from the
        service maps 1.5-2.5 GB (libraries, thread arenas, reserved heaps) before it reads a byte."""
        if sys.platform == "win32":
            return
        for kind, value in (
            (resource.RLIMIT_AS, _mapped_bytes() + self.memory_bytes),
            (resource.RLIMIT_FSIZE, self.output_bytes),
            (resource.RLIMIT_CORE, 0),
        ):
            _lower(kind, value, value)
        _lower(resource.RLIMIT_CPU, self.cpu_seconds, self.cpu_seconds + 5)  # SIGXCPU first, SIGKILL after

    def explain(self, exitcode: int | None) -> str:
        """One line for a child that ended without an answer, naming the limit that most likely stopped it."""
        if exitcode == -signal.SIGXCPU:
            return f"it used more than this service's limit of {self.cpu_seconds:,} s of CPU time and was stopped"
        return (
            f"its process ended abruptly (exit {exitcode}); most likely it needed more than this service's "
            f"memory limit of {self.memory_bytes:,} bytes"
        )

    def unexpected(self, what: str, problem: Exception) -> str:
        """One line for an exception that is not a MisflagError: a write past the file-size limit (Python
        ignores SIGXFSZ, so the write fails with EFBIG), else a bug, whose traceback goes to the log."""
        if isinstance(problem, OSError) and problem.errno == errno.EFBIG:
            return f"{what} failed: it wrote a file larger than this service's limit of {self.output_bytes:,} bytes"
        traceback.print_exc()
        return f"internal error ({type(problem).__name__}); please report it"

    def memory_message(self) -> str:
        return (
            f"it needed more memory than this service's limit of {self.memory_bytes:,} bytes and was stopped"
        )


def _mapped_bytes() -> int:
    """This process's mapped address space now (VmSize of /proc/self/status; 0 where there is no /proc)."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return 0
    found = re.search(r"^VmSize:\s+(\d+) kB", status, flags=re.MULTILINE)
    return int(found.group(1)) * 1024 if found else 0


def _lower(kind: int, soft: int, hard: int) -> None:
    current_hard = resource.getrlimit(kind)[1]
    if current_hard != resource.RLIM_INFINITY:
        hard = min(hard, current_hard)
    resource.setrlimit(kind, (min(soft, hard), hard))


def process_context() -> Any:
    """Processes forked from a server that imported misflag once (fast to start, no inherited threads).

    As with any multiprocessing start method but fork, a script that calls `create_app` itself must
    guard its own code with `if __name__ == "__main__":` (a child process imports the main module)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():  # Windows: slower, just as killable
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["misflag.api._worker", "misflag.cli", "misflag.api._preload"])
    return context


def bounded_call(
    pipe: Connection, limits: ProcessLimits, what: str, target: Callable[..., Any], args: tuple[Any, ...]
) -> None:
    """Child side: apply the limits, run `target(*args)`, send ("done", value) or ("failed", one line)."""
    limits.apply()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the service decides when a child stops
    try:
        pipe.send(("done", target(*args)))
    except MisflagError as problem:
        pipe.send(("failed", str(problem).splitlines()[0] if str(problem) else type(problem).__name__))
    except MemoryError:
        pipe.send(("failed", f"{what} failed: {limits.memory_message()}"))
    except Exception as problem:
        pipe.send(("failed", limits.unexpected(what, problem)))
    finally:
        pipe.close()


class Sandbox:
    """Starts bounded child processes, at most `slots` at once, and waits for them (with a wall-clock limit).

    The slots bound the work a request starts outside the job queue (upload checks, inventory audits,
    finished jobs' pages): without them, concurrent requests ran as many children as the server has request
    threads. A request waits for a slot up to the wall-clock limit, then is told the service is busy."""

    def __init__(self, limits: ProcessLimits, timeout_seconds: float, slots: int = 2) -> None:
        self.limits, self.timeout_seconds = limits, timeout_seconds
        self.context = process_context()
        self._slots = threading.BoundedSemaphore(slots)

    def run(self, what: str, target: Callable[..., Any], *args: Any) -> Any:
        """`target(*args)` in a bounded child; its value, or LimitExceeded/InputError with one line."""
        if not self._slots.acquire(timeout=self.timeout_seconds):
            raise LimitExceeded(
                f"{what} failed: the service was busy with other work for {self.timeout_seconds:g} s; try again"
            )
        try:
            return self._run(what, target, *args)
        finally:
            self._slots.release()

    def _run(self, what: str, target: Callable[..., Any], *args: Any) -> Any:
        receiver, sender = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=bounded_call,
            args=(sender, self.limits, what, target, args),
            name=f"misflag-{what}",
            daemon=True,
        )
        process.start()
        sender.close()
        deadline = time.monotonic() + self.timeout_seconds
        try:
            while time.monotonic() < deadline:
                if not receiver.poll(_POLL_SECONDS):
                    continue
                try:
                    kind, value = receiver.recv()
                except EOFError:
                    break
                if kind == "done":
                    return value
                raise InputError(value)
            else:
                raise LimitExceeded(
                    f"{what} failed: it ran longer than this service's limit of {self.timeout_seconds:g} s "
                    "and was stopped"
                )
            process.join(timeout=10)
            raise LimitExceeded(f"{what} failed: {self.limits.explain(process.exitcode)}")
        finally:
            if process.is_alive():
                process.kill()
            process.join(timeout=10)
            receiver.close()
