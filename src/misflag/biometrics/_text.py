"""The plain-language summary of a biometric audit: the convention, each threshold, the spread between groups."""

from __future__ import annotations

from typing import Any

from misflag.biometrics._groups import OVERALL
from misflag.biometrics._spec import BiometricSpec
from misflag.result import AuditResult, format_number


def _rate(row: dict[str, Any]) -> str:
    """A rate and its interval in percent, all three at one precision that keeps the interval's width."""
    low, high = row["ci_low"], row["ci_high"]
    if low is None or high is None:
        return format_number(row["value"], row["metric"])
    decimals = next(
        (d for d in range(2, 7) if high <= low or f"{100 * low:.{d}f}" != f"{100 * high:.{d}f}"), 6
    )
    return f"{100 * row['value']:.{decimals}f}% (95% CI {100 * low:.{decimals}f}%–{100 * high:.{decimals}f}%)"


def _select(rows: list[dict[str, Any]], **wanted: str) -> list[dict[str, Any]]:
    """The rows whose every named field has the given value (`AuditResult.select` over rows converted once,
    not once a call: the summary looks up a dozen sets)."""
    return [row for row in rows if all(row[key] == value for key, value in wanted.items())]


def _spread(rows: list[dict[str, Any]], stage: str, metric: str) -> str | None:
    rates = [
        r
        for r in _select(rows, stage=stage, metric=metric)
        if r["attribute"] != OVERALL
        and "×" not in r["attribute"]
        and not r["suppressed"]
        and r["attribute"] != "impostor pairing"
        and r["value"] is not None
    ]
    if len(rates) < 2:
        return None
    high = max(rates, key=lambda r: r["value"])
    low = min(rates, key=lambda r: r["value"])
    if high["value"] == low["value"]:  # never "ranged from 0.00% for Africa to 0.00% for Africa"
        return f"{metric.upper()} by {high['attribute']} was {100 * high['value']:g}% in every group shown."
    text = (
        f"{metric.upper()} by {high['attribute']} ranged from {_rate(low)} for {low['group']} to {_rate(high)} "
        f"for {high['group']}"
    )
    ratio = [
        r for r in _select(rows, stage=stage, metric=f"{metric}_max_min_ratio") if r["value"] is not None
    ]
    if ratio:
        r = ratio[0]
        bounds = (
            f" (95% CI {r['ci_low']:.2f}–{r['ci_high']:.2f})"
            if r["ci_low"] is not None and r["ci_high"] is not None
            else ""
        )
        text += (
            f"; highest over lowest {r['value']:.2f}{bounds}, a ratio that is at least 1 by definition (whether "
            "two groups differ is read from the ratio to the reference group)"
        )
    return text + "."


def summary_text(result: AuditResult, spec: BiometricSpec) -> str:
    """Sentences for the terminal and the report's summary."""
    meta = result.metadata
    rows = result.rows()
    sentences = [f"Convention: {meta['convention']}."]
    for point in meta["operating_points"]:
        stage = point["stage"]
        how = "given" if point["method"] == "given" else point["method"]
        overall = {
            r["metric"]: r
            for r in _select(rows, attribute=OVERALL, stage=stage)
            if r["metric"] in {spec.false_positive, spec.false_negative} and not r["suppressed"]
        }
        figures = "; ".join(
            f"overall {m.upper()} {_rate(overall[m])} of {overall[m]['denominator']:,.0f}"
            for m in (spec.false_positive, spec.false_negative)
            if m in overall
        )
        sentences.append(
            f"At {point['rule']} ({how}): {figures or 'the overall rates are withheld for disclosure control'}."
        )
        for metric in (spec.false_positive, spec.false_negative):
            spread = _spread(rows, stage, metric)
            if spread:
                sentences.append(spread)
    sentences += [f"Warning: {note}." for note in meta.get("warnings", [])]
    sentences.append(
        "Intervals account for comparisons sharing subjects (cluster score and subject jackknife, t quantiles on the "
        "effective number of subjects); rows name where few subjects carry the errors or the comparisons."
        if spec.clustered
        else "Intervals assume independent comparison pairs; give --subject-a and --subject-b to account for "
        "comparisons that share a subject."
    )
    return " ".join(sentences)
