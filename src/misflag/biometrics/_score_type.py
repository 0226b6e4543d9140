"""Scores compared as they are stored, so that a printed rule applied by a reader gives the published counts.

The audit counts in doubles (`s`, the score cast to DOUBLE, negated for distances). A reader applying a
printed rule such as `score>=0.7` compares the column as stored: a FLOAT (float32) score in float32,
the threshold rounded to float32 (DuckDB casts a decimal literal to FLOAT, numpy a Python float to
float32), and a DECIMAL score exactly. So:

- FLOAT: every float32 is exactly a double, so a given threshold T applies as the double float32(T)
  (0.7 as 0.699999988079071), and a found threshold is the next float32 past its order statistic (the
  next double would round back to the statistic in float32 and let its ties through);
- DECIMAL: a value and its double are ordered alike except where several values round to one double.
  Only the values whose double is the threshold's can be misread: they are read back (their least and
  greatest) and compared with the threshold as written, exactly; the threshold moves to the next double
  when none of them matches, and the audit is refused in one line when some do and some do not. A found
  threshold (or the lowest score, where every comparison may match) is printed as the shortest text of
  a double: it is refused unless every value at that double is exactly that text; an EER threshold is
  kept, or moved to the double below, where the rule `score >= t` then counts what the EER did (else
  the audit is refused);
- any other type is read as doubles, as before.
"""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Literal, TypeVar

import numpy as np
import pyarrow as pa

from misflag.biometrics._scan import Checked, base_sql
from misflag.biometrics._spec import BiometricSpec
from misflag.biometrics._thresholds import Eer, OperatingPoint
from misflag.engine import Engine
from misflag.errors import InputError

Stored = Literal["float32", "decimal", "double"]
K = TypeVar("K")
#: The largest finite float32, as a double: a threshold past it matches no float32 score.
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: The most digits DuckDB reads as a DECIMAL literal (more: a DOUBLE).
DECIMAL_DIGITS = 38


def stored_type(kind: pa.DataType) -> Stored:
    """How the score expression's values are stored, from its type (`_scan.score_type`)."""
    if pa.types.is_float32(kind):
        return "float32"
    return "decimal" if pa.types.is_decimal(kind) else "double"


def note(stored: Stored) -> str:
    """What an operating point's method says of the comparison (nothing for doubles)."""
    if stored == "float32":
        return "; a FLOAT score, compared in float32 as stored (each threshold rounded to float32)"
    return "; a DECIMAL score, compared exactly" if stored == "decimal" else ""


def float32(value: float) -> float:
    """`value` rounded to the nearest float32, as a double; past the float32 range, a double beyond every
    finite float32 (the comparison is the same, and the SQL keeps a finite number)."""
    with np.errstate(over="ignore"):
        rounded = float(np.float32(value))
    if math.isinf(rounded):
        return math.copysign(float(np.nextafter(FLOAT32_MAX, math.inf)), rounded)
    return rounded


def given_thresholds(engine: Engine, spec: BiometricSpec, checked: Checked, stored: Stored) -> list[float]:
    """The spec's given thresholds in internal units (minus a distance), as the reader compares the score
    with each as written: rounded to float32 for a FLOAT score, moved to the next double for a DECIMAL
    score whose values at its double all lie on the other side of it (InputError when they straddle it)."""
    internal = [-t if spec.distance else t for t in spec.thresholds]
    if stored == "float32":
        return [float32(t) for t in internal]
    if stored == "double" or not internal:
        return internal
    found = _values_at(engine, spec, checked, internal)
    out = []
    for t, given, (low, high) in zip(internal, spec.thresholds, found, strict=True):
        matches = _counted(spec, given, (low, high))  # none where no value rounds to the threshold
        if all(matches):
            out.append(t)
        elif not any(matches):
            out.append(float(np.nextafter(t, math.inf)))
        else:
            raise InputError(
                f"{{score}} holds distinct DECIMAL values on both sides of the threshold {given!r} that are "
                "one double: they cannot be told apart in the audit; round the score to 15 significant digits"
            )
    return out


def given_points(spec: BiometricSpec, stored: Stored, given: list[float]) -> list[OperatingPoint]:
    """The operating points of the given thresholds (`given`: as `given_thresholds` makes them), each
    printed as `printed` says."""
    points = []
    for internal, written in zip(given, spec.thresholds, strict=True):
        number, text = printed(stored, written)
        points.append(OperatingPoint(internal, "given" + note(stored), written=number, text=text))
    return points


def printed(stored: Stored, value: float) -> tuple[float, str | None]:
    """A given threshold as the output prints it: its number and, where it is not the number's repr, the
    text of the rule.

    DuckDB types a literal written with a point and at most 38 digits as DECIMAL, compared with a FLOAT
    column in float32 and with a DECIMAL one exactly; in exponent form (`1e-05`) it is a DOUBLE, and the
    column is compared as doubles. So for a FLOAT or DECIMAL score the rule writes a threshold whose repr
    has an exponent with a point and its digits (`score>=0.00001`); past 38 digits, a FLOAT score's
    threshold is written as its float32 value, which a double and a float32 comparison read alike (a
    threshold past the float32 range as given: no float32 reaches it either way). A FLOAT score's number
    in exponent form is its float32 value for the same reason; doubles print as given (unchanged).
    """
    text = repr(value)
    if stored == "double" or "e" not in text:
        return value, None
    rounded = float32(value)
    exact = stored == "float32" and abs(rounded) <= FLOAT32_MAX
    positional = format(Decimal(text), "f")
    positional += "" if "." in positional else ".0"
    if sum(c.isdigit() for c in positional) <= DECIMAL_DIGITS:
        return (rounded if exact else value), positional
    return (rounded, repr(rounded)) if exact else (value, None)


def past(stored: Stored, statistic: float) -> float:
    """The internal threshold just past an order statistic: the next float32 for a FLOAT score (the
    next double would be read back as the statistic in float32), the next double otherwise."""
    if stored == "float32":
        return float(np.nextafter(np.float32(statistic), np.float32(math.inf)))
    return float(np.nextafter(statistic, math.inf))


def check_printed(
    engine: Engine, spec: BiometricSpec, checked: Checked, stored: Stored, internal: float
) -> None:
    """For a DECIMAL score, refuse a threshold the audit found at the double `internal` (an order
    statistic, or the lowest score) unless every value at that double is exactly the text the rule
    prints: otherwise a reader would count values the audit did not."""
    if stored != "decimal":
        return
    shown = -internal if spec.distance else internal
    ((low, high),) = _values_at(engine, spec, checked, [internal])
    written = Fraction(repr(shown))
    if low is not None and high is not None and not Fraction(low) == Fraction(high) == written:
        raise InputError(
            f"{{score}} holds DECIMAL values at the found threshold's double {shown!r} that it does not "
            "write exactly: a rule printed with it would count other comparisons; round the score to 15 "
            "significant digits"
        )


def printed_eers(
    engine: Engine, spec: BiometricSpec, checked: Checked, stored: Stored, eers: dict[K, Eer]
) -> dict[K, Eer]:
    """The EERs with each threshold (a double of the audit's curves, counted as s >= t) as printed, so that
    the rule `score >= threshold` (`<=` for distances) counts what the EER counted. For a DECIMAL score
    the values at t's double are compared with it as written: kept when the rule counts them all, and
    when it counts none, the threshold moves to the double below t, where the rule must count no value;
    InputError otherwise (an EER is a point of the curves: it cannot move past its own values)."""
    unique = sorted({eer.threshold for eer in eers.values()})
    if stored != "decimal" or not unique:
        return eers
    below = [float(np.nextafter(t, -math.inf)) for t in unique]
    found = _values_at(engine, spec, checked, unique + below)
    moved = {}
    for t, u, at, under in zip(unique, below, found[: len(unique)], found[len(unique) :], strict=True):
        shown, lower = (-t, -u) if spec.distance else (t, u)
        counted = _counted(spec, shown, at)
        if all(counted):
            moved[t] = t
        elif not any(counted) and not any(_counted(spec, lower, under)):
            moved[t] = u
        else:
            raise InputError(
                f"{{score}} holds distinct DECIMAL values at the EER threshold {shown!r} (one double) that "
                "no printed threshold counts as the EER does; round the score to 15 significant digits"
            )
    return {key: replace(eer, threshold=moved[eer.threshold]) for key, eer in eers.items()}


def _counted(
    spec: BiometricSpec, threshold: float, values: tuple[Decimal | None, Decimal | None]
) -> list[bool]:
    """Whether a rule `score >= threshold` (`<=` for distances), the threshold as written, counts each of
    the values, compared exactly (none where no value is at the threshold's double)."""
    written = Fraction(repr(threshold))
    present = [Fraction(v) for v in values if v is not None]
    return [v <= written if spec.distance else v >= written for v in present]


def _values_at(
    engine: Engine, spec: BiometricSpec, checked: Checked, internal: list[float]
) -> list[tuple[Decimal | None, Decimal | None]]:
    """(least, greatest) score as stored among the comparisons whose double is each internal value (the
    rows at none of them are dropped before the aggregates look at them)."""
    items = [
        f"MIN(raw) FILTER (WHERE s = {t!r}) AS low{j}, MAX(raw) FILTER (WHERE s = {t!r}) AS high{j}"
        for j, t in enumerate(internal)
    ]
    source = base_sql(spec, checked, raw=True)
    wanted = ", ".join(repr(t) for t in internal)
    row = engine.sql(f"SELECT {', '.join(items)} FROM ({source}) WHERE s IN ({wanted})").to_pylist()[0]
    return [(row[f"low{j}"], row[f"high{j}"]) for j in range(len(internal))]
