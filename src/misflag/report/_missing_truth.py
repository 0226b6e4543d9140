"""Report section of a decision audit whose truth is known only for some people: the assumption in one
sentence, who has a known truth, each rate's range and each disparity's breakdown value."""

from __future__ import annotations

from typing import Any

from misflag.report._model import OVERALL, Section, TableBlock, Visible, reference_of
from misflag.result import AuditResult


def _share(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def missing_truth_sections(result: AuditResult) -> list[Section]:
    """One section when the audit ran with unknown truths (metadata 'missing_truth'), else none."""
    info: dict[str, Any] | None = result.metadata.get("missing_truth")
    if not info:
        return []
    section = Section("When the truth is known only for some people")
    section.paragraphs.append(_explanation(info))
    section.findings += sorted(
        {f"{c['attribute']} {c['group']}: {c['warning']}." for c in info["coverage"] if c["warning"]}
    )
    section.tables.append(
        TableBlock(
            "Who has a known truth",
            ["attribute", "group", "stage", "flagged: truth known", "not flagged: truth known", "unknown"],
            [
                [
                    c["attribute"],
                    str(c["group"]),
                    c["stage"],
                    _share(c["known_share_flagged"]),
                    _share(c["known_share_not_flagged"]),
                    f"{c['unknown']:,}",
                ]
                for c in info["coverage"]
            ],
        )
    )
    section.tables.append(
        TableBlock(
            "Ranges of the rates",
            ["attribute", "group", "stage", "metric", "range", "95% range"],
            [
                [
                    b["attribute"],
                    str(b["group"]),
                    b["stage"],
                    b["metric"],
                    f"{_share(b['lower'])}–{_share(b['upper'])}",
                    f"{_share(b['ci_low'])}–{_share(b['ci_high'])}",
                ]
                for b in info["bounds"]
            ],
            notes=[info["interval"]],
        )
    )
    if info["breakdown"]:
        section.tables.append(
            TableBlock(
                "How strong would selection have to be to explain a gap away (breakdown value)",
                ["attribute", "group", "versus", "ratio", "delta", "odds ratio"],
                [
                    [
                        b["attribute"],
                        str(b["group"]),
                        str(b["versus"]),
                        b["metric"],
                        _breakdown(b["delta"], "{:.3f}"),
                        _breakdown(b["odds_ratio"], "{:.2f}"),
                    ]
                    for b in info["breakdown"]
                ],
                notes=[
                    "The smallest shift of the unknown people's share who should have been flagged, away from the "
                    "known people's share, at which the ratio's 95% range would include 1. 0: the range includes 1 "
                    "with no shift at all; 'beyond any': the gap holds whatever the unknown truths are."
                ],
            )
        )
    return [section]


def _explanation(info: dict[str, Any]) -> str:
    """What the figures are under this mode, in plain words, with the mode's assumption."""
    if info["mode"] in ("mar", "prevalence"):
        return (
            "Some people's truth is unknown, so error rates are estimates that rest on an assumption: "
            + info["assumption"]
            + " Where a figure cannot be estimated that way it is shown as a worst-case range."
        )
    return (
        "Some people's truth is unknown, so error rates are shown as ranges, not single figures. "
        + info["assumption"]
        + " Each 95% range covers the true rate with 95% probability whatever the unknown truths are"
        + (" (within the assumption)." if info["mode"] == "sensitivity" else ".")
    )


def _breakdown(value: float | None, form: str) -> str:
    return "beyond any" if value is None else form.format(value)


def missing_truth_lead(result: AuditResult, visible: Visible, stage: str) -> str | None:
    """The lead finding when the FPRs are only ranges (bounds, sensitivity): a gap only where the ratio's
    whole 95% range is on one side of 1, said as a range; else that the data cannot tell. None otherwise."""
    info = result.metadata.get("missing_truth") or {}
    if info.get("mode") not in ("bounds", "sensitivity"):
        return None
    held = "whatever the unknown truths are" if info["mode"] == "bounds" else "under the stated assumption"
    for attribute in visible.attributes():
        rows = visible.select(attribute=attribute, stage=stage, metric="fpr_ratio")
        reference = reference_of(rows)
        for row in rows if attribute != OVERALL and reference else []:
            low, high = row["ci_low"], row["ci_high"]
            if row["suppressed"] or row["value"] is not None or low is None or (row["denominator"] or 0) < 30:
                continue
            if low > 1:
                return (
                    f"{row['group']} people who should not have been flagged were flagged {low:.1f} to "
                    f"{'more than 100' if high is None else f'{high:.1f}'} times as often as {reference} people, {held}."
                )
            if high is not None and high < 1:
                top = "more than 100" if low == 0 else f"{1 / low:.1f}"
                return (
                    f"{reference} people who should not have been flagged were flagged {1 / high:.1f} to {top} "
                    f"times as often as {row['group']} people, {held}."
                )
    return "The truth is unknown for some people, so the data cannot tell who is wrongly flagged more often."
