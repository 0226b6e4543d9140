"""The finding in plain words: who is wrongly flagged more often, by how much, and is it more than noise."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from misflag.decisions._groups import JOIN, OVERALL_ATTRIBUTE
from misflag.decisions._rows import SMALL_DENOMINATOR
from misflag.decisions._spec import DecisionSpec
from misflag.result import AuditResult

FAIRNESS_BAND = (0.8, 1.25)


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _lookup(rows: list[dict[str, Any]], attribute: str, stage: str, metric: str) -> dict[str, dict[str, Any]]:
    return {
        r["group"]: r
        for r in rows
        if r["attribute"] == attribute
        and r["stage"] == stage
        and r["metric"] == metric
        and not r["suppressed"]
    }


def _disparity_sentence(
    rows: list[dict[str, Any]], attribute: str, stage: str, metric: str, who: str, verb: str
) -> str | None:
    """The largest gap against the reference group, among groups with at least 30 people in the denominator."""
    rates = _lookup(rows, attribute, stage, metric)
    ratios = _lookup(rows, attribute, stage, f"{metric}_ratio")
    usable = {
        g: r
        for g, r in ratios.items()
        if r["value"] is not None and g in rates and (r["denominator"] or 0) >= SMALL_DENOMINATOR
    }
    reference = next(
        (g for g, r in usable.items() if r["value"] == 1.0 and r["ci_low"] == 1.0 == r["ci_high"]), None
    )
    others = {g: r for g, r in usable.items() if g != reference}
    if reference is None or not others:
        return None
    group = max(others, key=lambda g: others[g]["value"])
    ratio, low, high = others[group]["value"], others[group]["ci_low"], others[group]["ci_high"]
    higher, lower = group, reference
    if ratio < 1:  # the reference is worst off: say it that way round
        group = min(others, key=lambda g: others[g]["value"])
        ratio, low, high = (
            1 / others[group]["value"],
            _invert(others[group]["ci_high"]),
            _invert(others[group]["ci_low"]),
        )
        higher, lower = reference, group
    if low is not None and low > 1:
        verdict = "the interval excludes 1, so the gap is larger than sampling noise"
    else:
        verdict = "the interval includes 1, so this gap could be sampling noise"
    interval = f"ratio 95% CI {low:.2f}–{high:.2f}" if low is not None and high is not None else "no interval"
    band = "inside" if FAIRNESS_BAND[0] < ratio < FAIRNESS_BAND[1] else "outside"
    return (
        f"Among people who {who}, {higher} ({attribute}) were {verb} {ratio:.2f} times as often as {lower}: "
        f"{_pct(rates[higher]['value'])} vs {_pct(rates[lower]['value'])} ({interval}; {verdict}; {band} the 0.8–1.25 "
        f"band; {rates[higher]['denominator']:,.0f} and {rates[lower]['denominator']:,.0f} people)."
    )


def _invert(value: float | None) -> float | None:
    return None if value is None or value == 0 else 1 / value


def summarize(result: AuditResult, spec: DecisionSpec) -> str:
    """One paragraph: size of the audit, the largest FPR and FNR gaps per attribute, and review's effect."""
    rows = result.rows()
    names = [name for name, _ in spec.pipeline]
    final = names[-1]
    overall = _lookup(rows, OVERALL_ATTRIBUTE, "all", "n").get("all")
    fpr = _lookup(rows, OVERALL_ATTRIBUTE, final, "fpr").get("all")
    parts = []
    if overall and fpr:
        parts.append(
            f"{overall['value']:,.0f} people audited; overall, {_pct(fpr['value'])} of those who should not have been "
            f"flagged were flagged at the {final} stage (95% CI {_pct(fpr['ci_low'])}–{_pct(fpr['ci_high'])})."
        )
    for attribute in spec.groups:
        if JOIN in attribute:
            continue
        for metric, who, verb in (
            ("fpr", "should not have been flagged", "wrongly flagged"),
            ("fnr", "should have been flagged", "missed"),
        ):
            sentence = _disparity_sentence(rows, attribute, final, metric, who, verb)
            if sentence:
                parts.append(sentence)
        for before, after in pairwise(names):
            cleared = _lookup(rows, attribute, f"{before}->{after}", "cleared_false_flags")
            if len(cleared) >= 2:
                listed = ", ".join(
                    f"{g} {_pct(r['value'])}" for g, r in sorted(cleared.items()) if r["value"] is not None
                )
                parts.append(f"Of the {before} stage's false flags, the {after} stage cleared: {listed}.")
    suppressed = sum(1 for r in rows if r["metric"] == "n" and r["suppressed"])
    if suppressed:
        parts.append(f"{suppressed} group(s) under {spec.min_cell} people are suppressed.")
    return " ".join(parts)
