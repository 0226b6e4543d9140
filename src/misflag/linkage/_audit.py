"""The linkage audit: long-table rows from ground-truth counts or a labelled sample, curves and the summary."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import pyarrow as pa

from misflag import __version__
from misflag._withheld import public_reason
from misflag.engine import quote_identifier
from misflag.errors import InputError
from misflag.io import InputInfo
from misflag.linkage._clerical import check_labelled_design, estimate_precision, parse_labels
from misflag.linkage._disclosure import protect
from misflag.linkage._evaluate import (
    CURVE_THRESHOLDS,
    OVERALL_ATTRIBUTE,
    OVERALL_GROUP,
    LinkageAuditSpec,
    PairsData,
    TruthCounts,
    stage_name,
    truth_counts,
)
from misflag.progress import Progress, no_progress
from misflag.result import AuditResult, make_row, rows_to_table
from misflag.stats import safe_divide, wilson_interval


def _suppressed_row(attribute: str, group: str, stage: str, metric: str, reason: str) -> dict[str, Any]:
    return make_row(attribute, group, stage, metric, None, suppressed=True, warning=reason)


def _rate_row(
    attribute: str,
    group: str,
    stage: str,
    metric: str,
    hits: float,
    total: float,
    effective: float = float("nan"),
) -> dict[str, Any]:
    """A proportion with its Wilson interval, at the effective sample size where units cluster (the
    denominator stays the count of units); undefined (with a note) when the denominator is zero."""
    if total <= 0:
        return make_row(
            attribute, group, stage, metric, None, denominator=0, warning="undefined: denominator 0"
        )
    size = total if np.isnan(effective) else effective
    low, high = wilson_interval(hits / total * size, size)
    return make_row(attribute, group, stage, metric, hits / total, low, high, total)


def f1_row(
    attribute: str, group: str, stage: str, tp: float, fp: float, fn: float, effective: float = float("nan")
) -> dict[str, Any]:
    """F1 = 2TP / (2TP + FP + FN) = 2J / (1 + J), J = TP / (TP + FP + FN); undefined without units.

    Given the TP + FP + FN units, TP is binomial with probability J and F1 depends on J alone, strictly
    increasingly, so the Wilson limits of J (at the effective size of the units, clustered) map to limits
    of F1: a score interval that cannot collapse at F1 = 0 or 1, unlike a percentile bootstrap.
    """
    total = tp + fp + fn
    if total <= 0:
        return make_row(
            attribute,
            group,
            stage,
            "f1",
            None,
            denominator=0,
            warning="undefined: no links and no true pairs",
        )
    size = total if np.isnan(effective) else effective
    low, high = wilson_interval(tp / total * size, size)
    return make_row(
        attribute,
        group,
        stage,
        "f1",
        2 * tp / (2 * tp + fp + fn),
        2 * low / (1 + low),
        2 * high / (1 + high),
        total,
    )


def truth_rows(counts: TruthCounts, spec: LinkageAuditSpec) -> list[dict[str, Any]]:
    """The long-table rows at each audited threshold, plus blocking recall, from ground-truth counts."""
    rows: list[dict[str, Any]] = []
    fn_all = counts.true_pairs[:, None] - counts.tp

    def size(metric: str, g: int, j: int) -> float:
        """Effective sample size of a metric's units, NaN where not computed (then the count is used)."""
        sizes = counts.effective.get(metric)
        return float("nan") if sizes is None else float(sizes[g, j])

    for g, (attribute, group) in enumerate(counts.keys):
        withheld = counts.withheld.get((attribute, group))
        for t in sorted(set(spec.thresholds)):
            j = int(np.searchsorted(counts.thresholds, t))
            stage = stage_name(t)
            names = ("precision", "recall", "f1", "wrongful_link_rate", "tp_count", "fp_count", "fn_count")
            if withheld:
                rows += [_suppressed_row(attribute, group, stage, m, withheld) for m in names]
                continue
            tp, fp, fn = counts.tp[g, j], counts.fp[g, j], fn_all[g, j]
            rows.append(_rate_row(attribute, group, stage, "precision", tp, tp + fp, size("precision", g, j)))
            rows.append(_rate_row(attribute, group, stage, "recall", tp, tp + fn, size("recall", g, j)))
            rows.append(f1_row(attribute, group, stage, tp, fp, fn, size("jaccard", g, j)))
            rows.append(
                _rate_row(
                    attribute,
                    group,
                    stage,
                    "wrongful_link_rate",
                    counts.wrongly_linked[g, j],
                    counts.records[g],
                    size("wrongful_link_rate", g, j),
                )
            )
            rows += [
                make_row(attribute, group, stage, m, v) for m, v in zip(names[4:], (tp, fp, fn), strict=True)
            ]
        if counts.reached is not None:
            if withheld:
                rows.append(_suppressed_row(attribute, group, "blocking", "blocking_recall", withheld))
            else:
                rows.append(
                    _rate_row(
                        attribute,
                        group,
                        "blocking",
                        "blocking_recall",
                        counts.reached[g],
                        counts.true_pairs[g],
                        size("blocking_recall", g, 0),
                    )
                )
    return rows


def curve_table(counts: TruthCounts) -> pa.Table:
    """Precision, recall, F1 and wrongful-link rate at every curve threshold (unsuppressed groups only)."""
    keep = [g for g, key in enumerate(counts.keys) if key not in counts.withheld]
    fn = counts.true_pairs[:, None] - counts.tp
    columns: dict[str, list[Any]] = {
        name: []
        for name in (
            "attribute",
            "group",
            "threshold",
            "tp",
            "fp",
            "fn",
            "precision",
            "recall",
            "f1",
            "wrongful_link_rate",
        )
    }
    for g in keep:
        for j, t in enumerate(counts.thresholds):
            tp, fp, f = counts.tp[g, j], counts.fp[g, j], fn[g, j]
            values = (
                counts.keys[g][0],
                counts.keys[g][1],
                float(t),
                int(tp),
                int(fp),
                int(f),
                float(safe_divide(tp, tp + fp)),
                float(safe_divide(tp, tp + f)),
                float(safe_divide(2 * tp, 2 * tp + fp + f)),
                float(safe_divide(counts.wrongly_linked[g, j], counts.records[g])),
            )
            for name, value in zip(columns, values, strict=True):
                columns[name].append(None if isinstance(value, float) and np.isnan(value) else value)
    return pa.table(columns)


def clerical_rows(
    data: PairsData, labels: Any, spec: LinkageAuditSpec, metric: str, withheld: dict[tuple[str, str], str]
) -> list[dict[str, Any]]:
    """Weighted precision per group and threshold from a labelled stratified sample (`misflag linkage
    sample`); the `withheld` groups (the ground-truth audit's, when there is one) give no row."""
    info = data.labels_info  # loaded with the other inputs, before the engine was locked
    if info is None:
        raise InputError("the labelled sample ({labels}) was not loaded with the pairs")
    columns = {c.lower(): c for c in info.columns}
    for needed in ("id_l", "id_r", "label", "stratum", "stratum_size"):
        if needed not in columns:
            raise InputError(
                f"the labels file lacks the column {needed!r}; label the CSV from `misflag linkage sample`"
            )
    q = {k: quote_identifier(columns[k]) for k in ("id_l", "id_r", "label", "stratum", "stratum_size")}
    data.engine.execute(
        f"CREATE TABLE lab AS SELECT CAST({q['id_l']} AS VARCHAR) AS id_l, CAST({q['id_r']} AS VARCHAR) AS id_r, "
        f"CAST({q['label']} AS VARCHAR) AS label, CAST({q['stratum']} AS VARCHAR) AS stratum, "
        f"TRY_CAST({q['stratum_size']} AS DOUBLE) AS stratum_size FROM labels_input"
    )
    unknown = data.scalar("SELECT COUNT(*) FROM lab ANTI JOIN pr USING (id_l, id_r)")
    if unknown:  # record ids are never echoed: the web service masks and never shows them
        raise InputError(f"{unknown} labelled pair(s) are not in the pairs file")
    check_labelled_design(data.engine, "lab", "pr")
    groups = len(data.groups) if data.records_info is not None else 0
    side = "".join(f", gl.g{i} AS l{i}, gr.g{i} AS r{i}" for i in range(groups))
    joins = "JOIN rec gl ON gl.id = s.id_l JOIN rec gr ON gr.id = s.id_r" if groups else ""
    table = data.sql(f"SELECT s.*, p.score{side} FROM lab s JOIN pr p USING (id_l, id_r) {joins}")
    label = parse_labels(table["label"])
    strata = np.unique(np.asarray(table["stratum"].to_pylist(), dtype=object), return_inverse=True)[1]
    sizes = table["stratum_size"].to_numpy(zero_copy_only=False).astype(float)
    score = table["score"].to_numpy(zero_copy_only=False).astype(float)
    unlabelled = int(np.isnan(label).sum())
    note = f"{unlabelled} sampled pair(s) not labelled, treated as missing at random" if unlabelled else None
    rows: list[dict[str, Any]] = []
    domains: list[tuple[str, str, np.ndarray]] = [
        (OVERALL_ATTRIBUTE, OVERALL_GROUP, np.ones(score.size, bool))
    ]
    for i in range(groups):
        left = np.asarray(table[f"l{i}"].to_pylist(), dtype=object)
        right = np.asarray(table[f"r{i}"].to_pylist(), dtype=object)
        left, right = np.where(left == None, "(missing)", left), np.where(right == None, "(missing)", right)  # noqa: E711
        for value in sorted(set(left) | set(right)):
            domains.append((spec.groups[i], str(value), (left == value) | (right == value)))
    for attribute, group, member in domains:
        for t in sorted(set(spec.thresholds)):
            stage = stage_name(t)
            if (attribute, group) in withheld:
                rows.append(_suppressed_row(attribute, group, stage, metric, withheld[(attribute, group)]))
                continue
            est = estimate_precision(label, strata, sizes, member & (score >= t))
            warning = note
            if est.labelled < 30:
                warning = "; ".join(filter(None, [note, f"only {est.labelled} labelled pairs"]))
            rows.append(
                make_row(
                    attribute,
                    group,
                    stage,
                    metric,
                    est.value,
                    est.ci_low,
                    est.ci_high,
                    est.labelled,
                    warning=warning,
                )
            )
            rows.append(make_row(attribute, group, stage, "estimated_links_count", est.estimated_links))
    return rows


def audit_linkage(
    pairs: Any,
    records: Any | None = None,
    *,
    spec: LinkageAuditSpec,
    labels: Any | None = None,
    progress: Progress | None = None,
) -> AuditResult:
    """Audit a matcher's pairs per group: from ground truth (spec.cluster_column), a labelled sample, or both;
    with a release register (`spec.registered`), checked against its earlier releases and recorded."""
    if spec.registered:
        from misflag.linkage._released import audit_registered  # the plain audit loads no register

        def run(inner: LinkageAuditSpec) -> AuditResult:
            return audit_linkage(pairs, records, spec=inner, labels=labels, progress=progress)

        return audit_registered(spec, pairs, records, labels, run)
    if spec.cluster_column is None and labels is None:
        raise InputError(
            "give ground truth ({cluster_column}: a column of the records) or a labelled sample ({labels}: a file)"
        )
    say = progress or no_progress
    say("load and check inputs", None)
    data = PairsData(spec, pairs, records, labels)
    rows: list[dict[str, Any]] = []
    extras: dict[str, pa.Table] = {}
    metadata: dict[str, Any] = {}
    try:
        withheld = data.withheld() if spec.cluster_column is None else {}
        if spec.cluster_column is not None:
            say("count against ground truth", None)
            counts = truth_counts(
                data, sorted(set(spec.thresholds) | set(CURVE_THRESHOLDS)), clustered=spec.thresholds
            )
            say("audit the withheld counts by linear programming", None)
            outcome = protect(
                counts, set(counts.withheld), spec.min_cell, data.pairs_info.rows, spec.thresholds
            )
            reason = public_reason(spec.min_cell)
            withheld = counts.withheld = {key: reason for key in sorted(outcome.withheld)}
            if outcome.summary is not None:
                metadata["disclosure_audit"] = outcome.summary
            rows += truth_rows(counts, spec)
            extras["threshold_curves"] = curve_table(counts)
        if labels is not None:
            say("estimate from the labelled sample", None)
            metric = "precision_clerical" if spec.cluster_column is not None else "precision"
            rows += clerical_rows(data, labels, spec, metric, withheld)
    finally:
        data.engine.close()
    result = AuditResult(
        kind="linkage-audit",
        table=rows_to_table(rows),
        extras=extras,
        metadata={
            **_metadata(spec, data, labels is not None, (OVERALL_ATTRIBUTE, OVERALL_GROUP) in withheld),
            **metadata,
        },
    )
    result.summary = summarize(result, spec)
    return result


def _metadata(
    spec: LinkageAuditSpec, data: PairsData, clerical: bool, overall_withheld: bool
) -> dict[str, Any]:
    """What was audited and how; the inputs' row counts are null where the overall row is withheld
    (fewer than min_cell people, or the LP audit's last resort): they would give its people and pairs."""

    def described(info: InputInfo | None) -> dict[str, Any] | None:
        rows = None if overall_withheld else info.rows if info is not None else None
        return (
            None if info is None else {"description": info.description, "sha256": info.sha256, "rows": rows}
        )

    return {
        "audit": "linkage-audit",
        "input": described(data.pairs_info),
        "records": described(data.records_info),
        "spec": published_spec(spec),
        "expressions": {"groups": data.groups},
        "engine": "duckdb",
        "min_cell": spec.min_cell,
        "interval": "95% Wilson for proportions, at the effective sample size of units clustered by link component "
        "(precision, wrongful-link rate) or true entity (recall, blocking recall); "
        "F1 = 2J/(1+J) from the Wilson interval of J = TP/(TP+FP+FN), its units clustered by the components of "
        "links and true entities together"
        + (
            "; clerical precision: stratified ratio estimator, Wilson with effective sample size"
            if clerical
            else ""
        ),
        "misflag_version": __version__,
    }


def published_spec(spec: LinkageAuditSpec) -> dict[str, Any]:
    """The spec as an output's metadata publishes it (its register's path is never set there: a
    registered audit runs with none, `_released`)."""
    return {**asdict(spec), "groups": list(spec.groups), "thresholds": list(spec.thresholds)}


def summarize(result: AuditResult, spec: LinkageAuditSpec) -> str:
    """Plain-language headline at the first audited threshold."""
    stage = stage_name(spec.thresholds[0])
    parts = []
    for metric, label in (
        ("precision", "precision"),
        ("recall", "recall"),
        ("wrongful_link_rate", "people wrongly linked to someone else"),
    ):
        found = result.select(metric=metric, attribute=OVERALL_ATTRIBUTE, stage=stage)
        if found and found[0]["value"] is not None:
            row = found[0]
            parts.append(
                f"{label} {100 * row['value']:.2f}% (95% CI {100 * row['ci_low']:.2f}–{100 * row['ci_high']:.2f}%,"
                f" n={row['denominator']:,.0f})"
            )
    blocking = result.select(metric="blocking_recall", attribute=OVERALL_ATTRIBUTE)
    if blocking and blocking[0]["value"] is not None:
        parts.append(f"blocking rules reach {100 * blocking[0]['value']:.2f}% of true pairs")
    worst = [
        r
        for r in result.select(metric="wrongful_link_rate", stage=stage)
        if r["attribute"] != OVERALL_ATTRIBUTE and r["value"]  # no group is "highest" at 0%
    ]
    if worst:
        top = max(worst, key=lambda r: r["value"])
        parts.append(
            f"highest wrongful-link rate: {top['attribute']}={top['group']} at {100 * top['value']:.2f}%"
        )
    return f"At {stage}: " + "; ".join(parts) + "." if parts else ""
