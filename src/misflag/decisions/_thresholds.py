"""Score audits: per-group FPR/FNR across thresholds, and every group's rates at one global threshold.

This is also how a face verifier's genuine/impostor score file is audited per demographic group, the
NIST FRVT way (NISTIR 8280): the threshold is set on all impostor (truth = 0) scores together, and each
group's false-match rate is read at that threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from misflag.decisions._cells import Cells, _sorted_columns, group_keys
from misflag.decisions._counts import CheckedSpec, group_select, people_sql, where_clause
from misflag.decisions._disclosure import Forced, family_of, open_plan, plan_suppression
from misflag.decisions._groups import Grouping, groupings
from misflag.decisions._metrics import RATE_METRICS, Estimate, GroupSums, stage_masks
from misflag.decisions._rows import Reference, RowEmitter
from misflag.decisions._spec import SMALL_DENOMINATOR, DecisionSpec
from misflag.engine import Engine
from misflag.errors import InputError
from misflag.result import arrow_array, make_row
from misflag.stats import bootstrap_counts, mover_ratio, percentile_interval, safe_divide

MAX_EXACT_THRESHOLDS = 1000


def _score_cells(engine: Engine, spec: DecisionSpec, checked: CheckedSpec) -> tuple[Cells, np.ndarray]:
    """Cells keyed by score (exact when there are at most 1,000 distinct scores, else 1,000 equal bins)."""
    score = f"TRY_CAST(({checked.score}) AS DOUBLE)"
    stats = engine.sql(
        f"SELECT COUNT(DISTINCT {score}) AS d, MIN({score}) AS lo, MAX({score}) AS hi, "
        f"SUM(CASE WHEN {score} IS NULL THEN 1 ELSE 0 END) AS nulls FROM input {where_clause(checked)}"
    ).to_pylist()[0]
    if stats["nulls"]:
        raise InputError(f"{{score}} is NULL or not a number in {stats['nulls']:,} row(s)")
    key = score
    if stats["d"] > MAX_EXACT_THRESHOLDS and stats["hi"] > stats["lo"]:
        width = (stats["hi"] - stats["lo"]) / MAX_EXACT_THRESHOLDS
        key = f"({stats['lo']!r} + FLOOR(({score} - {stats['lo']!r}) / {width!r}) * {width!r})"
    items = [*group_select(checked), f"{key} AS sc", f"TRY_CAST(({checked.truth}) AS DOUBLE) AS t"]
    if checked.weight:
        items.append(f"TRY_CAST(({checked.weight}) AS DOUBLE) AS w")
    positions = ", ".join(str(i + 1) for i in range(len(items)))  # a constant weight is no grouping key
    if not checked.weight:
        items.append("CAST(1.0 AS DOUBLE) AS w")
    columns = _sorted_columns(  # the seeded bootstrap's fixed cell order, with no pyarrow.compute import
        engine.sql(
            f"SELECT {', '.join(items)}, {people_sql(checked)} AS n FROM input {where_clause(checked)} "
            f"GROUP BY {positions}"
        )
    )
    truth = columns["t"]  # NULL (truth unknown) as NaN
    unknown = np.isnan(truth)
    cells = Cells(
        keys=group_keys(columns, len(checked.groups), spec.missing_values),
        flags=np.zeros((truth.size, 1), dtype=np.int8),
        truth=np.where(unknown, -1, truth).astype(np.int8),
        weight=np.where(unknown, 0.0, columns["w"]),
        count=columns["n"].astype(np.int64),
    )
    return cells, columns["sc"]


def _curves(
    cells: Cells, scores: np.ndarray, grouping: Grouping, thresholds: np.ndarray
) -> dict[str, np.ndarray]:
    """Per group and threshold: FPR and FNR when flagging score >= threshold (weighted)."""
    position = np.searchsorted(thresholds, scores)
    shape = (len(grouping.labels), thresholds.size)
    negatives, positives = np.zeros(shape), np.zeros(shape)
    weighted = cells.count * cells.weight
    np.add.at(negatives, (grouping.index, position), weighted * (cells.truth == 0))
    np.add.at(positives, (grouping.index, position), weighted * (cells.truth == 1))
    flagged_negatives = np.cumsum(negatives[:, ::-1], axis=1)[:, ::-1]
    missed_positives = np.cumsum(positives, axis=1) - positives
    with np.errstate(all="ignore"):
        return {
            "fpr": flagged_negatives / negatives.sum(axis=1, keepdims=True),
            "fnr": missed_positives / positives.sum(axis=1, keepdims=True),
            "negatives": np.repeat(negatives.sum(axis=1, keepdims=True), thresholds.size, axis=1),
            "positives": np.repeat(positives.sum(axis=1, keepdims=True), thresholds.size, axis=1),
        }


CURVE_COLUMNS = {
    "attribute": pa.string(),
    "group": pa.string(),
    **{name: pa.float64() for name in ("threshold", "fpr", "fnr", "negatives", "positives")},
}


def _curve_table(curve_rows: list[dict[str, Any]]) -> pa.Table:
    """The curves as an Arrow table, built from buffers (`pa.Table.from_pylist` would import pandas)."""
    return pa.Table.from_arrays(
        [arrow_array([row[name] for row in curve_rows], kind) for name, kind in CURVE_COLUMNS.items()],
        names=list(CURVE_COLUMNS),
    )


@dataclass(frozen=True)
class ScoreCells:
    """The score-keyed cells, read once; the rows are planned from them as often as disclosure needs."""

    cells: Cells
    scores: np.ndarray


def read_score_cells(engine: Engine, spec: DecisionSpec, checked: CheckedSpec) -> ScoreCells:
    return ScoreCells(*_score_cells(engine, spec, checked))


def threshold_audit(
    spec: DecisionSpec, data: ScoreCells, forced: Forced | None = None, unsuppressed: bool = False
) -> tuple[list[dict[str, Any]], pa.Table, float]:
    """Rows for each group's FPR/FNR at the global threshold, the max/min FPR ratio, and the curves.

    `unsuppressed` gives the rows as they would read with nothing withheld (the disclosure audit's truth).
    A grouping's curves are published only when none of its groups is withheld at the score stage: a
    withheld group's curve would otherwise follow by subtraction from its parent's and siblings' curves.
    """
    cells, scores = data.cells, data.scores
    thresholds = np.unique(scores)
    score_groupings = groupings(spec, cells.keys, cells.count.size)
    overall = _curves(cells, scores, score_groupings[0], thresholds)
    if spec.threshold is not None:
        chosen = float(spec.threshold)
    else:
        meets = np.nonzero(overall["fpr"][0] <= spec.target_fpr)[0]
        chosen = float(thresholds[meets[0]]) if meets.size else float(thresholds[-1])
    flagged = Cells(
        cells.keys, (scores >= chosen).astype(np.int8)[:, None], cells.truth, cells.weight, cells.count
    )
    masks = stage_masks(flagged, 0)
    stage = score_stage(chosen)
    design = spec.weight is not None
    sums = [GroupSums(flagged, g.index, len(g.labels), design) for g in score_groupings]
    sizes = [s.rows() for s in sums]
    estimates = [{m: s.estimate(RATE_METRICS[m], masks) for m in ("fpr", "fnr")} for s in sums]
    plan = plan_suppression(
        spec.min_cell,
        score_groupings,
        sizes,
        [{(stage, m): e.denominator for m, e in table.items()} for table in estimates],
        forced,
        [s.smallest_weight_class() for s in sums] if design else None,
    )
    if unsuppressed:
        plan = open_plan(plan)
    resampled = bootstrap_counts(flagged.count, spec.replicates, spec.seed + 1)
    family = family_of(stage, "fpr")
    rows: list[dict[str, Any]] = []
    curve_rows: list[dict[str, Any]] = []
    for k, grouping in enumerate(score_groupings):
        eligible = ~plan["n"].withheld[k]
        reference = Reference(
            int(np.argmax(np.where(eligible, sizes[k], -1))) if eligible.any() else None,
            np.zeros(sizes[k].size, dtype=bool),
            0.0,
        )
        emitter = RowEmitter(spec, grouping, plan, k, reference)
        fpr = estimates[k]["fpr"]
        rows += emitter.metric_rows(stage, "fpr", fpr, family)
        rows += emitter.metric_rows(stage, "fnr", estimates[k]["fnr"], family)
        withheld = plan[family].withheld[k]
        if not grouping.is_overall:
            replicates = _replicate_rates(flagged, sums[k], masks, resampled)
            rows += _max_min_rows(grouping, fpr, replicates, withheld, stage)
        if withheld.any():
            continue
        curve = overall if grouping.is_overall else _curves(cells, scores, grouping, thresholds)
        for g in range(len(grouping.labels)):
            for j, threshold in enumerate(thresholds):
                curve_rows.append(
                    {
                        "attribute": grouping.attribute,
                        "group": grouping.output_label(g),
                        "threshold": float(threshold),
                        **{
                            name: float(curve[name][g, j])
                            for name in ("fpr", "fnr", "negatives", "positives")
                        },
                    }
                )
    return rows, _curve_table(curve_rows), chosen


def score_stage(threshold: float) -> str:
    """The name of the score stage: flagged when the score is at least the global threshold."""
    return f"score>={threshold:g}"


def _replicate_rates(
    cells: Cells, sums: GroupSums, masks: dict[str, np.ndarray], resampled: np.ndarray
) -> np.ndarray:
    """Every group's weighted FPR in every bootstrap replicate: shape (replicates, groups)."""
    weighted, membership = cells.weight, sums.membership()
    numerator = (resampled * (weighted * masks["fp"])[None, :]) @ membership
    denominator = (resampled * (weighted * (masks["fp"] | masks["tn"]))[None, :]) @ membership
    return safe_divide(numerator, denominator)


def _max_min_rows(
    grouping: Grouping, fpr: Estimate, replicates: np.ndarray, withheld: np.ndarray, stage: str
) -> list[dict[str, Any]]:
    """Highest over lowest group FPR at the global threshold (the NIST differential), with its interval.

    Only reported groups with at least 30 people in the denominator take part: tiny groups would dominate
    by noise. The interval is the percentile bootstrap of max/min (which accounts for picking the extremes)
    united with the MOVER-R interval of the two groups (which cannot collapse when a rate is 0 or 1).
    """
    values, denominators = fpr.value, fpr.denominator
    usable = np.nonzero(~withheld & np.isfinite(values) & (denominators >= SMALL_DENOMINATOR))[0]
    if usable.size < 2:
        return []
    high, low = usable[np.argmax(values[usable])], usable[np.argmin(values[usable])]
    with np.errstate(all="ignore"):
        ratio = values[high] / values[low]
        reps = (np.nanmax(replicates[:, usable], axis=1) / np.nanmin(replicates[:, usable], axis=1))[:, None]
    boot_low, boot_high = percentile_interval(reps)
    mover_low, mover_high = mover_ratio(
        values[high], fpr.low[high], fpr.high[high], values[low], fpr.low[low], fpr.high[low]
    )
    ci_low = np.nanmin([boot_low[0], float(mover_low)])
    ci_high = np.nanmax([boot_high[0], float(mover_high)])
    note = f"highest: {grouping.labels[high]}; lowest: {grouping.labels[low]}"
    if not np.isfinite(ratio):
        note += "; undefined: the lowest group's rate is 0, so the ratio has no upper limit"
    return [
        make_row(
            grouping.attribute,
            "(highest/lowest)",
            stage,
            "fpr_max_min_ratio",
            ratio,
            ci_low,
            ci_high,
            float(denominators[usable].min()),
            warning=note,
        )
    ]
