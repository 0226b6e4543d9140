"""Vega-Lite chart specs (built with Altair) from the long table: rates, disparities, funnels, curves.

Every function takes plain row dicts (already stripped of suppressed groups) and returns a Vega-Lite
spec as a dict with its data inlined, so the report needs no network to draw it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt

#: The band inside which a ratio between groups is conventionally read as "no large disparity".
BAND = (0.8, 1.25)
_WIDTH = 560
#: Ratio axes are clamped to this range; longer intervals run to the chart's edge.
_MIN_RATIO, _MAX_RATIO = 0.05, 100.0


def _label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


METRIC_LABELS: dict[str, str] = {
    "fpr": "wrongly flagged (false positive rate)",
    "fnr": "missed (false negative rate)",
    "selection_rate": "flagged (selection rate)",
    "precision": "precision",
    "recall": "recall",
    "wrongful_link_rate": "wrongly linked records",
    "wrongful_match_per_100k": "wrongful matches per 100,000",
    "fpr_ratio": "wrongly flagged: ratio to reference",
    "fnr_ratio": "missed: ratio to reference",
    "ratio_to_min": "ratio to the lowest group",
}


def _is_rate(metric: str) -> bool:
    """Rates are drawn as percentages; counts per 100,000 and ratios as plain numbers."""
    return "per_" not in metric and "ratio" not in metric and metric not in {"n"}


def rate_chart(rows: Sequence[dict[str, Any]], metrics: Sequence[str], title: str) -> dict[str, Any]:
    """Per-group values of `metrics` with their 95% intervals as error bars."""
    records = [
        {
            "group": r["group"],
            "measure": _label(r["metric"]),
            "value": r["value"],
            "low": r["ci_low"] if r["ci_low"] is not None else r["value"],
            "high": r["ci_high"] if r["ci_high"] is not None else r["value"],
            "people": r["denominator"],
        }
        for r in rows
        if r["metric"] in metrics and r["value"] is not None
    ]
    percent = all(_is_rate(m) for m in metrics)
    axis = alt.Axis(format=".0%" if percent else ",.3~g", title=None)
    base = alt.Chart(alt.Data(values=records)).encode(
        y=alt.Y("group:N", title=None, sort=None),
        yOffset=alt.YOffset("measure:N"),
        color=alt.Color("measure:N", title=None, legend=alt.Legend(orient="bottom", labelLimit=400)),
    )
    fmt = ".2%" if percent else ",.4~g"
    tooltip = [
        alt.Tooltip("group:N"),
        alt.Tooltip("measure:N"),
        alt.Tooltip("value:Q", format=fmt),
        alt.Tooltip("low:Q", format=fmt, title="95% CI low"),
        alt.Tooltip("high:Q", format=fmt, title="95% CI high"),
        alt.Tooltip("people:Q", format=",.0f", title="denominator"),
    ]
    bars = base.mark_rule(strokeWidth=2).encode(x=alt.X("low:Q", axis=axis), x2="high:Q")
    points = base.mark_point(filled=True, size=60).encode(x=alt.X("value:Q", axis=axis), tooltip=tooltip)
    chart = (bars + points).properties(title=title, width=_WIDTH)
    return chart.to_dict()


def ratio_chart(rows: Sequence[dict[str, Any]], metrics: Sequence[str], title: str) -> dict[str, Any]:
    """Ratios to the reference group on a log axis, with the 0.8–1.25 band and 1 marked."""
    records = []
    for r in rows:
        if r["metric"] not in metrics or r["value"] is None or r["value"] <= 0:
            continue
        low = r["ci_low"] if r["ci_low"] is not None else r["value"]
        high = r["ci_high"] if r["ci_high"] is not None else r["value"]
        records.append(
            {
                "group": r["group"],
                "measure": _label(r["metric"]),
                "value": r["value"],
                "low": max(low, _MIN_RATIO),
                "high": max(high, _MIN_RATIO),
                "reference": r.get("warning") or "",
            }
        )
    values = [v for rec in records for v in (rec["low"], rec["high"])]
    domain = [min([BAND[0] / 1.5, *values]), min(max([BAND[1] * 1.5, *values]), _MAX_RATIO)]
    x_scale = alt.Scale(type="log", domain=domain, clamp=True)
    band = (
        alt.Chart(alt.Data(values=[{"lo": BAND[0], "hi": BAND[1]}]))
        .mark_rect(opacity=0.15, color="#2a9d8f")
        .encode(x=alt.X("lo:Q", scale=x_scale), x2="hi:Q")
    )
    one = alt.Chart(alt.Data(values=[{"one": 1.0}])).mark_rule(color="#444").encode(x="one:Q")
    base = alt.Chart(alt.Data(values=records)).encode(
        y=alt.Y("group:N", title=None, sort=None),
        yOffset=alt.YOffset("measure:N"),
        color=alt.Color("measure:N", title=None, legend=alt.Legend(orient="bottom", labelLimit=400)),
    )
    axis = alt.Axis(title="ratio (log scale; shaded: 0.8–1.25)", format="~g")
    bars = base.mark_rule(strokeWidth=2).encode(x=alt.X("low:Q", scale=x_scale, axis=axis), x2="high:Q")
    points = base.mark_point(filled=True, size=60).encode(
        x=alt.X("value:Q", scale=x_scale),
        tooltip=[
            alt.Tooltip("group:N"),
            alt.Tooltip("measure:N"),
            alt.Tooltip("value:Q", format=".3f"),
            alt.Tooltip("reference:N"),
        ],
    )
    return alt.layer(band, one, bars, points).properties(title=title, width=_WIDTH).to_dict()


def funnel_chart(
    rows: Sequence[dict[str, Any]], stages: Sequence[str], metric: str, title: str
) -> dict[str, Any]:
    """One metric (e.g. the false positive rate) per group after each stage of a pipeline, in order."""
    records = [
        {"group": r["group"], "stage": r["stage"], "value": r["value"], "people": r["denominator"]}
        for r in rows
        if r["metric"] == metric and r["stage"] in stages and r["value"] is not None
    ]
    chart = (
        alt.Chart(alt.Data(values=records))
        .mark_line(point=True)
        .encode(
            x=alt.X("stage:N", sort=list(stages), title="stage (in order)"),
            y=alt.Y("value:Q", axis=alt.Axis(format=".0%", title=_label(metric))),
            color=alt.Color("group:N", title=None),
            tooltip=[
                alt.Tooltip("group:N"),
                alt.Tooltip("stage:N"),
                alt.Tooltip("value:Q", format=".2%"),
                alt.Tooltip("people:Q", format=",.0f", title="denominator"),
            ],
        )
        .properties(title=title, width=_WIDTH // SMALL_MULTIPLE_COLUMNS, height=140)
    )
    return chart.to_dict()


#: Line styles of curve charts, in the order of the measures drawn: (name for captions, Vega-Lite dash array).
DASHES: tuple[tuple[str, list[int]], ...] = (
    ("solid", [1, 0]),
    ("dashed", [6, 4]),
    ("dotted", [1, 3]),
    ("dash-dotted", [6, 3, 1, 3]),
)


def dash_key(measures: Sequence[str]) -> str:
    """How to read a curve chart's lines, from the same table the chart is drawn with."""
    return "; ".join(f"{_label(m)}: {DASHES[i][0]}" for i, m in enumerate(measures[: len(DASHES)]))


#: Panels per row of a small-multiples chart: one panel per group, never one line per group on one plot.
SMALL_MULTIPLE_COLUMNS = 3


def curve_chart(records: Sequence[dict[str, Any]], measures: Sequence[str], title: str) -> dict[str, Any]:
    """Per-group curves of `measures` against the score threshold: small multiples, one panel per group.

    The first measure is drawn solid, the second dashed, and so on (`DASHES`): the scale is explicit, so
    the caption written from `dash_key` cannot disagree with the drawing.
    """
    measures = list(measures[: len(DASHES)])
    long = [
        {"group": r["group"], "threshold": r["threshold"], "measure": _label(m), "value": r[m]}
        for r in records
        for m in measures
        if r.get(m) is not None
    ]
    chart = (
        alt.Chart(alt.Data(values=long))
        .mark_line()
        .encode(
            x=alt.X("threshold:Q", title="score threshold (flag if score ≥ threshold)"),
            y=alt.Y("value:Q", axis=alt.Axis(format=".0%", title=None)),
            facet=alt.Facet("group:N", title=None, columns=SMALL_MULTIPLE_COLUMNS),  # one panel per group
            strokeDash=alt.StrokeDash(
                "measure:N",
                title=None,
                legend=alt.Legend(orient="bottom", labelLimit=400),
                scale=alt.Scale(
                    domain=[_label(m) for m in measures], range=[dash for _, dash in DASHES[: len(measures)]]
                ),
            ),
            tooltip=[
                alt.Tooltip("group:N"),
                alt.Tooltip("measure:N"),
                alt.Tooltip("threshold:Q"),
                alt.Tooltip("value:Q", format=".2%"),
            ],
        )
        .properties(title=title, width=_WIDTH // SMALL_MULTIPLE_COLUMNS, height=140)
    )
    return chart.to_dict()
