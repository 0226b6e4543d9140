"""Validation of the missing-truth settings of a decision audit (kept apart from the spec it checks)."""

from __future__ import annotations

import math

from misflag.errors import InputError

MISSING_TRUTH_MODES = ("bounds", "sensitivity", "mar", "prevalence")


def check_missing_truth(
    mode: str | None, delta: float | None, odds_ratio: float | None, weight: str | None
) -> None:
    """One InputError line for any missing-truth setting that is out of range or does not fit the others."""
    if mode is not None and mode not in MISSING_TRUTH_MODES:
        raise InputError(
            f"{{missing_truth}} must be one of {', '.join(MISSING_TRUTH_MODES)}, got {mode!r}"[:200]
        )
    if mode is not None and weight is not None:
        raise InputError(
            "{missing_truth} is for truths missing without a design; with {weight} the unknown truths are "
            "outside an audit sample and the weights already account for them"
        )
    for name, value, low, high in (("delta", delta, 0.0, 1.0), ("odds_ratio", odds_ratio, 1.0, math.inf)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(_number(value)):
            raise InputError(f"{{{name}}} must be a finite number, got {value!r}"[:200])
        if not low <= value <= high:
            limit = "from 0 to 1" if name == "delta" else "at least 1"
            raise InputError(f"{{{name}}} must be {limit}, got {value!r}")
        if mode != "sensitivity":
            raise InputError(f"{{{name}}} is for {{missing_truth}} sensitivity only")
    if mode == "sensitivity" and (delta is None) == (odds_ratio is None):
        raise InputError("{missing_truth} sensitivity needs exactly one of {delta} or {odds_ratio}")


def _number(value: float) -> float:
    """The value as a float; an integer too large for one reads as infinite (refused, not an OverflowError)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def check_strata(mode: str | None, strata: tuple[str, ...], groups: tuple[str, ...]) -> None:
    """Strata are for {missing_truth} mar or sensitivity, each given once and not also a group (a group is a
    stratum already)."""
    if strata and mode not in ("mar", "sensitivity"):
        raise InputError("{strata} is for {missing_truth} mar or sensitivity only")
    if len(set(strata)) != len(strata):
        raise InputError("each {strata} expression may be given only once")
    if set(strata) & set(groups):
        raise InputError("a {strata} expression is also a {groups} expression: groups are strata already")


def check_prevalence(mode: str | None, prevalence: tuple[str, ...]) -> None:
    """--prevalence goes with {missing_truth} prevalence, and that mode needs it; each value must parse."""
    if prevalence and mode != "prevalence":
        raise InputError("{prevalence} is for {missing_truth} prevalence only")
    if mode == "prevalence" and not prevalence:
        raise InputError(
            "{missing_truth} prevalence needs {prevalence} GROUP=RATE[:LOW-HIGH] for every group"
        )
    for text in prevalence:
        parse_prevalence(text)


def parse_prevalence(text: str) -> tuple[str, float, float, float]:
    """`GROUP=RATE` or `GROUP=RATE:LOW-HIGH` as (group, rate, low, high); InputError in one line otherwise."""
    group, separator, value = text.rpartition("=")
    rate_text, colon, band = value.partition(":")
    low_text, dash, high_text = band.partition("-")
    try:
        rate = float(rate_text)
        low, high = (float(low_text), float(high_text)) if colon else (rate, rate)
    except ValueError:
        raise InputError(
            f"{{prevalence}} must be GROUP=RATE or GROUP=RATE:LOW-HIGH, got {text[:80]!r}"
        ) from None
    if not separator or not group.strip() or (colon and not dash):
        raise InputError(f"{{prevalence}} must be GROUP=RATE or GROUP=RATE:LOW-HIGH, got {text[:80]!r}")
    if not all(math.isfinite(v) for v in (rate, low, high)) or not 0 < low <= rate <= high < 1:
        raise InputError(
            f"{{prevalence}} for {group.strip()[:40]!r} needs 0 < LOW <= RATE <= HIGH < 1, got {value[:40]!r}"
        )
    return group.strip(), rate, low, high
