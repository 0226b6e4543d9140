"""The finding in plain words: who is wrongly flagged more often, by how much, and is it more than noise."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from misflag.decisions._spec import SMALL_DENOMINATOR, DecisionSpec
from misflag.result import JOIN, OVERALL_ATTRIBUTE, AuditResult

FAIRNESS_BAND = (0.8, 1.25)


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


#: The reported (unsuppressed) rows by (attribute, stage, metric), then by group.
Index = dict[tuple[str, str, str], dict[str, dict[str, Any]]]


def _index(rows: list[dict[str, Any]]) -> Index:
    """Every reported row by (attribute, stage, metric) and group, in one pass over the rows (the summary
    looks up a dozen metrics, each of which was a pass over all ~2,000 rows)."""
    out: Index = {}
    for r in rows:
        if not r["suppressed"]:
            out.setdefault((r["attribute"], r["stage"], r["metric"]), {})[r["group"]] = r
    return out


def _lookup(index: Index, attribute: str, stage: str, metric: str) -> dict[str, dict[str, Any]]:
    return index.get((attribute, stage, metric), {})


def _disparity_sentence(
    index: Index,
    attribute: str,
    stage: str,
    metric: str,
    who: str,
    verb: str,
    reference: str | None,
) -> str | None:
    """The largest gap against the reference group, among groups with at least 30 people in the denominator."""
    rates = _lookup(index, attribute, stage, metric)
    ratios = _lookup(index, attribute, stage, f"{metric}_ratio")
    if reference is None or reference not in rates or rates[reference]["value"] is None:
        return None
    others = {
        g: r
        for g, r in ratios.items()
        if g != reference
        and r["value"] is not None
        and g in rates
        and rates[g]["value"] is not None
        and (r["denominator"] or 0) >= SMALL_DENOMINATOR
    }
    if not others:
        return _difference_sentence(index, attribute, stage, metric, who, verb, reference)
    worst = max(others, key=lambda g: others[g]["value"])
    best = min(others, key=lambda g: others[g]["value"])
    if others[worst]["value"] >= 1 or others[best]["value"] <= 0:
        higher, lower = worst, reference
        ratio, low, high = others[worst]["value"], others[worst]["ci_low"], others[worst]["ci_high"]
    else:  # the reference is worst off (and no rate is 0): say it that way round
        higher, lower = reference, best
        ratio = 1 / others[best]["value"]
        low, high = _invert(others[best]["ci_high"]), _invert(others[best]["ci_low"])
    if low is not None and low > 1:
        verdict = "the interval excludes 1, so the gap is larger than sampling noise"
    else:
        verdict = "the interval includes 1, so this gap could be sampling noise"
    interval = f"ratio 95% CI {low:.2f}–{_upper(high)}" if low is not None else "no interval"
    band = "inside" if FAIRNESS_BAND[0] < ratio < FAIRNESS_BAND[1] else "outside"
    return (
        f"Among people who {who}, {higher} ({attribute}) were {verb} {ratio:.2f} times as often as {lower}: "
        f"{_pct(rates[higher]['value'])} vs {_pct(rates[lower]['value'])} ({interval}; {verdict}; {band} the 0.8–1.25 "
        f"band; {rates[higher]['denominator']:,.0f} and {rates[lower]['denominator']:,.0f} people)."
    )


def _difference_sentence(
    index: Index, attribute: str, stage: str, metric: str, who: str, verb: str, reference: str
) -> str | None:
    """When no ratio is defined (the reference rate is 0): the largest difference, in percentage points."""
    rates = _lookup(index, attribute, stage, metric)
    diffs = {
        g: r
        for g, r in _lookup(index, attribute, stage, f"{metric}_diff").items()
        if g != reference
        and r["value"] is not None
        and r["ci_low"] is not None
        and g in rates
        and (r["denominator"] or 0) >= SMALL_DENOMINATOR
    }
    if not diffs:
        return None
    group = max(diffs, key=lambda g: abs(diffs[g]["value"]))
    row = diffs[group]
    excludes = row["ci_low"] > 0 or row["ci_high"] < 0
    verdict = "larger than sampling noise" if excludes else "could be sampling noise"
    return (
        f"Among people who {who}, {_pct(rates[group]['value'])} of {group} ({attribute}) were {verb} vs "
        f"{_pct(rates[reference]['value'])} of {reference} (difference {100 * row['value']:.1f} points, 95% CI "
        f"{100 * row['ci_low']:.1f} to {100 * row['ci_high']:.1f}: {verdict}; {rates[group]['denominator']:,.0f} "
        f"and {rates[reference]['denominator']:,.0f} people)."
    )


def _upper(value: float | None) -> str:
    return "unbounded" if value is None else f"{value:.2f}"


def _invert(value: float | None) -> float | None:
    """1 / a ratio limit: None (unbounded) for 0 or an unbounded limit's reciprocal 0."""
    if value is None:
        return 0.0
    return None if value == 0 else 1 / value


def summarize(result: AuditResult, spec: DecisionSpec, rows: list[dict[str, Any]]) -> str:
    """One paragraph: size of the audit, the largest FPR and FNR gaps per attribute, and review's effect.

    `rows` are the rows the result's table was built from (no NaN: `make_row`), not read back from it.
    """
    names = [name for name, _ in spec.pipeline]
    final = names[-1]
    index = _index(rows)
    overall = _lookup(index, OVERALL_ATTRIBUTE, "all", "n").get("all")
    fpr = _lookup(index, OVERALL_ATTRIBUTE, final, "fpr").get("all")
    parts = []
    if overall and fpr and None not in (fpr["value"], fpr["ci_low"], fpr["ci_high"]):
        parts.append(
            f"{overall['value']:,.0f} people audited; overall, {_pct(fpr['value'])} of those who should not have been "
            f"flagged were flagged at the {final} stage (95% CI {_pct(fpr['ci_low'])}–{_pct(fpr['ci_high'])})."
        )
    if result.metadata.get("missing_truth"):  # the missing-truth modules load only for such an audit
        from misflag.decisions._missing_audit import missing_truth_sentences

        parts += missing_truth_sentences(result.metadata, rows, final)
    for attribute in spec.groups:
        if JOIN in attribute:
            continue
        for metric, who, verb in (
            ("fpr", "should not have been flagged", "wrongly flagged"),
            ("fnr", "should have been flagged", "missed"),
        ):
            reference = (result.metadata.get("references") or {}).get(attribute)
            sentence = _disparity_sentence(index, attribute, final, metric, who, verb, reference)
            if sentence:
                parts.append(sentence)
        for before, after in pairwise(names):
            cleared = _lookup(index, attribute, f"{before}->{after}", "cleared_false_flags")
            if len(cleared) >= 2:
                listed = ", ".join(
                    f"{g} {_pct(r['value'])}"
                    for g, r in sorted(cleared.items(), key=lambda item: str(item[0]))
                    if r["value"] is not None
                )
                parts.append(f"Of the {before} stage's false flags, the {after} stage cleared: {listed}.")
    suppressed = sum(1 for r in rows if r["metric"] == "n" and r["suppressed"])
    if suppressed:
        parts.append(
            f"{suppressed} group(s) are withheld for disclosure control (--min-cell {spec.min_cell}), each a "
            "small group or one that would give a small one back."
        )
    return " ".join(parts)
