"""The decision audit from its cell table on: the engine's other reads, every grouping's estimates, the
suppression plan, the disclosure audit and the result.

`decisions._audit.run_audit` imports this module while the cell query runs on its thread: numpy and the
statistics load beside DuckDB's scan, not before it. Nothing here loads pyarrow: the cell table comes as
numpy columns and the result keeps its rows (a --score audit's threshold curves, `decisions._thresholds`,
are Arrow tables and load it); nor the disclosure package, which an output that withholds nothing and
is in no release register does without (`decisions._protect_open`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from misflag._text import clipped, shown
from misflag.decisions._audit_metadata import audit_metadata
from misflag.decisions._cells import Cells, cells_of, margin_problem, missing_mode
from misflag.decisions._complementary import Family
from misflag.decisions._counts import CheckedSpec
from misflag.decisions._disclosure import Forced, UnsuppressedRows, family_of, open_plan, plan_suppression
from misflag.decisions._groups import Grouping, groupings, missing_label, unknown_reference
from misflag.decisions._metrics import (
    INTERVAL_METHODS,
    RATE_METRICS,
    STAGE_INDEPENDENT,
    TRANSITION_METRICS,
    Definition,
    Estimate,
    GroupSums,
    StackedSums,
    stage_masks,
    transition_masks,
)
from misflag.decisions._protect_open import protect
from misflag.decisions._rows import Reference, RowEmitter, compare
from misflag.decisions._spec import DecisionSpec
from misflag.decisions._summary import summarize
from misflag.engine import Engine
from misflag.errors import InputError, literal
from misflag.io import InputInfo
from misflag.progress import Progress
from misflag.result import ALL_STAGES, OVERALL_ATTRIBUTE, AuditResult, make_row

if TYPE_CHECKING:  # loaded by the audits that use them: a --score audit (its curves load pyarrow), one
    # with unknown truths (every truth known, the usual case, loads no missing-truth module), and one
    # whose output withholds a count or is registered (the disclosure package: `_protect_open`)
    from misflag.decisions._missing_mar import MarAudit
    from misflag.decisions._missing_prevalence import PrevalenceAudit
    from misflag.decisions._protect import Reader
    from misflag.decisions._thresholds import ScoreCells


@dataclass(frozen=True)
class Counted:
    """What an audit reads through the engine: the cells (and, for missing truth at random, the cells
    by stratum), the margin check's note, every grouping and the score cells of a --score audit."""

    checked: CheckedSpec
    cells: Cells
    mar_cells: Cells
    margin_note: str | None
    groupings: list[Grouping]
    scores: ScoreCells | None


def count(
    runner: Engine,
    spec: DecisionSpec,
    checked: CheckedSpec,
    cell_table: Mapping[str, np.ndarray],
    report: Progress,
) -> Counted:
    """The cell query's table as cells, then the engine's other reads (strata, margins, scores)."""
    cells = cells_of(cell_table, spec, checked)
    mar_cells = cells
    if checked.strata:
        from misflag.decisions._missing_mar import read_strata_cells

        mar_cells = read_strata_cells(runner, spec, checked)
    margin_note = margin_problem(runner, checked)
    report("estimating", 0.6)
    all_groupings = groupings(spec, cells.keys, cells.count.size)
    _check_reference(spec, all_groupings)
    scores = None
    if checked.score:
        from misflag.decisions._thresholds import read_score_cells

        scores = read_score_cells(runner, spec, checked)
    return Counted(checked, cells, mar_cells, margin_note, all_groupings, scores)


def result_of(
    spec: DecisionSpec, counted: Counted, info: InputInfo, engine: str, report: Progress
) -> AuditResult:
    """The audit's result from its counted cells: estimates, suppression, the disclosure audit, rows."""
    checked, cells, all_groupings, scores = counted.checked, counted.cells, counted.groupings, counted.scores
    extras: dict[str, Any] = {}
    stages = {name: expression for (name, _), expression in zip(spec.pipeline, checked.stages, strict=True)}
    chosen = None
    mode = missing_mode(spec, cells)
    estimator = _estimator(spec, mode, cells, counted.mar_cells, all_groupings)
    strata_cells = counted.mar_cells if checked.strata else None
    missing = None
    if mode:
        from misflag.decisions._missing_audit import MissingTruth

        missing = MissingTruth(spec, cells, all_groupings, estimator, strata_cells)

    unsuppressed = UnsuppressedRows()
    if scores is not None:
        from misflag.decisions._thresholds import score_stage, threshold_audit

    def publish(forced: Forced) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        nonlocal chosen
        audit = _Audit(spec, cells, all_groupings, forced)
        rows = audit.rows()

        def open_rows() -> list[dict[str, Any]]:
            # nothing withheld: the unsuppressed rows are these (copies: the published ones change below)
            shadow = audit.rows(unsuppressed=True) if audit.withholds() else [dict(row) for row in rows]
            if scores is not None:
                shadow.extend(threshold_audit(spec, scores, forced, unsuppressed=True)[0])
            return shadow

        shadow = unsuppressed.get(open_rows)
        rows = missing.apply(rows, audit.references) if missing else rows
        if scores is not None:
            score_rows, curves, chosen = threshold_audit(spec, scores, forced)
            rows.extend(score_rows)
            extras["threshold_curves"] = curves
            stages[score_stage(chosen)] = f"({checked.score}) >= {chosen!r}"
        metadata = audit_metadata(spec, checked, info, engine, cells, chosen, _withheld_total(rows))
        metadata.update(audit.metadata(rows))
        metadata.update(missing.metadata(rows, audit.references) if missing else {})
        return rows, shadow, metadata

    def reader() -> Reader:
        from misflag.decisions._protect import Reader

        return Reader(
            tuple(spec.groups),
            stages,
            checked.truth,
            spec.weight is not None or estimator is not None,  # an estimate is not a ratio of counts either
            info.sha256 or "",
            spec.where is not None or spec.count is not None,  # counts mode: input rows are not people
            missing_label(cells.keys),
            all_groupings,
        )

    report("disclosure audit", 0.8)
    rows, metadata, summary = protect(publish, reader, spec.min_cell)
    metadata["disclosure_audit"] = summary
    if spec.count is not None:
        metadata["counts"] = {"input_rows": info.rows, "margin_warning": counted.margin_note}
    result = AuditResult("decisions", rows=rows, metadata=metadata, extras=extras)
    result.summary = summarize(result, spec, rows)
    report("done", 1.0)
    return result


def _estimator(
    spec: DecisionSpec, mode: str | None, cells: Cells, mar_cells: Cells, all_groupings: list[Grouping]
) -> MarAudit | PrevalenceAudit | None:
    """The point estimator of a missing-truth mode that has one (mar, prevalence); None for the bounds."""
    if mode == "mar":
        from misflag.decisions._missing_mar import MarAudit

        return MarAudit(spec, mar_cells, all_groupings)
    if mode == "prevalence":
        from misflag.decisions._missing_prevalence import PrevalenceAudit

        return PrevalenceAudit(spec.prevalence, cells, all_groupings)
    return None


def _withheld_total(rows: list[dict[str, Any]]) -> bool:
    """Whether the overall n is withheld: then no row count of the audit may appear in the metadata."""
    return any(r["attribute"] == OVERALL_ATTRIBUTE and r["metric"] == "n" and r["suppressed"] for r in rows)


def _check_reference(spec: DecisionSpec, all_groupings: list[Grouping]) -> None:
    if not spec.reference:
        return
    if not any(g.reference_hint is not None and g.reference_hint in g.labels for g in all_groupings):
        raise unknown_reference(spec, all_groupings)


class _Audit:
    """Every grouping's estimates, the suppression plan over all of them, the references, then the rows."""

    def __init__(
        self, spec: DecisionSpec, cells: Cells, all_groupings: list[Grouping], forced: Forced | None = None
    ) -> None:
        self.spec, self.cells, self.groupings = spec, cells, all_groupings
        classes = None
        if spec.weight is not None:  # a design per grouping
            sums = [GroupSums(cells, g.index, len(g.labels), design=True) for g in all_groupings]
            self.sizes = [s.rows() for s in sums]
            classes = [s.smallest_weight_class() for s in sums]
            self.estimates = self._estimates(
                lambda definition, masks: [s.estimate(definition, masks) for s in sums]
            )
        else:  # every grouping's counts at once
            stacked = StackedSums(
                cells, [g.index for g in all_groupings], [len(g.labels) for g in all_groupings]
            )
            self.sizes = stacked.rows()
            self.estimates = self._estimates(stacked.estimate)
        self.plan = plan_suppression(
            spec.min_cell,
            all_groupings,
            self.sizes,
            [{key: e.denominator for key, e in table.items()} for table in self.estimates],
            forced,
            classes,
        )
        self.references = [self._reference(k) for k in range(len(all_groupings))]
        if spec.strict:
            self._check_defined()

    def _estimates(
        self, estimate: Callable[[Definition, dict[str, np.ndarray]], list[Estimate]]
    ) -> list[dict[tuple[str, str], Estimate]]:
        """Each grouping's estimates by (stage, metric); `estimate` gives a metric's for every grouping,
        from the cells' masks, which are built once per stage for all groupings."""
        names = [name for name, _ in self.spec.pipeline]
        out: list[dict[tuple[str, str], Estimate]] = [{} for _ in self.groupings]

        def add(key: tuple[str, str], definition: Definition, masks: dict[str, np.ndarray]) -> None:
            for table, one in zip(out, estimate(definition, masks), strict=True):
                table[key] = one

        for stage, name in enumerate(names):
            masks = stage_masks(self.cells, stage)
            for metric, definition in RATE_METRICS.items():
                if metric in STAGE_INDEPENDENT and stage > 0:
                    continue
                add((ALL_STAGES if metric in STAGE_INDEPENDENT else name, metric), definition, masks)
        for before in range(len(names) - 1):
            masks = transition_masks(self.cells, before, before + 1)
            label = f"{names[before]}->{names[before + 1]}"
            for metric, definition in TRANSITION_METRICS.items():
                add((label, metric), definition, masks)
        return out

    def _reference(self, k: int) -> Reference:
        grouping, sizes = self.groupings[k], self.sizes[k]
        share = self.spec.impact_ratio_min_share
        excluded = sizes < share * self.cells.total if share else np.zeros(sizes.size, dtype=bool)
        withheld: Family = self.plan["n"]
        if grouping.reference_hint is not None and grouping.reference_hint in grouping.labels:
            index = grouping.labels.index(grouping.reference_hint)
            named = f"{literal(shown(grouping.reference_hint))} of {literal(clipped(grouping.attribute))}"
            if withheld.withheld[k][index]:
                raise InputError(
                    f"{{reference}} {named} is withheld ({withheld.reasons[k][index]}); name a reported group"
                )
            if excluded[index]:
                raise InputError(
                    f"{{reference}} {named} is under {100 * share:g}% of the rows, which "
                    "{impact_ratio_min_share} leaves out of ratios"
                )
            return Reference(index, excluded, share)
        eligible = ~withheld.withheld[k] & ~excluded
        if not eligible.any():
            return Reference(None, excluded, share)
        return Reference(int(np.argmax(np.where(eligible, sizes, -1))), excluded, share)

    def _check_defined(self) -> None:
        """With strict: a reported group with no negatives (positives) has no FPR (FNR), an error."""
        for k, grouping in enumerate(self.groupings):
            for (stage, metric), estimate in self.estimates[k].items():
                if metric not in {"fpr", "fnr"}:
                    continue
                withheld = self.plan[family_of(stage, metric)].withheld[k]
                for g in np.nonzero((estimate.denominator == 0) & ~withheld)[0]:
                    kind = "truth = 0 (no negatives)" if metric == "fpr" else "truth = 1 (no positives)"
                    raise InputError(
                        f"group {literal(shown(grouping.labels[g]))} of {literal(clipped(grouping.attribute))} has no "
                        f"rows with {kind} at stage {literal(clipped(stage))}, so its {metric} is undefined; merge or filter groups, or drop {{strict}} to "
                        "report it as undefined"
                    )

    def withholds(self) -> bool:
        """Whether the suppression plan withholds any figure of any group."""
        return any(mask.any() for family in self.plan.values() for mask in family.withheld)

    def rows(self, unsuppressed: bool = False) -> list[dict[str, Any]]:
        """The long table's rows; `unsuppressed`: as they would read with nothing withheld (audit only)."""
        plan = open_plan(self.plan) if unsuppressed else self.plan
        references = [ref.index for ref in self.references]
        compared = {  # every grouping's ratios and differences to its reference, one metric at a time
            key: compare([table[key] for table in self.estimates], references) for key in self.estimates[0]
        }
        out: list[dict[str, Any]] = []
        for k, grouping in enumerate(self.groupings):
            emitter = RowEmitter(self.spec, grouping, plan, k, self.references[k])
            out += [emitter.count_row(g, self.sizes[k][g]) for g in range(len(grouping.labels))]
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
            for (stage, metric), estimate in self.estimates[k].items():
                family = family_of(stage, metric)
                out += emitter.metric_rows(stage, metric, estimate, family, compared[stage, metric][k])
        return out

    def metadata(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Interval method per metric, references, every suppression with its reason, the missing label."""
        methods: dict[str, str] = {}
        for table in self.estimates:
            for (_, metric), estimate in table.items():
                methods[metric] = estimate.method
                methods[f"{metric}_ratio"] = "mover-r"
                methods[f"{metric}_diff"] = "mover-d"
        if any(r["metric"] == "fpr_max_min_ratio" for r in rows):
            methods["fpr_max_min_ratio"] = "bootstrap-union"
        suppressions = [
            {
                "attribute": r["attribute"],
                "group": r["group"],
                "stage": r["stage"],
                "metric": r["metric"],
                "reason": r["warning"],
            }
            for r in rows
            if r["suppressed"]
        ]
        return {
            "interval_methods": methods,
            "interval_method_notes": {m: INTERVAL_METHODS[m] for m in sorted(set(methods.values()))},
            "references": {
                g.attribute: g.labels[ref.index]
                for g, ref in zip(self.groupings, self.references, strict=True)
                if ref.index is not None and not g.is_overall
            },
            "suppressions": suppressions,
            "missing_group_label": missing_label(self.cells.keys),
            "impact_ratio_min_share": self.spec.impact_ratio_min_share,
        }
