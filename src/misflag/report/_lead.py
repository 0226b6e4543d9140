"""The lead finding: one or two short sentences, in plain words, that a reader sees before any figure.

Written for a reader with no statistics (the Dutch algorithm register's B1 level: short sentences, no
jargon), it is the first line of the report, of the web page and of the terminal summary, so all three
say the same thing first. Every number in it is in the evidence under it, with its interval.

How the lead is chosen, per kind (documented in docs/report.md and, for decisions, docs/decisions.md):
among the comparisons with the reference group whose 95% interval excludes 1 and that rest on at least
30 people (or comparisons) on each side, the one resting on the most people: the gap the data establish
best, not the most extreme one (small groups give the largest ratios by noise). Wrongful flags come
before misses, false matches before false non-matches. Only the rows a report may show are read, so a
withheld group is never named.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from misflag.report._missing_truth import missing_truth_lead
from misflag.report._model import OVERALL, Visible, reference_of, visible_rows
from misflag.result import AuditResult

#: Fewer people (or comparisons) than this on either side: too noisy to lead with (as in the findings).
SMALL_DENOMINATOR = 30
#: What each rate says about a person, as a plain-language template: {higher}, {times}, {lower}.
_SENTENCES = {
    "fpr": "{higher} people who should not have been flagged were flagged {times} as often as {lower} people",
    "fnr": "{higher} people who should have been flagged were missed {times} as often as {lower} people",
    "fmr": "In group {higher}, two different people were wrongly matched {times} as often as in group {lower}",
    "fnmr": "In group {higher}, the same person was wrongly rejected {times} as often as in group {lower}",
}
_NO_GAP = {
    "fpr": "No group was wrongly flagged more often than {reference} by more than chance would explain.",
    "fmr": "No group was wrongly matched more often than group {reference} by more than chance would explain.",
}
_MONITOR_VERBS = {"fpr": "wrongly flagged", "fnr": "missed", "selection_rate": "flagged"}


def times_text(ratio: float) -> str:
    """'almost twice', 'twice', '2.5 times': a ratio as a reader would say it."""
    for whole, word in ((2, "twice"), (3, "three times"), (4, "four times")):
        if whole - 0.15 <= ratio < whole - 0.05:
            return f"almost {word}"
        if whole - 0.05 <= ratio < whole + 0.05:
            return word
    return f"{ratio:.1f} times"


def percent_pair(first: float, second: float) -> tuple[str, str]:
    """Two rates in percent, the smaller (non-zero) one to two significant figures: '45% vs 23%'."""
    smallest = min((abs(v) for v in (first, second) if v), default=1.0)
    decimals = max(0, 1 - math.floor(math.log10(100 * smallest)))
    return f"{100 * first:.{decimals}f}%", f"{100 * second:.{decimals}f}%"


def _clear_gaps(visible: Visible, stage: str, metric: str) -> list[tuple[tuple[float, float], str]]:
    """((people the comparison rests on, size of the gap), sentence) for each clear gap with the reference."""
    out = []
    for attribute in visible.attributes():
        if attribute == OVERALL:
            continue
        ratios = visible.select(attribute=attribute, stage=stage, metric=f"{metric}_ratio")
        rates = {r["group"]: r for r in visible.select(attribute=attribute, stage=stage, metric=metric)}
        reference = reference_of(ratios)
        if reference not in rates or rates[reference]["value"] is None:
            continue
        base = rates[reference]
        for row in ratios:
            rate = rates.get(row["group"])
            if (
                rate is None
                or row["group"] == reference
                or row["suppressed"]
                or not row["value"]
                or rate["value"] is None
                or row["ci_low"] is None
                or row["ci_high"] is None
                or not (row["ci_low"] > 1 or row["ci_high"] < 1)
            ):
                continue
            support = min(rate["denominator"] or 0, base["denominator"] or 0)
            if support < SMALL_DENOMINATOR:
                continue
            higher, lower = (rate, base) if row["value"] > 1 else (base, rate)
            ratio = row["value"] if row["value"] > 1 else 1 / row["value"]
            shown = percent_pair(higher["value"], lower["value"])
            text = _SENTENCES[metric].format(
                higher=higher["group"], times=times_text(ratio), lower=lower["group"]
            )
            out.append(((support, abs(math.log(ratio))), f"{text} ({shown[0]} vs {shown[1]})."))
    return out


def _best_gap(visible: Visible, stage: str, metrics: tuple[str, str]) -> str | None:
    for metric in metrics:
        gaps = _clear_gaps(visible, stage, metric)
        if gaps:
            return max(gaps, key=lambda gap: gap[0])[1]
    return None


def _no_gap(visible: Visible, stage: str, metric: str) -> str | None:
    """'No group was ... more often than REFERENCE by more than chance', only when every shown comparison
    has an interval that includes 1 (an undefined ratio, e.g. against a reference rate of 0, says nothing)."""
    ratios = visible.select(stage=stage, metric=f"{metric}_ratio")
    reference = reference_of(ratios)
    compared = [r for r in ratios if r["group"] != reference and not r["suppressed"]]
    if reference is None or any(r["ci_low"] is None or r["ci_high"] is None for r in compared):
        return None
    return _NO_GAP[metric].format(reference=reference)


def _decisions(result: AuditResult, visible: Visible) -> str | None:
    stages = [s for s in visible.stages() if s != "all" and "->" not in s and not s.startswith("score")]
    if not stages:
        return None
    lead = missing_truth_lead(result, visible, stages[-1]) or _best_gap(visible, stages[-1], ("fpr", "fnr"))
    if lead:
        return lead
    return _no_gap(visible, stages[-1], "fpr")


def _biometrics(result: AuditResult, visible: Visible) -> str | None:
    stages = [s for s in visible.stages() if visible.select(stage=s, metric="fmr")]
    if not stages:
        return None
    stage = stages[0]
    rates = [r for r in visible.select(stage=stage, metric="fmr") if r["value"] is not None]
    if rates and all(r["value"] == 0 for r in rates):
        return "At this threshold, no two different people were wrongly matched, in any group."
    lead = _best_gap(visible, stage, ("fmr", "fnmr"))
    if lead:
        return lead
    return _no_gap(visible, stage, "fmr")


def _day(text: Any) -> str:
    """'21 January 2024' from an ISO timestamp (the text itself if it is not one)."""
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return str(text)
    return f"{moment.day} {moment:%B %Y}"


def _monitor(result: AuditResult, visible: Visible) -> str | None:
    alarms = result.extras.get("alarms")
    spec = result.metadata.get("spec") or {}
    reference = spec.get("reference")
    records = alarms.to_pylist() if alarms is not None else []
    open_ones = [a for a in records if a.get("open")]
    if not open_ones:
        closed = len(records)
        earlier = f" {closed} earlier alarm(s) have closed." if closed else ""
        return f"No alarm is open: no group's error rate has moved out of its band.{earlier}"
    alarm = open_ones[0]
    since = _day(alarm.get("since") or alarm.get("time"))
    if alarm["metric"] == "dismissal_rate":
        return f"Alarm: since about {since}, review has cleared far fewer flags for group {alarm['group']}."
    verb = _MONITOR_VERBS.get(alarm["metric"], alarm["metric"].replace("_", " "))
    side = "more" if alarm.get("side") == "above" else "less"
    return (
        f"Alarm: since about {since}, group {alarm['group']} has been {verb} {side} than "
        f"{alarm['bound']:g} times as often as group {reference}."
    )


def _stage_words(stage: str) -> str:
    """'p>=0.9' as 'a match probability of at least 0.9'; other stages as written."""
    match = re.fullmatch(r"p>=([\d.]+)", stage)
    return f"a match probability of at least {match.group(1)}" if match else stage


def _linkage_audit(result: AuditResult, visible: Visible) -> str | None:
    rows = [
        r for r in visible.select(attribute=OVERALL, metric="wrongful_link_rate") if r["value"] is not None
    ]
    if not rows:
        return None
    row = rows[0]
    people = row["denominator"] or 0
    wrong = round(row["value"] * people)
    return (
        f"{wrong:,} of {people:,.0f} people ({percent_pair(row['value'], 1)[0]}) were linked to someone "
        f"else's record when links need {_stage_words(row['stage'])}."
    )


def _linkage_risk(result: AuditResult, visible: Visible) -> str | None:
    ratios = [r for r in visible.select(metric="ratio_to_min") if r["value"] is not None]
    if not ratios:
        return None
    first = [
        r for r in ratios if (r["attribute"], r["stage"]) == (ratios[0]["attribute"], ratios[0]["stage"])
    ]
    worst = max(first, key=lambda r: r["value"])
    rates = {
        r["group"]: r["value"]
        for r in visible.select(
            attribute=worst["attribute"], stage=worst["stage"], metric="wrongful_match_per_100k"
        )
    }
    least = (worst.get("warning") or "").removeprefix("least affected:").split(";")[0].strip()
    if worst["value"] <= 1 or least not in rates or worst["group"] not in rates:
        return None
    return (
        f"This rule would wrongly match {worst['group']} people {times_text(worst['value'])} as often as "
        f"{least} people ({rates[worst['group']]:.0f} vs {rates[least]:.0f} in every 100,000)."
    )


def _inventory(result: AuditResult, visible: Visible) -> str | None:
    extras = result.extras
    if "scorecard" in extras:
        totals = visible.select(attribute="all", group="all", metric="use_cases_count")
        if not totals:
            return None
        year = max(r["stage"] for r in totals)
        count = next(r["value"] for r in totals if r["stage"] == year)
        high = visible.select(attribute="all", group="all", stage=year, metric="high_impact_count")
        lacking = extras.get("lacking_safeguards")
        missing = (
            sum(1 for r in lacking.to_pylist() if str(r.get("year")) == year) if lacking is not None else None
        )
        if not high or missing is None:
            return None
        return (
            f"In {year}, agencies listed {count:,.0f} AI use cases, and {high[0]['value']:,.0f} of them were "
            f"high-impact. Of those, {missing:,} lack a way to appeal, an independent review, or both."
        )
    if "review_queue" in extras:
        queue = extras["review_queue"].to_pylist()
        cases = len({r.get("uid", (r.get("agency"), r.get("name"))) for r in queue})
        return (
            f"{cases:,} use cases describe matching people, biometrics, targeting or risk scores but are "
            "not marked high-impact. Each one needs a person to read it."
        )
    if "history" in extras:
        changed = sum(1 for r in extras["history"].to_pylist() if r.get("reclassified"))
        return f"{changed:,} use cases changed their impact class from one year to the next."
    return None


_LEADS: dict[str, Callable[[AuditResult, Visible], str | None]] = {
    "decisions": _decisions,
    "biometrics": _biometrics,
    "monitor": _monitor,
    "linkage-audit": _linkage_audit,
    "linkage-risk": _linkage_risk,
    "inventory": _inventory,
}
_FIRST_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


def lead_finding(result: AuditResult, visible: Visible | None = None) -> str:
    """The lead finding of any result: its kind's plain sentence, else the summary's first sentence."""
    visible = visible if visible is not None else visible_rows(result)
    builder = _LEADS.get(result.kind)
    lead = builder(result, visible) if builder else None
    if lead:
        return lead
    return _FIRST_SENTENCE.split(result.summary.strip(), maxsplit=1)[0] if result.summary.strip() else ""
