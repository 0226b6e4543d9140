"""Workbench audits run as jobs: what a job is (`Task`, plain data) and how its process runs it.

`run_task` is the target of a job's bounded process (`_jobs`, `_sandbox`), like the decision audit's
`_worker.run_job`: it runs one audit by kind, on an upload's file or on sample data (COMPAS and FEBRL
from `misflag.datasets`, the shipped inventories, or a synthetic file of `_samples` written into the
job's own folder), then writes result.json, result.csv and report.html. An engine's error is told
without the data it quotes (`_failures.problem`).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from misflag.api._failures import from_engine, problem
from misflag.api._forms import shorten
from misflag.api._samples import decision_log, verifier_scores
from misflag.api._sandbox import ProcessLimits
from misflag.api._storage import private_dir
from misflag.api._worker import write_outputs
from misflag.engine import engine_limits
from misflag.errors import MisflagError
from misflag.progress import Progress
from misflag.result import AuditResult


@dataclass(frozen=True)
class Task:
    """One workbench audit: its kind, its checked settings, and its input (an upload's file, or a sample)."""

    kind: str
    params: dict[str, Any]
    #: The upload's file on this machine; None: the kind's sample data.
    source: str | None = None
    upload_id: str | None = None
    #: Further uploads the task reads (the linkage audit's records): busy while it runs, like `upload_id`.
    other_uploads: tuple[str, ...] = ()
    #: The input's name as the user knows it (the upload's file name, or the sample's).
    filename: str = ""
    #: The equivalent command line, for the report's reproducibility block.
    command: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def service_register(data_dir: Path, sha256: str) -> Path:
    """The service's own release register of one input: `DATA_DIR/releases/SHA256.json` (0600 in a 0700
    folder, made by the job that records in it), shared by its decision and biometric jobs; HTTP never
    names a register (docs/disclosure.md)."""
    return data_dir / "releases" / f"{sha256}.json"


def _decisions(task: Task, folder: Path, progress: Progress) -> AuditResult:
    from misflag import datasets
    from misflag.decisions import DecisionSpec, run_audit

    source = Path(task.source) if task.source else datasets.get("compas")
    return run_audit(DecisionSpec.from_dict(task.params), source, progress=progress)


def _biometrics(task: Task, folder: Path, progress: Progress) -> AuditResult:
    from misflag.biometrics import BiometricSpec, run_biometrics

    source = task.source or str(verifier_scores(folder / "sample-scores.parquet"))
    spec = BiometricSpec.from_dict(task.params)
    if spec.release_register is not None:  # the service's own register of the upload (`_workbench.task`)
        private_dir(spec.release_register.parent)
    return run_biometrics(spec, source, progress=progress)


def _monitor(task: Task, folder: Path, progress: Progress) -> AuditResult:
    from misflag.monitor import monitor

    source = task.source or str(decision_log(folder / "sample-log.parquet"))
    params = dict(task.params)
    params["stages"] = [tuple(stage) for stage in params.get("stages", ())]
    params["band"] = tuple(params["band"])
    return monitor(source, **params, progress=progress)


def _linkage_risk(task: Task, folder: Path, progress: Progress) -> AuditResult:
    from misflag.linkage import PopulationModel, assess_rule_risk

    params = dict(task.params)
    rule = params.pop("rule")
    return assess_rule_risk(rule, **params, model=PopulationModel.from_census(), progress=progress)


def _linkage_audit(task: Task, folder: Path, progress: Progress) -> AuditResult:
    """An uploaded matcher's pairs against uploaded records; or the sample: FEBRL 4 linked by Splink with
    misflag's FEBRL settings, then the linkage audit of its pairs."""
    from misflag.linkage import LinkageAuditSpec, audit_linkage

    params = dict(
        task.params, groups=tuple(task.params["groups"]), thresholds=tuple(task.params["thresholds"])
    )
    if task.source:
        spec = LinkageAuditSpec(**params)
        return audit_linkage(task.source, task.extra.get("records"), spec=spec, progress=progress)
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from misflag import datasets
    from misflag.linkage._splink_runner import link

    records = pq.read_table(datasets.get("febrl4"))
    sides = [
        records.filter(pc.equal(records["source_dataset"], side)).drop_columns(
            ["cluster_id", "source_dataset"]
        )
        for side in "ab"
    ]
    settings = resources.files("misflag.linkage") / "settings" / "febrl.json"
    with resources.as_file(settings) as path:
        run = link(path, sides, seed=0, progress=lambda step, f: progress(step, 0.6 * (f or 0.0)))
    spec = LinkageAuditSpec(**params, blocking_rules=tuple(run.blocking_rules))
    return audit_linkage(run.pairs, records, spec=spec, progress=progress)


def _inventory(task: Task, folder: Path, progress: Progress) -> AuditResult:
    from misflag.inventory import check, history, load_inventories, scorecard
    from misflag.inventory._data import shipped_inventories

    inventory = load_inventories(shipped_inventories(), progress=progress)
    try:
        audit, year = task.params["audit"], task.params.get("year")
        if audit == "history":
            return history(inventory)
        if audit == "check":
            return check(inventory, year=year)
        return scorecard(inventory, year=year, by=task.params.get("by", "agency"))
    finally:
        inventory.close()


RUNNERS: dict[str, Callable[[Task, Path, Progress], AuditResult]] = {
    "decisions": _decisions,
    "biometrics": _biometrics,
    "monitor": _monitor,
    "linkage-risk": _linkage_risk,
    "linkage-audit": _linkage_audit,
    "inventory": _inventory,
}


def _rendered(kind: str, error: MisflagError) -> str:
    """A job's error, first line; a workbench audit's settings named by their CLI flags, as on its form."""
    from misflag.api._workbench import AUDITS, rendered

    if kind in AUDITS:
        return rendered(AUDITS[kind], error)
    return str(error).splitlines()[0] if str(error) else ""


def run_task(
    pipe: Connection, folder: str, task: dict[str, Any], memory_limit: str, limits: ProcessLimits
) -> None:
    """Run one workbench audit and write its files into `folder` (the target of a job's process)."""
    limits.apply()
    os.umask(0o077)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the service decides when a job stops
    job = Task(**task)
    try:
        with engine_limits(memory_limit=memory_limit):
            result = RUNNERS[job.kind](
                job,
                Path(folder),
                lambda step, fraction: pipe.send(("progress", step, 0.9 * (fraction or 0.0))),
            )
        described = result.metadata.get("input")
        if isinstance(described, dict) and job.filename:
            described["description"] = job.filename
        if job.command:
            result.metadata["command"] = job.command
        write_outputs(pipe, result, Path(folder))
    except MisflagError as error:
        message = _rendered(job.kind, error) or "the audit failed"
        if from_engine(message):
            message = f"the audit failed: {problem(message)}"
        if job.source:
            message = message.replace(job.source, f"'{job.filename}'")
        pipe.send(("failed", shorten(message)))
    except MemoryError:
        pipe.send(("failed", f"the audit failed: {limits.memory_message()}"))
    except Exception as error:  # a report past the file-size limit, or a bug (its traceback logged)
        pipe.send(("failed", limits.unexpected("the audit", error)))
    finally:
        pipe.close()
