"""The scores' span: their least and greatest value, and the checks that a histogram over it bins exactly.

Read by one query before the scan's aggregate; an audit stops here (InputError) when nothing is left to
audit, when no score is a number, or when the span cannot be binned or counted exactly in doubles.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from misflag._text import shown
from misflag.biometrics._spec import BiometricSpec
from misflag.engine import Engine
from misflag.errors import InputError, literal


def score_span(engine: Engine, spec: BiometricSpec, source: str, kind: pa.DataType) -> tuple[float, float]:
    """The histogram's lower edge (least s in `source`, the comparisons' SQL `_scan.base_sql`) and its bins
    per score unit, for a score of type `kind`; InputError where its counts could not be exact."""
    lo, hi = _score_range(engine, spec, source)
    _exact_integers(spec, kind, max(-lo, hi))
    return lo, _bins_per_unit(spec, lo, hi)


def _score_range(engine: Engine, spec: BiometricSpec, source: str) -> tuple[float, float]:
    row = engine.sql(
        f"SELECT COUNT(*) AS n, COUNT(s) AS scored, MIN(s) AS lo, MAX(s) AS hi FROM ({source})"
    ).to_pylist()[0]
    if not row["n"]:
        raise InputError("no comparisons are left to audit (is {where} filtering out everything?)")
    if not row["scored"] and spec.search:  # NULL is a search without a candidate: valid, but nothing to rank
        raise InputError(
            "no search returned a candidate ({score} is NULL in every row): FPIR is 0 and FNIR 1 at every "
            "threshold, and no threshold or EER can be found"
        )
    if not row["scored"]:
        raise InputError("{score} is NULL or not a number in every row")
    if not (np.isfinite(row["lo"]) and np.isfinite(row["hi"])):
        raise InputError("{score} has NaN or infinite values; filter them with {where}")
    return float(row["lo"]), float(row["hi"])


def _bins_per_unit(spec: BiometricSpec, lo: float, hi: float) -> float:
    """The histogram's scale (bins per internal score unit); InputError where the scores' span overflows a
    double (scores near +-1e308) or is so small that the scale does (subnormal scores): neither bins."""
    if hi == lo:
        return 1.0
    scale = spec.bins / (hi - lo)
    if not (np.isfinite(hi - lo) and np.isfinite(scale) and scale > 0):
        low, high = (-hi, -lo) if spec.distance else (lo, hi)  # as given, not negated
        raise InputError(
            f"{{score}} runs from {low!r} to {high!r}, a span a double cannot bin; rescale the scores "
            "(multiply or divide them by a positive constant: the rates do not change)"
        )
    return scale


def _exact_integers(spec: BiometricSpec, kind: pa.DataType, largest: float) -> None:
    """InputError where a 64-bit or wider integer score (a HUGEINT is a DECIMAL of scale 0) reaches 2^53 in
    magnitude: neighbouring integers are one double there, so counts in doubles could not be exact."""
    wide = (
        pa.types.is_int64(kind) or pa.types.is_uint64(kind) or (pa.types.is_decimal(kind) and kind.scale == 0)
    )
    if wide and largest >= 2**53:
        raise InputError(
            f"{{score}} {literal(shown(spec.score))} holds integers up to about {largest:,.0f} in magnitude, past "
            f"2^53 ({2**53:,}), where neighbouring integers are one double and counts would not be exact; "
            "subtract a constant near its least value in {score}, or CAST it to DOUBLE to compare rounded"
        )
