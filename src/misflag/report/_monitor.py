"""Report sections of a monitor: alarms in words; each group's rate and ratio over time, band and alarms marked."""

from __future__ import annotations

from typing import Any

import altair as alt

from misflag.errors import InputError
from misflag.monitor._withhold import alarm_bound
from misflag.report._model import Chart, Section, TableBlock, Visible
from misflag.result import AuditResult

_WIDTH = 560
_MIN_RATIO, _MAX_RATIO = 0.05, 20.0
#: An alarm as the monitor writes it (`monitor._watch.Alarm.to_dict`): the fields the report reads.
_ALARM_FIELDS: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(("attribute", "metric", "side", "time", "since"), (str,)),
    "group": (str, type(None)),
    **dict.fromkeys(("bound", "value"), (int, float)),
    "open": (bool,),
}
_PERIOD_COLUMNS = {"time", "attribute", "group", "metric", "value", "ci_low", "ci_high", "suppressed"}


def _is(value: Any, types: tuple[type, ...]) -> bool:
    """isinstance, with True and False counted as bools only (never as the numbers 1 and 0)."""
    return isinstance(value, types) and isinstance(value, bool) == (bool in types)


def _check(result: AuditResult) -> None:
    """A monitor result read back from a file (`misflag report`) has the shape the monitor writes, or is
    refused in one line: its alarms, band, metrics, warnings and per-period table are read as such."""

    def refuse(what: str) -> InputError:
        return InputError(f"the monitor result's {what}, as misflag writes it")

    meta = result.metadata
    alarms = meta.get("alarms", [])
    if not isinstance(alarms, list) or not all(
        isinstance(a, dict) and all(_is(a.get(k), t) for k, t in _ALARM_FIELDS.items()) for a in alarms
    ):
        raise refuse("metadata.alarms is not a list of alarms")
    spec = meta.get("spec", {})
    band = spec.get("band", (0.8, 1.25)) if isinstance(spec, dict) else None
    if not (isinstance(band, list | tuple) and len(band) == 2 and all(_is(b, (int, float)) for b in band)):
        raise refuse("metadata.spec.band is not a pair of numbers")
    for name in ("metrics", "warnings"):
        if not isinstance(meta.get(name, []), list) or not all(
            isinstance(m, str) for m in meta.get(name, [])
        ):
            raise refuse(f"metadata.{name} is not a list of names")
    periods = result.extras.get("periods")
    if periods is not None and not set(periods.column_names) >= _PERIOD_COLUMNS:
        raise refuse("per-period table lacks its columns")


def _shown(result: AuditResult, visible: Visible) -> list[dict[str, Any]]:
    """Per-period rows of groups the report may name (never a withheld group), suppressed cells dropped."""
    periods = result.extras.get("periods")
    if periods is None:
        return []
    named = {(r["attribute"], r["group"]) for r in visible.rows}
    return [
        r
        for r in periods.to_pylist()
        if (r["attribute"], r["group"]) in named and not r["suppressed"] and r["value"] is not None
    ]


def _alarms(result: AuditResult, visible: Visible) -> list[dict[str, Any]]:
    named = {(r["attribute"], r["group"]) for r in visible.rows}
    return [a for a in result.metadata.get("alarms", []) if (a["attribute"], a["group"]) in named]


def _colors(rows: list[dict[str, Any]]) -> alt.Color:
    """One colour per label, the same in the rate and the ratio chart."""
    labels = sorted({r["group"] for r in rows})
    return alt.Color("group:N", title=None, scale=alt.Scale(domain=labels))


def rate_over_time(rows: list[dict[str, Any]], metric: str, alarms: list[dict[str, Any]]) -> dict[str, Any]:
    """Each group's rate per period with its 95% interval as a band; alarm periods as vertical rules."""
    records = [
        {
            "time": r["time"],
            "group": r["group"],
            "value": r["value"],
            "low": r["ci_low"],
            "high": r["ci_high"],
        }
        for r in rows
        if r["metric"] == metric
    ]
    base = alt.Chart(alt.Data(values=records)).encode(x=alt.X("time:T", title=None), color=_colors(rows))
    band = base.mark_area(opacity=0.15).encode(y=alt.Y("low:Q", axis=alt.Axis(format="%")), y2="high:Q")
    line = base.mark_line().encode(
        y=alt.Y("value:Q", axis=alt.Axis(format="%", title=metric)),
        tooltip=[alt.Tooltip("time:T"), alt.Tooltip("group:N"), alt.Tooltip("value:Q", format=".2%")],
    )
    layers: list[Any] = [band, line]
    layers += _alarm_rules(alarms)
    return alt.layer(*layers).properties(width=_WIDTH, title=f"{metric} per period").to_dict()


def _alarm_rules(alarms: list[dict[str, Any]]) -> list[Any]:
    """A dashed red rule at each alarm's period (none without alarms)."""
    marks = [
        {"time": a["time"], "alarm": f"{a['group']}: {a['side']} {alarm_bound(a['bound'])}"} for a in alarms
    ]
    if not marks:
        return []
    return [
        alt.Chart(alt.Data(values=marks))
        .mark_rule(color="#c0392b", strokeDash=[4, 3])
        .encode(x="time:T", tooltip=[alt.Tooltip("alarm:N")])
    ]


def ratio_over_time(
    rows: list[dict[str, Any]], metric: str, band: tuple[float, float], alarms: list[dict[str, Any]]
) -> dict[str, Any]:
    """Each group's ratio to the reference per period (log axis), the tolerance band shaded, alarms marked."""
    records = [
        {
            "time": r["time"],
            "group": r["group"],
            "value": min(max(r["value"], _MIN_RATIO), _MAX_RATIO),
            "low": min(max(r["ci_low"] if r["ci_low"] is not None else _MIN_RATIO, _MIN_RATIO), _MAX_RATIO),
            "high": min(
                max(r["ci_high"] if r["ci_high"] is not None else _MAX_RATIO, _MIN_RATIO), _MAX_RATIO
            ),
        }
        for r in rows
        if r["metric"] == f"{metric}_ratio" and r["value"] and r["value"] > 0
    ]
    scale = alt.Scale(type="log", domain=[_MIN_RATIO, _MAX_RATIO], clamp=True)
    shade = (
        alt.Chart(alt.Data(values=[{"lo": band[0], "hi": band[1]}]))
        .mark_rect(opacity=0.15, color="#2a9d8f")
        .encode(y=alt.Y("lo:Q", scale=scale), y2="hi:Q")
    )
    base = alt.Chart(alt.Data(values=records)).encode(x=alt.X("time:T", title=None), color=_colors(rows))
    interval = base.mark_area(opacity=0.12).encode(y=alt.Y("low:Q", scale=scale), y2="high:Q")
    line = base.mark_line().encode(
        y=alt.Y("value:Q", scale=scale, axis=alt.Axis(title=f"{metric} ratio (log)", format="~g")),
        tooltip=[alt.Tooltip("time:T"), alt.Tooltip("group:N"), alt.Tooltip("value:Q", format=".3f")],
    )
    layers: list[Any] = [shade, interval, line]
    layers += _alarm_rules(alarms)
    return alt.layer(*layers).properties(width=_WIDTH, title=f"{metric}: ratio to the reference").to_dict()


def monitor_sections(result: AuditResult, visible: Visible) -> list[Section]:
    """Alarms in words and a table, then per metric the rate and ratio over time."""
    _check(result)
    alarms = _alarms(result, visible)
    rows = _shown(result, visible)
    meta = result.metadata
    band = tuple(meta.get("spec", {}).get("band", (0.8, 1.25)))
    findings = [
        f"{a['metric']} of {a['group']} ({a['attribute']}) went {a['side']} {alarm_bound(a['bound'])}: alarm on "
        f"{a['time'][:10]}, change estimated to start {a['since'][:10]}, estimate since then {a['value']:.3g}"
        f"{' (still open)' if a['open'] else ''}."
        for a in alarms
    ] or ["No alarm: no monitored disparity left the band and no dismissal rate fell below its floor."]
    section = Section("Monitoring over time", findings=findings)
    section.paragraphs += [str(meta.get("method", ""))] + [f"Warning: {w}" for w in meta.get("warnings", [])]
    if alarms:
        section.tables.append(
            TableBlock(
                "Alarms",
                ["time", "attribute", "group", "metric", "side", "bound", "estimate", "since", "open"],
                [
                    [
                        a["time"][:10],
                        a["attribute"],
                        a["group"],
                        a["metric"],
                        a["side"],
                        alarm_bound(a["bound"]),
                        f"{a['value']:.3g}",
                        a["since"][:10],
                        "yes" if a["open"] else "no",
                    ]
                    for a in alarms
                ],
                ["Time-uniform guarantee: the chance of any false alarm over the horizon is at most alpha."],
            )
        )
    for metric in meta.get("metrics", []):
        mine = [a for a in alarms if a["metric"] == metric]
        for attribute in dict.fromkeys(r["attribute"] for r in rows if r["metric"] == metric):
            chosen = [r for r in rows if r["attribute"] == attribute]
            section.charts.append(
                Chart(
                    f"{metric} by {attribute} over time",
                    rate_over_time(chosen, metric, [a for a in mine if a["attribute"] == attribute]),
                    "Lines: rate per period; shaded: 95% Wilson interval (pointwise); dashed red: alarms.",
                )
            )
            if any(r["metric"] == f"{metric}_ratio" for r in chosen):
                section.charts.append(
                    Chart(
                        f"{metric} ratio to the reference by {attribute} over time",
                        ratio_over_time(chosen, metric, (float(band[0]), float(band[1])), mine),
                        f"Ratio per period on a log axis; green band {band[0]:g}-{band[1]:g}; dashed red: alarms.",
                    )
                )
    return [section]
