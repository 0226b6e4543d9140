"""What the speed benchmarks share: a command timed in a fresh process (wall, CPU, peak memory), the bare
DuckDB scan in this process and as a user's one-line command, in-process timing, alternating medians and
the load average (issue 26). `benchmarks/decisions.py`, `biometrics.py` and `monitor_speed.py` use it.

A fresh process is timed by a small launcher interpreter of its own, from `os.wait4`: on Linux a child's
ru_maxrss starts at the high-water mark of the process it was forked (or vforked) from, so a child started
straight from a benchmark that has held gigabytes would report those gigabytes as its own peak. The
launcher holds about 10 MiB, less than any Python command it starts, so the peak is the command's.
"""

from __future__ import annotations

import compileall
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import duckdb

Result = TypeVar("Result")

#: Starts the JSON command in argv[1] (stdout discarded) and prints its wall seconds, user + system CPU
#: seconds, max RSS (KiB) and exit code, the last three from the child's own rusage (os.wait4).
_LAUNCHER = """\
import json, os, subprocess, sys, time
command = json.loads(sys.argv[1])
start = time.perf_counter()
child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
seconds = time.perf_counter() - start
print(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


@dataclass(frozen=True)
class Timing:
    """One run: wall seconds, CPU seconds (user + system, every thread: steadier than wall time on a
    shared machine) and, for a fresh process, its peak memory in MiB (max RSS)."""

    seconds: float
    cpu_seconds: float
    peak_mib: float | None = None


def time_child(
    command: Sequence[str],
    threads: int,
    env: dict[str, str] | None = None,
    accept: Collection[int] = (0,),
) -> Timing:
    """Time `command` in a fresh process with MISFLAG_THREADS=`threads` and `env` added to this one's
    environment; an exit code outside `accept` raises CalledProcessError."""
    environment = {**os.environ, "MISFLAG_THREADS": str(threads), **(env or {})}
    launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, json.dumps(list(command))]
    done = subprocess.run(launcher, env=environment, stdout=subprocess.PIPE, text=True, check=True)
    seconds, cpu, peak_kib, code = done.stdout.split()
    if int(code) not in accept:
        raise subprocess.CalledProcessError(int(code), list(command))
    return Timing(float(seconds), float(cpu), float(peak_kib) / 1024)


def command_line_scan(query: str, threads: int) -> Timing:
    """The user's one-line alternative to an audit, `python -c "import duckdb; ..."` running `query` on
    `threads` threads in a fresh process: Python's start-up, DuckDB's import and one scan, the least any
    command-line audit of the file costs."""
    code = (
        f"import duckdb; connection = duckdb.connect(); connection.execute('SET threads = {threads}'); "
        f"connection.execute({query!r}).fetchall()"
    )
    return time_child([sys.executable, "-c", code], threads)


def time_call(call: Callable[[], Result]) -> tuple[Timing, Result]:
    """Wall and CPU seconds (this process, every thread) of one call, and what it returned."""
    start, cpu = time.perf_counter(), time.process_time()
    out = call()
    return Timing(time.perf_counter() - start, time.process_time() - cpu), out


def bare_scan(query: str, threads: int) -> tuple[Timing, int]:
    """Time `query` in this process on a DuckDB connection of `threads` threads (made before the clock
    starts); the number of rows it gave."""
    connection = duckdb.connect()
    connection.execute(f"SET threads = {threads}")
    try:
        timing, rows = time_call(lambda: connection.execute(query).fetchall())
    finally:
        connection.close()
    return timing, len(rows)


class Rounds:
    """The timings of each kind over alternating rounds (a busy spell slows every kind alike), in the
    order the kinds first ran: median wall and CPU seconds, largest peak."""

    def __init__(self) -> None:
        self.runs: dict[str, list[Timing]] = {}

    def add(self, kind: str, timing: Timing) -> Timing:
        self.runs.setdefault(kind, []).append(timing)
        return timing

    def __contains__(self, kind: str) -> bool:
        return kind in self.runs

    def count(self, kind: str) -> int:
        return len(self.runs[kind])

    def wall(self, kind: str) -> float:
        return statistics.median(run.seconds for run in self.runs[kind])

    def cpu(self, kind: str) -> float:
        return statistics.median(run.cpu_seconds for run in self.runs[kind])

    def peak(self, kind: str) -> float | None:
        """The largest peak (MiB) of the kind's runs; None where they ran in this process."""
        peaks = [run.peak_mib for run in self.runs[kind] if run.peak_mib is not None]
        return max(peaks) if peaks else None


def load_average() -> str:
    """The 1, 5 and 15 minute load averages and the CPU count, as the benchmarks print them."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} {five:.1f} {fifteen:.1f} (1, 5, 15 min) on {os.cpu_count()} CPUs"


def compile_trees(*trees: Path | None) -> None:
    """Compile each tree's modules to bytecode first, as an installed wheel's are: where
    PYTHONDONTWRITEBYTECODE is set, every fresh process would otherwise compile an edited module again."""
    for tree in trees:
        if tree is not None:
            compileall.compile_dir(tree, quiet=1)
