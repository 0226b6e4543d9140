"""Report section of a decision audit whose truth is known only for some people: the assumption in one
sentence, who has a known truth, each rate's range and each disparity's breakdown value."""

from __future__ import annotations

from typing import Any

from misflag.report._model import Section, TableBlock
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
