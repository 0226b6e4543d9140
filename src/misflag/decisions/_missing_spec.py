"""Validation of the missing-truth settings of a decision audit (kept apart from the spec it checks)."""

from __future__ import annotations

import math

from misflag.errors import InputError

MISSING_TRUTH_MODES = ("bounds", "sensitivity")


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
