"""Scores compared as stored (`biometrics/_score_type.py`): a FLOAT score in float32, a DECIMAL one exactly.

Each internal threshold the module gives, applied to the scores cast to DOUBLE (as the audit counts),
must count what DuckDB SQL counts with the threshold as written on the column as stored: a FLOAT column
against a decimal literal in float32, a DECIMAL column exactly. Float32 values are written by hand with
`struct`, never read from the code under test. DECIMAL values that one double cannot tell apart on
both sides of a threshold, or a found threshold whose double is not the exact text of the values at it,
are refused in one line.

End to end, the reader applies each printed rule (`score>=0.7`, `score>s`) and a found point's numeric
`threshold` (`score >= threshold`, `<=` for distances) to the Parquet file in DuckDB SQL, and numpy
compares the FLOAT column in float32: the counts must be the published ones.
"""

from __future__ import annotations

import math
import struct
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from misflag.biometrics import audit_biometrics
from misflag.biometrics._scan import check, score_type
from misflag.biometrics._score_type import (
    check_printed,
    float32,
    given_thresholds,
    past,
    printed,
    stored_type,
)
from misflag.biometrics._spec import BiometricSpec
from misflag.cli import main
from misflag.engine import get_engine
from misflag.engine.duckdb import DuckDBEngine
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
        stored = stored_type(score_type(engine, checked))
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
    with pytest.raises(InputError, match=r"distinct DECIMAL values on both sides of the threshold 0\.7 that"):
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


def _published(result: Any, stage: str) -> tuple[int, int]:
    """(false matches, genuine matches) the overall row publishes under one rule."""
    rows = {
        r["metric"]: r
        for r in result.table.to_pylist()
        if r["attribute"] == "overall" and r["stage"] == stage and r["metric"] in ("fmr", "fnmr")
    }
    fmr, fnmr = rows["fmr"], rows["fnmr"]
    genuines = round(float(fnmr["denominator"]))
    return round(float(fmr["value"]) * float(fmr["denominator"])), genuines - round(
        float(fnmr["value"]) * genuines
    )


def _agree(path: Path, result: Any, distance: bool) -> None:
    """Every point's printed rule and numeric threshold give the published counts in SQL."""
    for point in result.metadata["operating_points"]:
        assert _count(path, point["rule"]) == _published(result, point["stage"]), point
        sign = "<=" if distance else ">="
        assert _count(path, f"score {sign} {point['threshold']!r}") == _published(result, point["stage"]), (
            point
        )


@pytest.mark.parametrize("distance", [False, True])
def test_a_float32_score_is_compared_in_float32_given_and_found(distance: bool, tmp_path: Path) -> None:
    """Given 0.7: the 12 impostors and 30 genuines at float32(0.7) match (`score>=0.7`) or are within
    the distance (`score<=0.7`), as SQL and numpy on float32 count them; a target FMR of 0.005 (5 of
    1,000 allowed) finds the rule past the 12 tied impostors, whose `threshold` in float32 lets none
    of them through."""
    path = _write(tmp_path / "f32.parquet", FLOATS)
    result = audit_biometrics(
        str(path),
        score="score",
        genuine="genuine",
        threshold=[0.7],
        target_fmr=[0.005],
        min_cell=1,
        distance=distance,
    )
    given, found = result.metadata["operating_points"]
    assert given["rule"] == ("score<=0.7" if distance else "score>=0.7") and "float32" in given["method"]
    hand = (988 + 12, 30) if distance else (12, 130)  # by the design above: float32(0.7) <= 0.7 in float32
    assert _count(path, given["rule"]) == _published(result, given["stage"]) == hand
    with duckdb.connect() as connection:
        scores = np.asarray(connection.execute(f"SELECT score FROM '{path}'").fetchnumpy()["score"])
    assert scores.dtype == np.float32 and int((scores <= np.float32(0.7)).sum()) == 988 + 12 + 30
    _agree(path, result, distance)
    false_matches, _ = _published(result, found["stage"])
    assert false_matches <= math.floor(Fraction("0.005") * 1000)
    if not distance:  # the 12 ties at float32(0.7) are excluded, the next float32 past them is the threshold
        assert found["rule"] == "score>0.699999988079071" and found["threshold"] == _next_f32(_f32(0.7))


@pytest.mark.parametrize(
    ("level", "distance", "hand"),
    [
        ("0.69999999999999999", False, 0),  # below 0.7 exactly: not a match, though its double is 0.7
        ("0.70000000000000001", False, 12),
        ("0.70000000000000001", True, 988),  # above 0.7 exactly: not within the distance 0.7
        ("0.7", False, 12),
    ],
)
def test_a_decimal_score_is_compared_exactly(level: str, distance: bool, hand: int, tmp_path: Path) -> None:
    path = _write(tmp_path / "dec.parquet", _decimals(level))
    result = audit_biometrics(
        str(path), score="score", genuine="genuine", threshold=[0.7], min_cell=1, distance=distance
    )
    (point,) = result.metadata["operating_points"]
    assert _count(path, point["rule"])[0] == _published(result, point["stage"])[0] == hand
    assert "DECIMAL" in point["method"]


def test_decimals_of_15_digits_find_a_threshold_that_reads_exactly(tmp_path: Path) -> None:
    """Values of at most 15 significant digits are distinct doubles printed as written: a target FMR
    of 0.005 is found past the 12 impostors at 0.7, and its rule and threshold give the published counts."""
    path = _write(tmp_path / "dec.parquet", _decimals("0.7", "0.123456789012345"))
    result = audit_biometrics(str(path), score="score", genuine="genuine", target_fmr=[0.005], min_cell=1)
    (point,) = result.metadata["operating_points"]
    assert point["rule"] == "score>0.7" and _count(path, point["rule"]) == (0, 100)
    _agree(path, result, False)


def test_decimals_one_double_cannot_tell_apart_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """0.69999999999999999 and 0.70000000000000001 are both the double 0.7: a threshold of 0.7 lies
    between them (one line, exit 2, from the command line too), and a target whose order statistic is
    the double 0.7 cannot be printed as either."""
    straddle = _write(tmp_path / "straddle.parquet", _decimals("0.69999999999999999", "0.70000000000000001"))
    with pytest.raises(InputError, match=r"on both sides of the threshold 0\.7"):
        audit_biometrics(str(straddle), score="score", genuine="genuine", threshold=[0.7], min_cell=1)
    capsys.readouterr()
    argv = ["biometrics", "audit", str(straddle), "--score", "score", "--genuine", "genuine"]
    assert main([*argv, "--threshold", "0.7", "--min-cell", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "both sides" in err[0], err
    inexact = _write(tmp_path / "inexact.parquet", _decimals("0.69999999999999999"))
    with pytest.raises(InputError, match="does not write exactly"):
        audit_biometrics(str(inexact), score="score", genuine="genuine", target_fmr=[0.005], min_cell=1)


def test_an_expression_keeps_its_type_and_a_cast_to_double_reads_as_doubles(tmp_path: Path) -> None:
    """`score * 2` over a FLOAT column is FLOAT in DuckDB (compared in float32); `CAST(score AS DOUBLE)`
    is a double (compared as doubles: the 12 at float32(0.7) are below 0.7 there, in SQL too)."""
    path = _write(tmp_path / "f32.parquet", FLOATS)
    doubled = audit_biometrics(str(path), score="score * 2", genuine="genuine", threshold=[1.4], min_cell=1)
    (point,) = doubled.metadata["operating_points"]
    assert _published(doubled, point["stage"]) == _count(path, "score * 2 >= 1.4") == (12, 130)
    cast = audit_biometrics(
        str(path), score="CAST(score AS DOUBLE)", genuine="genuine", threshold=[0.7], min_cell=1
    )
    (point,) = cast.metadata["operating_points"]
    assert _published(cast, point["stage"]) == _count(path, "CAST(score AS DOUBLE) >= 0.7") == (0, 100)


def test_the_score_type_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The score's type (the stored type and whether it is numeric) comes from one `LIMIT 0` query."""
    queries: list[str] = []
    sql = DuckDBEngine.sql

    def counted(self: DuckDBEngine, query: str) -> Any:
        queries.append(query)
        return sql(self, query)

    monkeypatch.setattr(DuckDBEngine, "sql", counted)
    path = _write(tmp_path / "f32.parquet", FLOATS)
    audit_biometrics(str(path), score="score", genuine="genuine", threshold=[0.7], min_cell=1)
    assert sum("LIMIT 0" in query for query in queries) == 1, queries


def test_a_threshold_in_exponent_form_is_printed_as_duckdb_reads_it_in_the_stored_type() -> None:
    """DuckDB reads `1e-05` as a DOUBLE (a FLOAT column is then compared as doubles) and `0.00001` as a
    DECIMAL (compared in float32, or exactly with a DECIMAL column): FLOAT and DECIMAL scores print the
    point form, up to 38 digits, and a FLOAT score's number is the float32 value; doubles are unchanged."""
    assert printed("double", 1e-05) == (1e-05, None) and printed("float32", 0.7) == (0.7, None)
    assert printed("float32", 1e-05) == (_f32(1e-05), "0.00001")
    assert printed("decimal", 1e-05) == (1e-05, "0.00001")
    assert printed("float32", -7e-05) == (_f32(-7e-05), "-0.00007")
    assert printed("float32", 1e16) == (_f32(1e16), "10000000000000000.0")
    assert printed("float32", 1e-40) == (_f32(1e-40), repr(_f32(1e-40)))  # 41 digits: a DOUBLE literal
    assert printed("float32", 1e300) == (1e300, None)  # past every float32 either way
    with duckdb.connect() as connection:
        assert connection.execute("SELECT typeof(0.00001), typeof(1e-05)").fetchone() == (
            "DECIMAL(6,5)",
            "DOUBLE",
        )


def test_a_float32_threshold_in_exponent_form_reads_alike_in_sql_and_numpy(tmp_path: Path) -> None:
    """12 impostors and 100 genuines at float32(1e-05) (just below 1e-05 as a double), 988 impostors at
    1e-06: `score>=1e-05` compares them in float32 in the audit and numpy (12 and 100 match) but as doubles
    in DuckDB (none). The printed rule and number give 12 and 100 in both."""
    path = _write(
        tmp_path / "small.parquet",
        "SELECT CAST(CASE WHEN i < 12 THEN 1e-05 WHEN i < 1000 THEN 1e-06 ELSE 1e-05 END AS FLOAT) AS score, "
        "CAST(i >= 1000 AS INTEGER) AS genuine FROM range(1100) t(i)",
    )
    assert _count(path, "score >= 1e-05") == (0, 0)  # the exponent form, read as a DOUBLE
    result = audit_biometrics(str(path), score="score", genuine="genuine", threshold=[1e-05], min_cell=1)
    (point,) = result.metadata["operating_points"]
    assert point["rule"] == "score>=0.00001" and point["threshold"] == _f32(1e-05)
    assert _published(result, point["stage"]) == _count(path, point["rule"]) == (12, 100)
    _agree(path, result, False)
    with duckdb.connect() as connection:
        frame = connection.execute(f"SELECT score, genuine FROM '{path}'").fetchnumpy()
    scores, genuine = np.asarray(frame["score"]), np.asarray(frame["genuine"]) == 1
    for number in (float(point["rule"].removeprefix("score>=")), point["threshold"]):
        matched = scores >= number  # numpy compares the float32 column in float32
        assert (int((matched & ~genuine).sum()), int((matched & genuine).sum())) == (12, 100)


def _integers(base: int, dtype: str) -> str:
    """6 impostors at `base` and `base` + 1 (3 each), 994 at 1,000, 100 genuines at `base` - 10."""
    return (
        f"SELECT CAST(CASE WHEN i < 6 THEN {base} + i % 2 WHEN i < 1000 THEN 1000 ELSE {base} - 10 END AS "
        f"{dtype}) AS score, CAST(i >= 1000 AS INTEGER) AS genuine FROM range(1100) t(i)"
    )


@pytest.mark.parametrize("dtype", ["BIGINT", "UBIGINT", "DECIMAL(38,0)"])
def test_integers_past_2_to_the_53_are_refused_and_within_it_exact(
    dtype: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """2^53 and 2^53 + 1 are one double: a target FMR of 0.004 (4 of 1,000) found the rule past their
    double, `score>9007199254740992.0`, which SQL reads as letting the 3 at 2^53 + 1 through where 0 were
    published. Such scores stop the audit in one line naming the score and the remedy (exit 2 from the
    command line); the same scores less a constant are distinct doubles: the 5th highest impostor is
    992 (2^53 less it), past which the 3 at 993 match, as SQL counts them."""
    big = _write(tmp_path / "big.parquet", _integers(2**53, dtype))
    assert _count(big, "score > 9007199254740992.0") == (3, 0)  # what the rule was read as
    with pytest.raises(InputError, match=r"'score' holds integers .* 2\^53"):
        audit_biometrics(str(big), score="score", genuine="genuine", target_fmr=[0.004], min_cell=1)
    capsys.readouterr()
    argv = ["biometrics", "audit", str(big), "--score", "score", "--genuine", "genuine", "--min-cell", "1"]
    assert main([*argv, "--target-fmr", "0.004"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "2^53" in err[0] and "'score'" in err[0], err
    shifted = "CAST(score AS BIGINT) - 9007199254740000"  # UBIGINT would underflow at 1,000
    result = audit_biometrics(str(big), score=shifted, genuine="genuine", target_fmr=[0.004], min_cell=1)
    (point,) = result.metadata["operating_points"]
    assert point["rule"] == "score>992.0"  # past 2^53 - 9007199254740000 = 992: the 3 at 993 pass (<= 4)
    assert _published(result, point["stage"]) == _count(big, f"{shifted} > 992") == (3, 0)
    below = _write(tmp_path / "below.parquet", _integers(2**53 - 2, dtype))  # 2^53 - 2, - 1: exact doubles
    result = audit_biometrics(str(below), score="score", genuine="genuine", target_fmr=[0.004], min_cell=1)
    _agree(below, result, False)
