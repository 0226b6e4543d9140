"""Report sections of a decision audit: disparity findings in words, rate, ratio, funnel and curve charts."""

from __future__ import annotations

import math
from typing import Any

from misflag.decisions import SMALL_DENOMINATOR
from misflag.report._charts import BAND, curve_chart, dash_key, funnel_chart, rate_chart, ratio_chart
from misflag.report._missing_truth import missing_truth_sections
from misflag.report._model import (
    OVERALL,
    Chart,
    Section,
    Visible,
    by_attribute,
    reference_of,
    score_stage_rule,
    withheld_note,
)
from misflag.result import AuditResult, format_number

_WORDING = {
    "fpr": ("Among people who should not have been flagged", "were flagged"),
    "fnr": ("Among people who should have been flagged", "were missed"),
}
_LABEL = {"fpr": "wrongly flagged", "fnr": "missed"}
#: At most this many comparisons per attribute and metric are written out (all are in the tables).
MAX_SENTENCES = 6


def decision_stages(visible: Visible) -> list[str]:
    """Stages that are decisions (not the population, hand-offs or score thresholds), in pipeline order."""
    return [s for s in visible.stages() if s != "all" and "->" not in s and not s.startswith("score")]


def _ratio_text(value: float) -> str:
    return f"{value:.2f}"


def _comparison(metric: str, ratio: dict[str, Any], rate: dict[str, Any], ref_rate: dict[str, Any]) -> str:
    """One sentence comparing a group with the reference, the higher one first, with the ratio's interval."""
    lead, verb = _WORDING[metric]
    value, low, high = ratio["value"], ratio["ci_low"], ratio["ci_high"]
    first, second = rate, ref_rate
    if value < 1:
        first, second = ref_rate, rate
        value = 1 / value
        low, high = (None if high in (None, 0) else 1 / high), (None if low in (None, 0) else 1 / low)
    interval = (
        f"ratio 95% CI {_ratio_text(low)}–{_ratio_text(high)}"
        if low is not None and high is not None
        else f"ratio 95% CI from {_ratio_text(low)} with no upper bound"
        if low is not None
        else "ratio interval undefined"
    )
    band = "inside" if BAND[0] <= value <= BAND[1] else "outside"
    return (
        f"{lead} ({rate['attribute']}, {rate['stage']} stage), {first['group']} {verb} {_ratio_text(value)} "
        f"times as often as {second['group']}: {format_number(first['value'], metric)} vs "
        f"{format_number(second['value'], metric)} ({interval}; {band} the {BAND[0]}–{BAND[1]} band; "
        f"{first['denominator']:,.0f} and {second['denominator']:,.0f} people)."
    )


def disparity_findings(visible: Visible, stage: str) -> list[str]:
    """Sentences for every group whose ratio to the reference has an interval excluding 1, largest first.

    Comparisons resting on fewer than 30 people on either side are left to the tables: too noisy to headline.
    """
    sentences: list[str] = []
    for attribute in visible.attributes():
        if attribute == OVERALL:
            continue
        for metric in ("fpr", "fnr"):
            ratios = visible.select(attribute=attribute, stage=stage, metric=f"{metric}_ratio")
            reference = reference_of(ratios)
            rates = {r["group"]: r for r in visible.select(attribute=attribute, stage=stage, metric=metric)}
            if reference is None or reference not in rates:
                continue
            clear = [
                r
                for r in ratios
                if r["group"] != reference
                and not r["suppressed"]
                and r["value"]
                and r["ci_low"] is not None
                and r["ci_high"] is not None
                and (r["ci_low"] > 1 or r["ci_high"] < 1)
                and r["group"] in rates
                and min(r["denominator"] or 0, rates[reference]["denominator"] or 0) >= SMALL_DENOMINATOR
            ]
            clear.sort(key=lambda r: -abs(math.log(r["value"])))
            for r in clear[:MAX_SENTENCES]:
                sentences.append(_comparison(metric, r, rates[r["group"]], rates[reference]))
            others = len(ratios) - 1 - len(clear[:MAX_SENTENCES])
            if others > 0:
                sentences.append(
                    f"{_LABEL[metric].capitalize()} by {attribute} ({stage} stage): {others} other comparison(s) "
                    f"with {reference} are not written out (their intervals include 1, they rest on "
                    f"fewer than {SMALL_DENOMINATOR} people, or they are beyond the first {MAX_SENTENCES}); every figure is in the tables below."
                )
    return sentences


def decision_sections(result: AuditResult, visible: Visible) -> list[Section]:
    """Findings and charts of a decision audit (tables and reproducibility are added by the writer)."""
    stages = decision_stages(visible)
    final = stages[-1] if stages else None
    findings = disparity_findings(visible, final) if final else []
    section = Section("Disparities between groups", findings=findings)
    for stage in visible.stages():
        rule = score_stage_rule(result, stage)
        if rule:  # the stage --score adds: say which rule chose its threshold
            section.paragraphs.append(f"Stage {stage}: {rule}.")
    for attribute in visible.attributes():
        if attribute == OVERALL or final is None:
            continue
        note = withheld_note(visible, attribute)
        rows = visible.select(attribute=attribute, stage=final)
        section.charts.append(
            Chart(
                f"Error rates by {attribute} ({final} stage)",
                rate_chart(rows, ("fpr", "fnr"), f"Wrongly flagged and missed, by {attribute}"),
                "Dots: rates; lines: 95% intervals. " + (note or ""),
            )
        )
        if visible.select(attribute=attribute, stage=final, metric={"fpr_ratio", "fnr_ratio"}):
            reference = reference_of(rows) or "the reference group"
            section.charts.append(
                Chart(
                    f"Disparity ratios by {attribute} ({final} stage)",
                    ratio_chart(rows, ("fpr_ratio", "fnr_ratio"), f"Ratio to {reference}, by {attribute}"),
                    f"Each group's rate divided by {reference}'s, with 95% intervals, on a log axis; the shaded "
                    "band is 0.8–1.25, where a ratio is conventionally read as no large disparity. Intervals "
                    "reaching 0 (or beyond 100) run to the chart's edge.",
                )
            )
        if len(stages) > 1:
            section.charts.append(
                Chart(
                    f"Wrongful flags after each stage, by {attribute}",
                    funnel_chart(
                        visible.select(attribute=attribute),
                        stages,
                        "fpr",
                        f"Share of people who should not be flagged who are flagged, by {attribute}",
                    ),
                    "How the false positive rate of each group changes as the pipeline's stages run in order.",
                )
            )
    section.charts += _curve_charts(result, visible)
    return [section, *missing_truth_sections(result)]


def _curve_charts(result: AuditResult, visible: Visible) -> list[Chart]:
    curves = result.extras.get("threshold_curves")
    if curves is None or curves.num_rows == 0:
        return []
    shown = {(r["attribute"], r["group"]) for r in visible.rows}
    records = [r for r in curves.to_pylist() if (r["attribute"], r["group"]) in shown]
    charts = []
    measures = ("fpr", "fnr")
    for attribute in dict.fromkeys(r["attribute"] for r in records):
        chosen = [r for r in records if r["attribute"] == attribute]
        charts.append(
            Chart(
                f"Threshold curves {by_attribute(attribute)}",
                curve_chart(
                    chosen, measures, f"False positive and false negative rates {by_attribute(attribute)}"
                ),
                "At each score threshold, the share of each group wrongly flagged and missed. Lines: "
                f"{dash_key(measures)}.",
            )
        )
    return charts
