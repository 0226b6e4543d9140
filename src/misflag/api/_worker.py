"""One audit job, run in a process of its own so that the service can stop it (time limit, cancel, stop).

The service starts it from a fork server that has already imported misflag (a new job starts in
milliseconds, not seconds) and talks to it through a one-way pipe: ("progress", step, fraction), then
("done",) or ("failed", one line). Files it writes are readable by the service's user only.
"""

from __future__ import annotations

import os
import signal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from misflag.api._failures import public_message
from misflag.api._sandbox import ProcessLimits
from misflag.decisions import DecisionSpec, run_audit
from misflag.engine import engine_limits
from misflag.errors import MisflagError
from misflag.report import ReportContent, build_report, write_report
from misflag.result import AuditResult


def ready() -> None:
    """Nothing: forked once when the service starts, so that the fork server starts and imports misflag
    before the first job needs it."""


def run_job(
    pipe: Connection,
    folder: str,
    source: str,
    spec: dict[str, Any],
    filename: str,
    command: str,
    memory_limit: str,
    limits: ProcessLimits,
) -> None:
    """Audit `source` as `spec` says and write result.json, result.csv and report.html into `folder`.

    The audit's engines get the service's memory limit (a query needing more fails the job with one
    line). Time is limited by the service, which kills a job past its limit: a per-query interrupt at
    the same instant would race with the kill. `limits` are the OS limits of this process (`_sandbox`);
    an engine's error is told without the data it quotes (`_failures`)."""
    limits.apply()
    os.umask(0o077)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the service decides when a job stops
    try:
        with engine_limits(memory_limit=memory_limit):
            result = run_audit(
                DecisionSpec.from_dict(spec),
                Path(source),
                progress=lambda step, fraction: pipe.send(("progress", step, 0.9 * (fraction or 0.0))),
            )
        described = result.metadata.get("input")
        if isinstance(described, dict):
            described["description"] = filename
        result.metadata["command"] = command
        write_outputs(pipe, result, Path(folder))
    except MisflagError as problem:
        with engine_limits(memory_limit=memory_limit):
            message = public_message(str(problem), Path(source), DecisionSpec.from_dict(spec))
        pipe.send(("failed", message.replace(source, f"'{filename}'")))
    except MemoryError:
        pipe.send(("failed", f"the audit failed: {limits.memory_message()}"))
    except Exception as problem:  # a report past the file-size limit, or a bug (its traceback logged)
        pipe.send(("failed", limits.unexpected("the audit", problem)))
    finally:
        pipe.close()


def write_outputs(pipe: Connection, result: AuditResult, folder: Path) -> None:
    """Write a finished audit's result.json, result.csv and report.html, then tell the service it is done."""
    pipe.send(("progress", "writing the report", 0.95))
    result.save(folder / "result.json")
    (folder / "result.csv").write_text(result.to_csv(), encoding="utf-8")
    write_report(result, html_path=folder / "report.html")
    pipe.send(("done",))


def page_content(result_path: str) -> ReportContent:
    """What a finished job's page shows, built from its result (run in a bounded process)."""
    return build_report(AuditResult.load(Path(result_path)))
