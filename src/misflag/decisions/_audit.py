"""The decision audit: who a flagging pipeline wrongly flags, per group, with bootstrap intervals."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from misflag import __version__
from misflag.decisions._counts import Cells, CheckedSpec, check_spec, read_cells
from misflag.decisions._groups import Grouping, groupings, reference_index
from misflag.decisions._metrics import (
    RATE_METRICS,
    STAGE_INDEPENDENT,
    TRANSITION_METRICS,
    Estimate,
    GroupSums,
    stage_masks,
    transition_masks,
)
from misflag.decisions._rows import ALL_STAGES, RowEmitter
from misflag.decisions._spec import DecisionSpec
from misflag.decisions._summary import summarize
from misflag.decisions._thresholds import threshold_audit
from misflag.engine import get_engine
from misflag.errors import InputError
from misflag.io import load_input
from misflag.result import AuditResult, make_row, rows_to_table
from misflag.stats import bootstrap_counts

Progress = Callable[[str, float], None]


def audit_decisions(
    source: Any,
    *,
    truth: str,
    flag: str | None = None,
    stages: Sequence[tuple[str, str]] = (),
    groups: Sequence[str] = (),
    intersect: bool = False,
    where: str | None = None,
    score: str | None = None,
    weight: str | None = None,
    reference: str | None = None,
    threshold: float | None = None,
    target_fpr: float = 0.05,
    seed: int = 0,
    replicates: int = 1000,
    min_cell: int = 10,
    allow_undefined: bool = False,
    engine: str = "duckdb",
    table: str | None = None,
    progress: Progress | None = None,
) -> AuditResult:
    """Audit a decision log: per group error rates, disparities, stage hand-offs, with 95% intervals.

    `source` is a CSV/Parquet path, a DuckDB file (with `table`), a PostgreSQL URL (with `table`), or a
    pandas/Polars/Arrow table. Every column option is a SQL expression over the input.
    """
    spec = DecisionSpec(
        truth=truth,
        flag=flag,
        stages=tuple((str(n), str(e)) for n, e in stages),
        groups=tuple(groups),
        intersect=intersect,
        where=where,
        score=score,
        weight=weight,
        reference=reference,
        threshold=threshold,
        target_fpr=target_fpr,
        seed=seed,
        replicates=replicates,
        min_cell=min_cell,
        allow_undefined=allow_undefined,
    )
    return run_audit(spec, source, engine=engine, table=table, progress=progress)


def run_audit(
    spec: DecisionSpec,
    source: Any,
    *,
    engine: str = "duckdb",
    table: str | None = None,
    progress: Progress | None = None,
) -> AuditResult:
    """Run an audit described by a spec (the settings-as-data form of `audit_decisions`)."""
    report = progress or (lambda step, fraction: None)
    report("reading input", 0.0)
    runner = get_engine(engine)
    try:
        info = load_input(runner, source, table=table)
        checked = check_spec(spec, info.columns)
        report("counting cells", 0.3)
        cells = read_cells(runner, spec, checked)
        report("bootstrapping", 0.6)
        resampled = bootstrap_counts(cells.count, spec.replicates, spec.seed)
        all_groupings = groupings(spec, cells.keys, cells.count.size)
        _check_reference(spec, all_groupings)
        rows: list[dict[str, Any]] = []
        for grouping in all_groupings:
            rows.extend(_grouping_rows(spec, cells, grouping, resampled))
        extras = {}
        if checked.score:
            report("threshold curves", 0.8)
            score_rows, curves, chosen = threshold_audit(runner, spec, checked)
            rows.extend(score_rows)
            extras["threshold_curves"] = curves
        else:
            chosen = None
    finally:
        runner.close()
    result = AuditResult(
        kind="decisions",
        table=rows_to_table(rows),
        metadata=_metadata(spec, checked, info, engine, cells, chosen),
        extras=extras,
    )
    result.summary = summarize(result, spec)
    report("done", 1.0)
    return result


def _check_reference(spec: DecisionSpec, all_groupings: list[Grouping]) -> None:
    if not spec.reference:
        return
    if not any(g.reference_hint is not None and g.reference_hint in g.labels for g in all_groupings):
        raise InputError(f"--reference {spec.reference!r} names no group of any --group attribute")


def _metadata(
    spec: DecisionSpec, checked: CheckedSpec, info: Any, engine: str, cells: Cells, threshold: float | None
) -> dict[str, Any]:
    return {
        "audit": "decisions",
        "input": {"description": info.description, "sha256": info.sha256, "rows": info.rows},
        "rows_audited": cells.total,
        "spec": spec.to_dict(),
        "expressions": {
            "stages": [[name, expr] for (name, _), expr in zip(spec.pipeline, checked.stages, strict=True)],
            "truth": checked.truth,
            "groups": list(checked.groups),
            "where": checked.where,
            "weight": checked.weight,
            "score": checked.score,
        },
        "global_threshold": threshold,
        "engine": engine,
        "seed": spec.seed,
        "replicates": spec.replicates,
        "min_cell": spec.min_cell,
        "interval": "95% percentile bootstrap: multinomial resampling of cell counts (equivalent to resampling rows)",
        "misflag_version": __version__,
    }


def _grouping_rows(
    spec: DecisionSpec, cells: Cells, grouping: Grouping, resampled: np.ndarray
) -> list[dict[str, Any]]:
    sums = GroupSums(cells, grouping.index, len(grouping.labels), resampled)
    rows_per_group = sums.rows()
    suppressed = rows_per_group < spec.min_cell
    reference = reference_index(grouping, rows_per_group, suppressed)
    emitter = RowEmitter(spec, grouping, suppressed, reference)
    out = [emitter.count_row(g, rows_per_group[g]) for g in range(len(grouping.labels))]
    out += [
        make_row(
            grouping.attribute,
            label,
            ALL_STAGES,
            "n",
            0,
            denominator=0,
            warning="absent: no rows in this intersection",
        )
        for label in grouping.absent
    ]
    names = [name for name, _ in spec.pipeline]
    for stage, name in enumerate(names):
        masks = stage_masks(cells, stage)
        for metric, definition in RATE_METRICS.items():
            if metric in STAGE_INDEPENDENT and stage > 0:
                continue
            label = ALL_STAGES if metric in STAGE_INDEPENDENT else name
            estimate = sums.estimate(definition, masks)
            if metric in {"fpr", "fnr"}:
                _check_defined(spec, grouping, metric, estimate, suppressed, name)
            out += emitter.metric_rows(label, metric, estimate)
    for before in range(len(names) - 1):
        masks = transition_masks(cells, before, before + 1)
        label = f"{names[before]}->{names[before + 1]}"
        for metric, definition in TRANSITION_METRICS.items():
            out += emitter.metric_rows(label, metric, sums.estimate(definition, masks))
    return out


def _check_defined(
    spec: DecisionSpec,
    grouping: Grouping,
    metric: str,
    estimate: Estimate,
    suppressed: np.ndarray,
    stage: str,
) -> None:
    """A reported group with no negatives (no positives) has no false-positive (false-negative) rate."""
    if spec.allow_undefined:
        return
    for g, label in enumerate(grouping.labels):
        if not suppressed[g] and estimate.denominator[g] == 0:
            kind = "truth = 0 (no negatives)" if metric == "fpr" else "truth = 1 (no positives)"
            raise InputError(
                f"group {label!r} of {grouping.attribute} has no rows with {kind} at stage {stage}, so its {metric} "
                "is undefined; merge or filter groups, or pass --allow-undefined to report it as undefined"
            )
