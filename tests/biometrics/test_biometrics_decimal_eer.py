"""The EER threshold of a DECIMAL score reads as printed (`biometrics/_score_type.printed_eers`).

The audit counts in doubles; a reader applies `score >= t` (`score <= t` for distances) with the EER
threshold t as printed, and DuckDB compares a DECIMAL column with it exactly. Two distinct DECIMAL(38,30)
values 1e-25 apart are one double. Where the reader's rule at t counts every value at t's double, t is
printed; where it counts none, t moves one double (as a given threshold does), to where it counts what
the EER counted; where it counts some, the audit stops in one line (exit 2 from the command line). Each
published EER is checked against the rates a reader counts at its threshold: DuckDB SQL on the file,
in exact decimals.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from misflag.biometrics import audit_biometrics
from misflag.cli import main
from misflag.errors import InputError

#: 0.5 - 1e-25 and 0.5 + 1e-25: distinct in DECIMAL(38,30), both the double 0.5.
BELOW, ABOVE = "0.4999999999999999999999999", "0.5000000000000000000000001"
DECIMAL = "::DECIMAL(38,30)"


def _write(path: Path, impostors: list[str], genuines: list[str]) -> Path:
    """A Parquet file of DECIMAL(38,30) scores, written by DuckDB from the decimal texts."""
    rows = [f"({v}{DECIMAL}, 0)" for v in impostors] + [f"({v}{DECIMAL}, 1)" for v in genuines]
    with duckdb.connect() as connection:  # the two are apart as decimals, one double
        apart = (
            f"SELECT {BELOW}{DECIMAL} < {ABOVE}{DECIMAL}, {BELOW}{DECIMAL}::DOUBLE = {ABOVE}{DECIMAL}::DOUBLE"
        )
        assert connection.execute(apart).fetchone() == (True, True)
        connection.execute(
            f"COPY (SELECT * FROM (VALUES {', '.join(rows)}) AS t(score, genuine)) TO '{path}' (FORMAT PARQUET)"
        )
    return path


def _reader_rates(path: Path, threshold: float, distance: bool) -> tuple[float, float]:
    """(FMR, FNMR) a reader counts with the rule `score >= threshold` (`<=` for distances), the threshold
    written as its repr, on the DECIMAL column in DuckDB SQL: exact decimal comparisons."""
    match = "<=" if distance else ">="
    with duckdb.connect() as connection:
        row = connection.execute(
            f"SELECT AVG(CAST(score {match} {threshold!r} AS INTEGER)) FILTER (WHERE genuine = 0), "
            f"AVG(CAST(NOT score {match} {threshold!r} AS INTEGER)) FILTER (WHERE genuine = 1) FROM '{path}'"
        ).fetchone()
    assert row is not None
    return float(row[0]), float(row[1])


# Similarity: the impostor just below 0.5 is counted at the EER threshold 0.5 by the audit (its double is
# 0.5), not by a reader's score >= 0.5. Distance: the impostor just above 0.5, against score <= 0.5.
STRADDLING = [
    (False, ["0.1", "0.2", "0.3", "0.4", BELOW], ["0.5", "0.6", "0.7", "0.8", "0.9"]),
    (True, ["0.9", "0.8", "0.7", "0.6", ABOVE], ["0.5", "0.4", "0.3", "0.2", "0.1"]),
]


@pytest.mark.parametrize(("distance", "impostors", "genuines"), STRADDLING)
def test_an_eer_threshold_a_reader_counts_otherwise_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    distance: bool,
    impostors: list[str],
    genuines: list[str],
) -> None:
    """A reader at the double 0.5 sees no false match and no miss (the decimals are apart), the audit
    one false match in 5 (EER 0.1): refused, one line, naming the EER threshold and none of the values
    (they may be a withheld group's)."""
    path = _write(tmp_path / "straddle.parquet", impostors, genuines)
    assert _reader_rates(path, 0.5, distance) == (0.0, 0.0)  # the audit's counts there: (0.2, 0.0)
    with pytest.raises(InputError, match=r"distinct DECIMAL values at the EER threshold 0\.5\b") as refused:
        audit_biometrics(
            str(path), score="score", genuine="genuine", threshold=[0.3], min_cell=1, distance=distance
        )
    assert BELOW[:12] not in str(refused.value) and ABOVE[:12] not in str(refused.value)
    capsys.readouterr()
    argv = ["biometrics", "audit", str(path), "--score", "score", "--genuine", "genuine", "--min-cell", "1"]
    assert main([*argv, "--threshold", "0.3", *(["--distance"] if distance else [])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "EER threshold" in err[0], err


def test_an_eer_threshold_every_value_at_reads_as_printed(tmp_path: Path) -> None:
    """Impostor 0.5 and genuine 0.5 + 1e-25 are one double, both at or above 0.5 as written: the EER is
    published at 0.5, and the rates a reader counts there in exact decimals give it (FMR 1/5, FNMR 0/5)."""
    path = _write(
        tmp_path / "above.parquet", ["0.1", "0.2", "0.3", "0.4", "0.5"], [ABOVE, "0.6", "0.7", "0.8", "0.9"]
    )
    result = audit_biometrics(str(path), score="score", genuine="genuine", threshold=[0.3], min_cell=1)
    (threshold,) = result.metadata["eer_thresholds"].values()
    assert threshold == 0.5
    fmr, fnmr = _reader_rates(path, threshold, False)
    assert (fmr, fnmr) == (0.2, 0.0)  # by the design above
    assert result.value("eer", "all", attribute="overall") == pytest.approx((fmr + fnmr) / 2, abs=1e-15)


@pytest.mark.parametrize("distance", [False, True])
def test_an_eer_threshold_whose_values_a_reader_counts_none_of_moves_one_double(
    tmp_path: Path, distance: bool
) -> None:
    """An impostor and a genuine both at 0.5 - 1e-25 (0.5 + 1e-25 for distances): the EER (FMR 1/5,
    FNMR 0/5) is at their double 0.5, where `score >= 0.5` counts neither; it is printed one double
    lower (higher for distances), 0.49999999999999994 (0.5000000000000001), and the rates a reader counts
    there in exact decimals give it."""
    near, far = (
        (BELOW, ["0.1", "0.2", "0.3", "0.4"]) if not distance else (ABOVE, ["0.9", "0.8", "0.7", "0.6"])
    )
    genuines = ["0.6", "0.7", "0.8", "0.9"] if not distance else ["0.4", "0.3", "0.2", "0.1"]
    path = _write(tmp_path / "moved.parquet", [*far, near], [near, *genuines])
    result = audit_biometrics(
        str(path), score="score", genuine="genuine", threshold=[0.3], min_cell=1, distance=distance
    )
    (threshold,) = result.metadata["eer_thresholds"].values()
    assert threshold == (0.5000000000000001 if distance else 0.49999999999999994)
    fmr, fnmr = _reader_rates(path, threshold, distance)
    assert (fmr, fnmr) == (0.2, 0.0)
    assert _reader_rates(path, 0.5, distance) == (0.0, 0.2)  # 0.5 as written: another point of the curves
    assert result.value("eer", "all", attribute="overall") == pytest.approx((fmr + fnmr) / 2, abs=1e-15)


def test_a_withheld_groups_eer_threshold_is_neither_checked_nor_named(tmp_path: Path) -> None:
    """Group B (5 comparisons, withheld under --min-cell 10) straddles the double 0.5 as the refused design
    above does; group A (400, no score near 0.5) is withheld beside it. B's EER threshold is never printed, so it
    is not checked: the audit runs (it stopped, naming B's threshold 0.5 and scores, before), publishes
    no EER for B, and the overall EER reads as printed: the rates a reader counts at its threshold in
    exact decimals give it."""
    rows = [
        f"({0.55 + i / 1000:.4f}{DECIMAL}, 0, 'A'), ({0.65 + i / 1000:.4f}{DECIMAL}, 1, 'A')"
        for i in range(200)
    ]
    rows += [
        f"({v}{DECIMAL}, {y}, 'B')" for v, y in [("0.1", 0), ("0.2", 0), (BELOW, 0), ("0.5", 1), ("0.9", 1)]
    ]
    path = tmp_path / "hidden.parquet"
    with duckdb.connect() as connection:
        connection.execute(
            f"COPY (SELECT * FROM (VALUES {', '.join(rows)}) AS t(score, genuine, grp)) TO '{path}' (FORMAT PARQUET)"
        )
    result = audit_biometrics(
        str(path), score="score", genuine="genuine", group="grp", threshold=[0.3], min_cell=10
    )
    assert set(result.metadata["eer_thresholds"]) == {"overall = all"}  # A withheld too: overall less A is B
    assert result.select(metric="eer", group="B", attribute="grp") == []
    threshold = result.metadata["eer_thresholds"]["overall = all"]
    fmr, fnmr = _reader_rates(path, threshold, False)
    assert result.value("eer", "all", attribute="overall") == pytest.approx((fmr + fnmr) / 2, abs=1e-15)
