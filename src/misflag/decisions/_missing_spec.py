"""Validation of the missing-truth settings of a decision audit (kept apart from the spec it checks), and
the command line's prevalence file (`--prevalence @FILE`), read into the spec's GROUP=RATE:LOW-HIGH values."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from misflag._text import shown
from misflag.errors import InputError, literal

MISSING_TRUTH_MODES = ("bounds", "sensitivity", "mar", "prevalence")


def check_missing_truth(
    mode: str | None, delta: float | None, odds_ratio: float | None, weight: str | None
) -> None:
    """One InputError line for any missing-truth setting that is out of range or does not fit the others."""
    if mode is not None and mode not in MISSING_TRUTH_MODES:
        raise InputError(
            f"{{missing_truth}} must be one of {', '.join(MISSING_TRUTH_MODES)}, got {literal(shown(mode))}"
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
            raise InputError(f"{{{name}}} must be a finite number, got {literal(shown(value))}")
        if not low <= value <= high:
            limit = "from 0 to 1" if name == "delta" else "at least 1"
            raise InputError(f"{{{name}}} must be {limit}, got {shown(value)}")
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


def is_prevalence_file(text: str) -> bool:
    """`@PATH`: an item that starts with @ and has no = (a group named @x is still given as @x=RATE)."""
    return text.startswith("@") and "=" not in text


def parse_prevalence(text: str) -> tuple[str, float, float, float]:
    """`GROUP=RATE` or `GROUP=RATE:LOW-HIGH` as (group, rate, low, high); InputError in one line otherwise."""
    if is_prevalence_file(text):
        raise InputError(
            f"{{prevalence}} {literal(shown(text))} names a file: only the command line reads one "
            "(--prevalence @FILE); here give GROUP=RATE[:LOW-HIGH] values"
        )
    group, separator, value = text.rpartition("=")
    rate_text, colon, band = value.partition(":")
    low_text, dash, high_text = band.partition("-")
    try:
        rate = float(rate_text)
        low, high = (float(low_text), float(high_text)) if colon else (rate, rate)
    except ValueError:
        raise InputError(
            f"{{prevalence}} must be GROUP=RATE or GROUP=RATE:LOW-HIGH, got {literal(shown(text))}"
        ) from None
    if not separator or not group.strip() or (colon and not dash):
        raise InputError(
            f"{{prevalence}} must be GROUP=RATE or GROUP=RATE:LOW-HIGH, got {literal(shown(text))}"
        )
    if not all(math.isfinite(v) for v in (rate, low, high)) or not 0 < low <= rate <= high < 1:
        raise InputError(
            f"{{prevalence}} for {literal(shown(group.strip()))} needs 0 < LOW <= RATE <= HIGH < 1, "
            f"got {literal(shown(value))}"
        )
    return group.strip(), rate, low, high


#: A prevalence file is a short table (one row per group): larger ones are refused before parsing.
MAX_PREVALENCE_FILE_BYTES = 1 << 20
PREVALENCE_COLUMNS = ["group", "rate", "low", "high"]


def expand_prevalence_files(items: Sequence[str]) -> tuple[str, ...]:
    """The command line's --prevalence values with each `@FILE` replaced by its rows as GROUP=RATE:LOW-HIGH."""
    out: list[str] = []
    for item in items:
        out += read_prevalence_file(_user_path(item[1:])) if is_prevalence_file(item) else [item]
    return tuple(out)


def _user_path(text: str) -> Path:
    """The path with a leading ~ expanded (the shell leaves @~/x alone); an unknown ~user stays as written."""
    try:
        return Path(text).expanduser()
    except RuntimeError:
        return Path(text)


def read_prevalence_file(path: Path) -> list[str]:
    """A CSV with header group,rate,low,high (low and high both blank: the rate is exact), one row per group,
    as GROUP=RATE:LOW-HIGH values; every row is checked, and a bad one is one InputError line naming it."""
    named = literal(shown(str(path)))
    if not str(path).strip() or not path.is_file():
        raise InputError(f"{{prevalence}} file {named} is not a readable file")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_PREVALENCE_FILE_BYTES + 1)
    except OSError as problem:
        raise InputError(f"{{prevalence}} file {named} cannot be read: {type(problem).__name__}") from None
    if len(raw) > MAX_PREVALENCE_FILE_BYTES:
        raise InputError(f"{{prevalence}} file {named} is larger than 1 MiB (one row per group is expected)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{{prevalence}} file {named} is not UTF-8 text") from None
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
    except csv.Error as problem:
        raise InputError(f"{{prevalence}} file {named} is not valid CSV: {str(problem)[:80]}") from None
    if not rows or [cell.strip().lower() for cell in rows[0]] != PREVALENCE_COLUMNS:
        raise InputError(f"{{prevalence}} file {named} must start with the header group,rate,low,high")
    values: list[str] = []
    seen: set[str] = set()
    for number, row in enumerate(rows[1:], start=2):
        values.append(_prevalence_row(row, f"{{prevalence}} file {named} row {number}", seen))
    if not values:
        raise InputError(f"{{prevalence}} file {named} has no rows after its header")
    return values


def _prevalence_row(row: list[str], where: str, seen: set[str]) -> str:
    """One file row as GROUP=RATE:LOW-HIGH, written so that parse_prevalence reads the same numbers back."""
    if len(row) != len(PREVALENCE_COLUMNS):
        raise InputError(f"{where} has {len(row)} fields, not 4 (group,rate,low,high)")
    group, *numbers = (cell.strip() for cell in row)
    if not group:
        raise InputError(f"{where} has no group")
    if group in seen:
        raise InputError(f"{where} gives group {literal(shown(group))} a second time")
    seen.add(group)
    if (numbers[1] == "") != (numbers[2] == ""):
        raise InputError(f"{where} gives one of low and high: give both, or neither for an exact rate")
    try:
        rate, low, high = (float(cell) for cell in (numbers if numbers[1] else [numbers[0]] * 3))
    except ValueError:
        raise InputError(
            f"{where}: rate, low and high must be numbers, got {literal(shown(','.join(numbers)))}"
        ) from None
    if not all(math.isfinite(v) for v in (rate, low, high)) or not 0 < low <= rate <= high < 1:
        raise InputError(
            f"{where} needs 0 < low <= rate <= high < 1, got {literal(shown(','.join(numbers)))}"
        )
    rate_text, low_text, high_text = (format(Decimal(repr(v)), "f") for v in (rate, low, high))
    return f"{group}={rate_text}:{low_text}-{high_text}"
