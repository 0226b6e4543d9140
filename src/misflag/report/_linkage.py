"""Report sections of linkage audits and linkage risk, and the fallback for any other kind of result."""

from __future__ import annotations

from misflag.report._charts import curve_chart, dash_key, rate_chart, ratio_chart
from misflag.report._model import OVERALL, Chart, Section, Visible, by_attribute, cell, withheld_note
from misflag.result import AuditResult

#: Metrics drawn per group, in this order, when the result has them.
LINKAGE_RATES: tuple[str, ...] = ("wrongful_link_rate", "precision", "recall")
RISK_RATES: tuple[str, ...] = ("wrongful_match_per_100k",)
_PHRASES = {
    "wrongful_link_rate": "records wrongly linked to someone else",
    "wrongful_match_per_100k": "wrongful matches per 100,000 people",
}


def spread_findings(visible: Visible, metric: str) -> list[str]:
    """Per attribute and stage: the groups with the highest and lowest value, with intervals and sizes."""
    sentences = []
    for attribute in visible.attributes():
        if attribute == OVERALL:
            continue
        for stage in visible.stages():
            rows = [
                r
                for r in visible.select(attribute=attribute, stage=stage, metric=metric)
                if not r["suppressed"] and r["value"] is not None
            ]
            if len(rows) < 2:
                continue
            rows.sort(key=lambda r: r["value"])
            low, high = rows[0], rows[-1]
            sentences.append(
                f"{_PHRASES.get(metric, metric).capitalize()} by {attribute} ({stage}): highest for "
                f"{high['group']}, {cell(high)} (denominator {high['denominator'] or 0:,.0f}); lowest for "
                f"{low['group']}, {cell(low)} (denominator {low['denominator'] or 0:,.0f})."
            )
    return sentences


def _rate_sections(
    result: AuditResult, visible: Visible, metrics: tuple[str, ...], title: str
) -> list[Section]:
    present = {r["metric"] for r in visible.rows}
    chosen = tuple(m for m in metrics if m in present)
    section = Section(title, findings=[s for m in chosen[:1] for s in spread_findings(visible, m)])
    for attribute in visible.attributes():
        if attribute == OVERALL:
            continue
        note = withheld_note(visible, attribute) or ""
        for stage in visible.stages():
            rows = visible.select(attribute=attribute, stage=stage)
            for metric in chosen:
                if any(r["metric"] == metric for r in rows):
                    section.charts.append(
                        Chart(
                            f"{metric.replace('_', ' ')} by {attribute} ({stage})",
                            rate_chart(
                                rows, (metric,), f"{metric.replace('_', ' ')} by {attribute}, {stage}"
                            ),
                            "Dots: values; lines: 95% intervals. " + note,
                        )
                    )
            if any(r["metric"] == "ratio_to_min" for r in rows):
                section.charts.append(
                    Chart(
                        f"Ratio to the lowest group by {attribute} ({stage})",
                        ratio_chart(rows, ("ratio_to_min",), f"Ratio to the lowest group, by {attribute}"),
                        "Log axis; the shaded band is 0.8–1.25; intervals beyond 0.05–100 run to the chart's edge.",
                    )
                )
    section.charts += _curves(result, visible, ("precision", "recall", "wrongful_link_rate"))
    return [section]


def _curves(result: AuditResult, visible: Visible, measures: tuple[str, ...]) -> list[Chart]:
    curves = result.extras.get("threshold_curves")
    if curves is None or curves.num_rows == 0 or "threshold" not in curves.column_names:
        return []
    chosen = tuple(m for m in measures if m in curves.column_names)
    shown = {(r["attribute"], r["group"]) for r in visible.rows}
    records = [r for r in curves.to_pylist() if (r.get("attribute"), r.get("group")) in shown]
    return [
        Chart(
            f"Threshold curves {by_attribute(attribute)}",
            curve_chart(
                [r for r in records if r["attribute"] == attribute],
                chosen,
                f"Measures at every threshold, {by_attribute(attribute)}",
            ),
            f"Each measure per group at every match-probability threshold. Lines: {dash_key(chosen)}.",
        )
        for attribute in dict.fromkeys(r["attribute"] for r in records)
        if chosen
    ]


def linkage_audit_sections(result: AuditResult, visible: Visible) -> list[Section]:
    """Per-group wrongful-link rates, precision and recall of a linkage run scored against the truth."""
    return _rate_sections(result, visible, LINKAGE_RATES, "Wrongful links by group")


def linkage_risk_sections(result: AuditResult, visible: Visible) -> list[Section]:
    """Per-group expected wrongful matches of a matching rule over a population."""
    return _rate_sections(result, visible, RISK_RATES, "Wrongful matches by group")


def generic_sections(result: AuditResult, visible: Visible) -> list[Section]:
    """Any other result: a chart of every metric that carries intervals (at most four)."""
    metrics = list(
        dict.fromkeys(
            r["metric"]
            for r in visible.rows
            if r["ci_low"] is not None and not r["metric"].endswith(("_diff", "_ratio"))
        )
    )[:4]
    return _rate_sections(result, visible, tuple(metrics), "Figures by group")
