"""Report sections of a biometric audit: rates and ratios per group, FMR/FNMR against threshold, DET
curves (log scale) with the operating thresholds marked, and the cross-group impostor FMR heat map."""

from __future__ import annotations

from typing import Any

import altair as alt

from misflag.report._charts import rate_chart, ratio_chart
from misflag.report._model import (
    OVERALL,
    Chart,
    Section,
    Visible,
    display_stage,
    reference_of,
    withheld_note,
)
from misflag.result import AuditResult

_WIDTH = 560
_CROSS = " × "
_PAIRING = "impostor pairing"


def _points(result: AuditResult) -> list[dict[str, Any]]:
    return list(result.metadata.get("operating_points") or [])


def _metrics(result: AuditResult) -> tuple[str, str]:
    names = result.metadata.get("metrics") or {}
    return str(names.get("false_positive", "fmr")), str(names.get("false_negative", "fnmr"))


def _fine_axes(spec: Any) -> Any:
    """Percent axes with as many digits as needed: an FMR of 0.01% would otherwise read "0%"."""
    if isinstance(spec, dict):
        return {k: ".2~%" if k == "format" and v == ".0%" else _fine_axes(v) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_fine_axes(v) for v in spec]
    return spec


def _group_attributes(visible: Visible) -> list[str]:
    return [a for a in visible.attributes() if a != OVERALL and _CROSS not in a and a != _PAIRING]


def threshold_chart(
    records: list[dict[str, Any]], measures: tuple[str, str], thresholds: list[float], title: str
) -> dict[str, Any]:
    """Both error rates against the threshold per group, log-scale rates, operating thresholds as rules."""
    long = [
        {"group": r["group"], "threshold": r["threshold"], "measure": m.upper(), "value": r[m]}
        for r in records
        for m in measures
        if r.get(m)
    ]
    lines = (
        alt.Chart(alt.Data(values=long))
        .mark_line()
        .encode(
            x=alt.X("threshold:Q", title="threshold"),
            y=alt.Y(
                "value:Q", scale=alt.Scale(type="log"), axis=alt.Axis(format="~%", title="error rate (log)")
            ),
            color=alt.Color("group:N", title=None),
            strokeDash=alt.StrokeDash("measure:N", title=None),
            tooltip=["group:N", "measure:N", "threshold:Q", alt.Tooltip("value:Q", format=".3~%")],
        )
    )
    rules = (
        alt.Chart(alt.Data(values=[{"threshold": t} for t in thresholds]))
        .mark_rule(color="#444", strokeDash=[2, 2])
        .encode(x="threshold:Q")
    )
    return alt.layer(lines, rules).properties(title=title, width=_WIDTH).to_dict()


def det_chart(
    records: list[dict[str, Any]], marks: list[dict[str, Any]], measures: tuple[str, str], title: str
) -> dict[str, Any]:
    """Detection error trade-off: FNMR against FMR per group, both on log axes, operating points marked."""
    fp, fn = measures
    long = [
        {"group": r["group"], "fp": r[fp], "fn": r[fn], "threshold": r["threshold"]}
        for r in records
        if r.get(fp) and r.get(fn)
    ]
    x = alt.X("fp:Q", scale=alt.Scale(type="log"), axis=alt.Axis(format="~%", title=f"{fp.upper()} (log)"))
    y = alt.Y("fn:Q", scale=alt.Scale(type="log"), axis=alt.Axis(format="~%", title=f"{fn.upper()} (log)"))
    curve = (
        alt.Chart(alt.Data(values=long))
        .mark_line()
        .encode(
            x=x,
            y=y,
            color=alt.Color("group:N", title=None),
            order="threshold:Q",
            tooltip=[
                "group:N",
                "threshold:Q",
                alt.Tooltip("fp:Q", format=".3~%"),
                alt.Tooltip("fn:Q", format=".3~%"),
            ],
        )
    )
    points = (
        alt.Chart(alt.Data(values=[m for m in marks if m["fp"] and m["fn"]]))
        .mark_point(filled=True, size=160, shape="diamond", stroke="black", strokeWidth=1)
        .encode(x="fp:Q", y="fn:Q", color=alt.Color("group:N", title=None), tooltip=["group:N", "stage:N"])
    )
    return alt.layer(curve, points).properties(title=title, width=_WIDTH, height=_WIDTH).to_dict()


def heat_map(rows: list[dict[str, Any]], metric: str, title: str) -> dict[str, Any]:
    """Impostor FMR of each (first sample's group, second sample's group) cell, colour on a log scale."""
    cells = []
    values = sorted(r["value"] for r in rows if r["value"])
    middle = values[len(values) // 2] if values else 0.0
    for r in rows:
        first, _, second = r["group"].partition(_CROSS)
        cells.append(
            {
                "a": first,
                "b": second,
                "value": r["value"],
                "shown": r["value"] if r["value"] else None,
                "text": f"{100 * r['value']:.3g}%",
                "low": r["ci_low"],
                "high": r["ci_high"],
                "pairs": r["denominator"],
                "dark": bool(r["value"] and r["value"] >= middle),
            }
        )
    base = alt.Chart(alt.Data(values=cells)).encode(
        x=alt.X("b:N", title="second sample's group"), y=alt.Y("a:N", title="first sample's group")
    )
    rects = base.mark_rect().encode(
        color=alt.Color(
            "shown:Q",
            scale=alt.Scale(type="log", scheme="orangered"),
            title=metric.upper(),
            legend=alt.Legend(format=".2~%"),  # percent, as the cells are
        ),
        tooltip=[
            "a:N",
            "b:N",
            alt.Tooltip("value:Q", format=".3~%"),
            alt.Tooltip("low:Q", format=".3~%", title="95% CI low"),
            alt.Tooltip("high:Q", format=".3~%", title="95% CI high"),
            alt.Tooltip("pairs:Q", format=",.0f", title="impostor pairs"),
        ],
    )
    text = base.mark_text(fontSize=11).encode(
        text="text:N", color=alt.condition("datum.dark", alt.value("white"), alt.value("black"))
    )
    return alt.layer(rects, text).properties(title=title, width=_WIDTH // 1.5, height=_WIDTH // 1.5).to_dict()


def _curve_section(result: AuditResult, visible: Visible) -> Section:
    fp, fn = _metrics(result)
    section = Section(f"{fp.upper()} and {fn.upper()} against the threshold")
    curves = result.extras.get("threshold_curves")
    if curves is None or curves.num_rows == 0:
        return section
    shown = {(r["attribute"], r["group"]) for r in visible.rows}
    records = [r for r in curves.to_pylist() if (r["attribute"], r["group"]) in shown]
    points = _points(result)
    thresholds = [float(p["threshold"]) for p in points]
    for attribute in dict.fromkeys(r["attribute"] for r in records):
        chosen = [r for r in records if r["attribute"] == attribute]
        label = "everyone" if attribute == OVERALL else f"by {attribute}"
        section.charts.append(
            Chart(
                f"Error rates against the threshold, {label}",
                threshold_chart(
                    chosen, (fp, fn), thresholds, f"{fp.upper()} (solid) and {fn.upper()} (dashed), {label}"
                ),
                f"Convention: {result.metadata.get('convention', 'score >= threshold is a match')}. Dotted lines: "
                "the operating thresholds. Rates are on a "
                "log scale; a rate of 0 is not drawn.",
            )
        )
        marks: list[dict[str, Any]] = []
        for point in points:
            for row in visible.select(attribute=attribute, stage=point["stage"], metric={fp, fn}):
                mark = next(
                    (m for m in marks if m["group"] == row["group"] and m["stage"] == point["stage"]), None
                )
                if mark is None:
                    mark = {"group": row["group"], "stage": point["stage"], "fp": None, "fn": None}
                    marks.append(mark)
                mark["fp" if row["metric"] == fp else "fn"] = row["value"]
        section.charts.append(
            Chart(
                f"DET curves, {label}",
                det_chart(chosen, marks, (fp, fn), f"Detection error trade-off, {label}"),
                "Each line is one group's trade-off between false matches and false non-matches as the threshold "
                "moves; lower left is better. Diamonds: each group at the operating thresholds.",
            )
        )
    return section


def biometrics_sections(result: AuditResult, visible: Visible) -> list[Section]:
    """Findings and charts of a biometric audit (tables and reproducibility are added by the writer)."""
    fp, fn = _metrics(result)
    rates = Section("Error rates by group at the operating thresholds")
    convention = result.metadata.get("convention")
    if convention:  # how to read every figure, not a finding: said once, above the charts
        rates.paragraphs.append(f"Convention: {convention}.")
    for point in _points(result):
        stage = point["stage"]
        shown = display_stage(stage)
        rates.findings.append(f"Match rule {point['rule']}: {point['method']}.")
        for attribute in _group_attributes(visible):
            rows = visible.select(attribute=attribute, stage=stage)
            note = withheld_note(visible, attribute) or ""
            for metric in (fp, fn):  # one chart each: an FMR of 0.01% and an FNMR of 50% share no scale
                rates.charts.append(
                    Chart(
                        f"{metric.upper()} by {attribute} at {shown}",
                        _fine_axes(rate_chart(rows, (metric,), f"{metric.upper()} by {attribute} ({shown})")),
                        "Dots: rates; lines: 95% intervals. " + note,
                    )
                )
            if visible.select(attribute=attribute, stage=stage, metric={f"{fp}_ratio", f"{fn}_ratio"}):
                reference = reference_of(rows) or "the reference group"
                rates.charts.append(
                    Chart(
                        f"Ratios to {reference} by {attribute} at {shown}",
                        ratio_chart(
                            rows, (f"{fp}_ratio", f"{fn}_ratio"), f"Ratio to {reference}, by {attribute}"
                        ),
                        f"Each group's rate divided by {reference}'s, with 95% intervals, on a log axis.",
                    )
                )
    sections = [rates, _curve_section(result, visible)]
    cross = [a for a in visible.attributes() if _CROSS in a]
    if cross:
        heat = Section("Impostor false matches across groups")
        for attribute in cross:
            for point in _points(result):
                rows = visible.select(attribute=attribute, stage=point["stage"], metric=fp)
                heat.charts.append(
                    Chart(
                        f"{fp.upper()} by {attribute} at {display_stage(point['stage'])}",
                        heat_map(
                            rows, fp, f"Impostor {fp.upper()}: {attribute} ({display_stage(point['stage'])})"
                        ),
                        "Each cell: the share of impostor pairs between a sample of the row's group and one of the "
                        "column's group that the matcher accepts (log colour scale; hover for the 95% interval). "
                        + (withheld_note(visible, attribute) or ""),
                    )
                )
        sections.append(heat)
    return sections
