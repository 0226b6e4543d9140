"""The decision audit: who a flagging pipeline wrongly flags, per group, with score-type intervals.

This module reads the input and starts the cell query; nothing it imports loads numpy or pyarrow, so on
the command line numpy and the rest of the audit (`decisions._audit_cells`) are imported while DuckDB
scans the file, and the cell table comes back as numpy columns: the command line never loads pyarrow
(docs/scale.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from misflag.decisions._counts import cell_sql, check_spec, precheck_spec
from misflag.decisions._spec import DecisionSpec
from misflag.engine import PendingClose, PendingQuery, get_engine
from misflag.io import check_before_engine, load_input
from misflag.progress import Progress

if TYPE_CHECKING:
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
    digest: bool = True,
) -> AuditResult:
    """Run an audit described by a spec (the settings-as-data form of `audit_decisions`).

    The cell query starts on a background thread as soon as it is known (the input read, every
    expression checked against its columns); the rest of the audit's modules are imported while it
    runs, and its error, if any, is raised here as the engine raised it. `digest=False`: a file input is
    not hashed and the metadata's `input.sha256` is None, for a caller that publishes no metadata (the
    command line printing rows only); a release register always hashes it.
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
    precheck_spec(spec)  # a refused expression costs no engine start, no read of the input
    report("reading input", 0.0)
    check_before_engine(engine, source, table, lambda columns: check_spec(spec, columns))
    runner = get_engine(engine)
    counting: PendingQuery | None = None
    try:
        info = load_input(runner, source, table=table, digest=digest)
        checked = check_spec(spec, info.columns)
        report("counting cells", 0.3)
        counting = PendingQuery(runner, cell_sql(checked), runner.numpy)
        # imported while the engine scans: numpy, the statistics, the rows (`_audit_cells`)
        from misflag.decisions._audit_cells import count, result_of

        counted = count(runner, spec, checked, counting.result(), report)
    except BaseException:
        if counting is not None:  # interrupted after a failure beside the scan
            counting.stop()
        runner.close()
        raise
    closing = PendingClose(runner)  # every read is done: the engine closes beside the estimates
    try:
        result = result_of(spec, counted, info, engine, report)
    except BaseException:
        with suppress(Exception):  # the estimates' own error is the one to tell, not a failed close
            closing.wait()
        raise
    closing.wait()
    return result
