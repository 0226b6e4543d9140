"""Scores compared as stored (`biometrics/_score_type.py`): a FLOAT score in float32, a DECIMAL one exactly.

Each internal threshold the module gives, applied to the scores cast to DOUBLE (as the audit counts),
must count what DuckDB SQL counts with the threshold as written on the column as stored: a FLOAT column
against a decimal literal in float32, a DECIMAL column exactly. Float32 values are written by hand with
`struct`, never read from the code under test. DECIMAL values that one double cannot tell apart on
both sides of a threshold, or a found threshold whose double is not the exact text of the values at it,
are refused in one line.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import duckdb
import pytest

from misflag.biometrics._scan import check
from misflag.biometrics._score_type import check_printed, float32, given_thresholds, past, stored_type
from misflag.biometrics._spec import BiometricSpec
from misflag.engine import get_engine
from misflag.errors import InputError
from misflag.io import load_input


def _f32(value: float) -> float:
    """`value` rounded to float32 by the C library, as a double."""
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def _next_f32(value: float) -> float:
    """The next float32 above a positive float32, by its bit pattern plus one."""
    (bits,) = struct.unpack("<I", struct.pack("<f", value))
    return float(struct.unpack("<f", struct.pack("<I", bits + 1))[0])


def _write(path: Path, select: str) -> Path:
    with duckdb.connect() as connection:
        connection.execute(f"COPY ({select}) TO '{path}' (FORMAT PARQUET)")
    return path


def _count(path: Path, condition: str) -> tuple[int, int]:
    """(impostors, genuines) meeting `condition` in DuckDB SQL on the file as stored."""
    with duckdb.connect() as connection:
        found = connection.execute(
            f"SELECT count(*) FILTER (WHERE genuine = 0 AND ({condition})), "
            f"count(*) FILTER (WHERE genuine = 1 AND ({condition})) FROM read_parquet('{path}')"
        ).fetchone()
    assert found is not None
    return int(found[0]), int(found[1])


def test_float32_rounding_and_the_next_float32_by_hand() -> None:
    assert float32(0.7) == _f32(0.7) == 0.699999988079071 and float32(-0.7) == -_f32(0.7)
    assert past("float32", _f32(0.7)) == _next_f32(_f32(0.7)) > _f32(0.7)
    assert past("double", 1.0) == 1.0 + 2.0**-52
    top = _f32(3.4028234663852886e38)  # the largest float32
    assert float32(1e300) > top and float32(-1e300) < -top and math.isfinite(float32(1e300))


#: 12 impostors at float32(0.7) (0.699999988...), 988 at 0.1, 100 genuines at 0.9 and 30 at 0.7
FLOATS = (
    "SELECT CAST(CASE WHEN i < 12 THEN 0.7 WHEN i < 1000 THEN 0.1 WHEN i < 1100 THEN 0.9 ELSE 0.7 END "
    "AS FLOAT) AS score, CAST(i >= 1000 AS INTEGER) AS genuine FROM range(1130) t(i)"
)


def _decimals(level: str, more: str = "0.1") -> str:
    """12 impostors at `level` (DECIMAL(18,17)), 988 at `more`, 100 genuines at 0.9."""
    return (
        f"SELECT CAST(CASE WHEN i < 12 THEN {level} WHEN i < 1000 THEN {more} ELSE 0.9 END AS DECIMAL(18,17)) "
        "AS score, CAST(i >= 1000 AS INTEGER) AS genuine FROM range(1100) t(i)"
    )


def _internal(
    path: Path, thresholds: list[float], distance: bool = False, score: str = "score"
) -> tuple[str, list[float]]:
    """The stored type and the internal thresholds `_score_type` gives on one file, on DuckDB."""
    spec = BiometricSpec(score=score, genuine="genuine", thresholds=tuple(thresholds), distance=distance)
    engine = get_engine("duckdb")
    try:
        checked = check(spec, load_input(engine, str(path)).columns)
        stored = stored_type(engine, checked)
        return stored, given_thresholds(engine, spec, checked, stored)
    finally:
        engine.close()


@pytest.mark.parametrize("distance", [False, True])
@pytest.mark.parametrize(
    ("select", "expected"),
    [
        (FLOATS, "float32"),
        (_decimals("0.69999999999999999"), "decimal"),
        (_decimals("0.70000000000000001"), "decimal"),
        (_decimals("0.7", "0.123456789012345"), "decimal"),
    ],
)
def test_each_internal_threshold_counts_in_doubles_what_sql_counts_as_stored(
    select: str, expected: str, distance: bool, tmp_path: Path
) -> None:
    """`s >= t` over the scores cast to DOUBLE (minus them for distances) counts, for each threshold
    given, what `score >= T` (`score <= T`) counts in SQL on the column as stored."""
    path = _write(tmp_path / "scores.parquet", select)
    given = [0.7, 0.1, 0.9, 0.123456789012345, 1e300]
    stored, internal = _internal(path, given, distance)
    assert stored == expected
    for written, t in zip(given, internal, strict=True):
        double = f"-CAST(score AS DOUBLE) >= {t!r}" if distance else f"CAST(score AS DOUBLE) >= {t!r}"
        reader = f"score {'<=' if distance else '>='} {written!r}"
        assert _count(path, double) == _count(path, reader), (written, t)


def test_the_thresholds_by_hand(tmp_path: Path) -> None:
    """float32(0.7) for a FLOAT score; the next double past 0.7 where the only DECIMAL at the double 0.7
    is 0.69999999999999999, below 0.7 as written; 0.7 itself where it is 0.70000000000000001; and for a
    DOUBLE expression, as given."""
    floats = _write(tmp_path / "f32.parquet", FLOATS)
    assert _internal(floats, [0.7]) == ("float32", [_f32(0.7)])
    assert _internal(floats, [0.7], distance=True) == ("float32", [-_f32(0.7)])
    assert _internal(floats, [0.7], score="CAST(score AS DOUBLE)") == ("double", [0.7])
    below = _write(tmp_path / "below.parquet", _decimals("0.69999999999999999"))
    assert _internal(below, [0.7]) == ("decimal", [0.7000000000000001])
    above = _write(tmp_path / "above.parquet", _decimals("0.70000000000000001"))
    assert _internal(above, [0.7]) == ("decimal", [0.7])
    assert _internal(above, [0.7], distance=True) == ("decimal", [-0.7 + 2.0**-53])


def test_straddling_decimals_and_an_inexact_printed_threshold_are_refused(tmp_path: Path) -> None:
    straddle = _write(tmp_path / "straddle.parquet", _decimals("0.69999999999999999", "0.70000000000000001"))
    with pytest.raises(InputError, match=r"0\.69999999999999999 and 0\.70000000000000001, on both sides"):
        _internal(straddle, [0.7])
    spec = BiometricSpec(score="score", genuine="genuine", thresholds=(0.5,))
    for level, refused in (("0.69999999999999999", True), ("0.7", False)):
        path = _write(tmp_path / "printed.parquet", _decimals(level))
        engine = get_engine("duckdb")
        try:
            checked = check(spec, load_input(engine, str(path)).columns)
            if refused:
                with pytest.raises(InputError, match="does not write exactly"):
                    check_printed(engine, spec, checked, "decimal", 0.7)
            else:
                check_printed(engine, spec, checked, "decimal", 0.7)  # 0.7 is written exactly: no error
        finally:
            engine.close()
