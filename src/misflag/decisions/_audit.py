"""The decision audit: who a flagging pipeline wrongly flags, per group, with score-type intervals.

This module reads the input and starts the cell query; nothing it imports loads numpy or pyarrow, so on
the command line numpy and the rest of the audit (`decisions._audit_cells`) are imported while DuckDB
scans the file, and the cell table comes back as numpy columns: the command line never loads pyarrow
(docs/scale.md).
"""

from __future__ import annotations

import atexit
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from misflag.decisions._counts import CheckedSpec, cell_sql, check_spec, precheck_spec
from misflag.decisions._spec import DecisionSpec
from misflag.engine import Engine, PendingClose, PendingQuery, get_engine
from misflag.io import InputInfo, check_before_engine, load_input
from misflag.progress import Progress

if TYPE_CHECKING:
    import numpy as np

    from misflag.result import AuditResult


def audit_decisions(
    source: Any,
    *,
    truth: str,
    flag: str | None = None,
    stages: Sequence[tuple[str, str]] = (),
    groups: Sequence[str] = (),
    intersect: bool = False,
    table_sets: Sequence[str] = (),
    breakdown: str | None = None,
    where: str | None = None,
    score: str | None = None,
    weight: str | None = None,
    count: str | None = None,
    margin: str | None = None,
    reference: str | None = None,
    threshold: float | None = None,
    target_fpr: float = 0.05,
    seed: int = 0,
    replicates: int = 1000,
    min_cell: int = 10,
    strict: bool = False,
    missing_values: Sequence[str] = (),
    impact_ratio_min_share: float = 0.0,
    missing_truth: str | None = None,
    delta: float | None = None,
    odds_ratio: float | None = None,
    strata: Sequence[str] = (),
    prevalence: Sequence[str] = (),
    release_register: str | Path | None = None,
    protect_releases: bool = False,
    ledger: str | None = None,
    engine: str = "duckdb",
    table: str | None = None,
    progress: Progress | None = None,
) -> AuditResult:
    """Audit a decision log: per group error rates, disparities, stage hand-offs, with 95% intervals.

    `source` is a CSV/Parquet path, a DuckDB file (with `table`), a PostgreSQL URL (with `table`), or a
    pandas/Polars/Arrow table. Every column option is a SQL expression over the input. An undefined
    rate (a group with no negatives has no FPR) is reported as undefined; `strict=True` makes it an error.
    `missing_values` lists group values read as missing (e.g. "NA"); `impact_ratio_min_share=0.02`
    leaves groups under 2% of the rows out of ratios and differences (NYC Local Law 144).
    The keywords before `engine` are DecisionSpec's fields (a test keeps them equal); the spec is built
    from them by name.
    """
    arguments = locals()
    arguments["release_register"] = None if release_register is None else Path(release_register)
    spec = DecisionSpec(**{f.name: _frozen(arguments[f.name]) for f in fields(DecisionSpec)})
    return run_audit(spec, source, engine=engine, table=table, progress=progress)


def _frozen(value: Any) -> Any:
    """A keyword argument as the spec holds it: sequences (and stage pairs) as tuples, the rest as given."""
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        return tuple(_frozen(item) for item in value)
    return value


def run_audit(
    spec: DecisionSpec,
    source: Any,
    *,
    engine: str = "duckdb",
    table: str | None = None,
    progress: Progress | None = None,
) -> AuditResult:
    """Run an audit described by a spec (the settings-as-data form of `audit_decisions`).

    The cell query starts on a background thread as soon as it is known (the input read, every
    expression checked against its columns); the rest of the audit's modules are imported while it
    runs, and its error, if any, is raised here as the engine raised it.
    """
    if spec.release_register is not None or spec.protect_releases or spec.ledger is not None:
        # the register (a file, or the releases in a ledger): docs/disclosure.md
        from misflag.disclosure._register import audit_registered

        return audit_registered(
            spec,
            source,
            lambda inner: run_audit(inner, source, engine=engine, table=table, progress=progress),
        )
    report = progress or (lambda step, fraction: None)
    started = take_prefetched(spec, source, engine, table)
    if started is None:
        started = _start(spec, source, engine, table, report)
    else:  # the console script's scan of exactly this audit (decisions._prefetch)
        report("reading input", 0.0)
        report("counting cells", 0.3)
    try:
        # imported while the engine scans: numpy, the statistics, the disclosure audit
        from misflag.decisions._audit_cells import count, result_of

        counted = count(started.runner, spec, started.checked, started.counting.result(), report)
    except BaseException:
        started.discard()  # interrupted after a failure beside the scan
        raise
    closing = PendingClose(started.runner)  # every read is done: the engine closes beside the estimates
    try:
        result = result_of(spec, counted, started.info, engine, report)
    except BaseException:
        with suppress(Exception):  # the estimates' own error is the one to tell, not a failed close
            closing.wait()
        raise
    closing.wait()
    return result


class _Started(NamedTuple):
    """An audit's engine with its input read, its expressions checked and its cell query running (a
    named tuple: made before the scan starts, where a dataclass's generated code costs ~0.5 ms more)."""

    runner: Engine
    info: InputInfo
    checked: CheckedSpec
    counting: PendingQuery[dict[str, np.ndarray]]

    def discard(self) -> None:
        """Stop the query and close the engine (a failed audit, or a prefetched scan not taken)."""
        try:
            self.counting.stop()
        finally:
            self.runner.close()


def _start(spec: DecisionSpec, source: Any, engine: str, table: str | None, report: Progress) -> _Started:
    """Read the input and start the cell query on a background thread (every expression checked first,
    a refused one before the engine starts)."""
    precheck_spec(spec)  # a refused expression costs no engine start, no read of the input
    report("reading input", 0.0)
    check_before_engine(engine, source, table, lambda columns: check_spec(spec, columns))
    runner = get_engine(engine)
    try:
        info = load_input(runner, source, table=table)
        checked = check_spec(spec, info.columns)
        report("counting cells", 0.3)
        return _Started(runner, info, checked, PendingQuery(runner, cell_sql(checked), runner.numpy))
    except BaseException:
        runner.close()
        raise


#: The scan the console script started before its command line was parsed, with what it was started for.
_prefetched: list[tuple[tuple[DecisionSpec, str, str | None], _Started]] = []


def prefetch_scan(spec: DecisionSpec, source: str, table: str | None) -> None:
    """Start the DuckDB scan of an audit the console script expects to run (`decisions._prefetch`): the
    audit takes it if it asks for the same one; one not taken is stopped and closed at the latest at exit."""
    if _prefetched:
        return
    _prefetched.append(((spec, source, table), _start(spec, source, "duckdb", table, lambda s, f: None)))
    atexit.register(_discard_prefetched)


def take_prefetched(spec: DecisionSpec, source: Any, engine: str, table: str | None) -> _Started | None:
    """The prefetched scan, if it is this audit's (every field of the spec, the source, the engine and
    the table equal); a scan started for another audit is stopped and closed."""
    if not _prefetched:
        return None
    key, started = _prefetched.pop()
    if engine == "duckdb" and isinstance(source, str) and key == (spec, source, table):
        return started
    started.discard()
    return None


def _discard_prefetched() -> None:
    """At exit: stop and close a prefetched scan the command never took (it failed before its audit)."""
    while _prefetched:
        _prefetched.pop()[1].discard()
