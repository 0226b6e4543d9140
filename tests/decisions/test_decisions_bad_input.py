"""Bad input: one line naming the problem and exit code 2 from the CLI, a typed exception from the API."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from misflag.cli import main
from misflag.decisions import audit_decisions
from misflag.errors import ExpressionError, InputError


def _write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.fixture()
def log_csv(tmp_path: Path) -> Path:
    rows = "\n".join(f"{i},{'a' if i % 2 else 'b'},{i % 3 == 0:d},{i % 4 == 0:d}" for i in range(40))
    return _write(tmp_path / "log.csv", "id,grp,flag,truth\n" + rows + "\n")


CASES = {
    "missing column": (
        ["--flag", "flagged", "--truth", "truth"],
        "names column 'flagged', which the input lacks",
    ),
    "unparsable expression": (["--flag", "flag ==", "--truth", "truth"], "does not parse"),
    "not an expression": (["--flag", "(select 1)", "--truth", "truth"], "must be a single SQL expression"),
    "non-binary flag": (
        ["--flag", "flag + 1", "--truth", "truth"],
        "must be 0/1 or true/false; found the value 2",
    ),
    "unknown reference": (
        ["--flag", "flag", "--truth", "truth", "--group", "grp", "--reference", "zz"],
        "--reference 'zz' names no group",
    ),
    "no decision": (["--truth", "truth"], "give the decision"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_one_line_exit_2(case: str, log_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args, expected = CASES[case]
    assert main(["decisions", "audit", str(log_csv), *args]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], captured.err
    assert "Traceback" not in captured.err + captured.out


def _assert_cli_fails(path: Path, capsys: pytest.CaptureFixture[str], expected: str, *extra: str) -> None:
    code = main(["decisions", "audit", str(path), "--flag", "flag", "--truth", "truth", *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and expected in err, err


def test_nan_truth_without_weight(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A NaN truth without --weight is a missing truth (issue 23): the FPR becomes a worst-case range, never a
    point. FP 1, TN 1, one unflagged unknown: FPR lies in [1/3, 1/2] (docs/missing-truth.md)."""
    path = _write(tmp_path / "nan.csv", "flag,truth\n1,1\n0,NaN\n1,0\n0,0\n")
    result = audit_decisions(path, flag="flag", truth="truth", min_cell=1)
    assert result.select(metric="fpr", group="all")[0]["value"] is None
    assert result.value("fpr_lower", "all") == pytest.approx(1 / 3)
    assert result.value("fpr_upper", "all") == pytest.approx(1 / 2)
    _assert_cli_fails(
        path, capsys, "--missing-truth must be one of bounds, sensitivity", "--missing-truth", "guess"
    )


def test_empty_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _assert_cli_fails(_write(tmp_path / "empty.csv", b""), capsys, "is empty (0 bytes)")
    _assert_cli_fails(_write(tmp_path / "header.csv", "flag,truth\n"), capsys, "has no data rows")


def test_zero_byte_parquet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _assert_cli_fails(_write(tmp_path / "log.parquet", b""), capsys, "is empty (0 bytes)")
    _assert_cli_fails(
        _write(tmp_path / "bad.parquet", b"PAR1 not really"), capsys, "is not a readable Parquet file"
    )


def test_non_utf8_bytes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Windows-1252 is read (tests/security/test_encoding_rule.py); 0x81 means nothing there
    path = _write(tmp_path / "latin1.csv", b"grp,flag,truth\n" + b"caf\x81,1,0\n" * 3)
    _assert_cli_fails(path, capsys, "is neither UTF-8 nor Windows-1252 text", "--group", "grp")


def test_group_with_no_negatives(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = "".join(f"a,{i % 2},{i % 2}\n" for i in range(20)) + "".join("b,1,1\n" for _ in range(20))
    path = _write(tmp_path / "noneg.csv", "grp,flag,truth\n" + rows)
    _assert_cli_fails(
        path,
        capsys,
        "group 'b' of grp has no rows with truth = 0 (no negatives)",
        "--group",
        "grp",
        "--strict",
    )
    with pytest.raises(InputError, match="its fpr is undefined"):
        audit_decisions(path, flag="flag", truth="truth", groups=["grp"], strict=True)
    result = audit_decisions(path, flag="flag", truth="truth", groups=["grp"])  # the default goes on
    row = result.select(metric="fpr", group="b", stage="decision")[0]
    assert row["value"] is None and row["warning"] == "undefined: no one with truth = 0 (no negatives)"
    assert not row["suppressed"]
    assert result.value("fpr", "a", attribute="grp", stage="decision") == 0.0


def test_missing_file_and_typed_api_errors(tmp_path: Path, log_csv: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        audit_decisions(tmp_path / "nope.csv", flag="flag", truth="truth")
    with pytest.raises(ExpressionError):
        audit_decisions(log_csv, flag="flag ==", truth="truth")
    with pytest.raises(InputError, match="no rows"):
        audit_decisions(
            pa.table({"flag": pa.array([], pa.int64()), "truth": pa.array([], pa.int64())}),
            flag="flag",
            truth="truth",
        )


def test_parquet_input_works(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    pq.write_table(pa.table({"flag": [1, 0, 1, 0] * 5, "truth": [1, 0, 0, 1] * 5}), path)
    result = audit_decisions(path, flag="flag", truth="truth", replicates=100)
    assert result.value("fpr", "all", stage="decision") == 0.5


def test_too_many_groups_to_protect_is_one_clear_error() -> None:
    """20 x 20 x 20 intersections: 8,000 + 60 groups, over the 5,000 disclosure control can check."""
    import numpy as np
    import pandas as pd

    from misflag.decisions import audit_decisions
    from misflag.errors import InputError

    rng = np.random.default_rng(0)
    rows = 40_000
    frame = pd.DataFrame(
        {name: rng.integers(0, 20, rows).astype(str) for name in ("a", "b", "c")}
        | {"flag": rng.integers(0, 2, rows), "truth": rng.integers(0, 2, rows)}
    )
    with pytest.raises(InputError, match="more than 5,000 groups") as raised:
        audit_decisions(frame, truth="truth", flag="flag", groups=["a", "b", "c"], intersect=True)
    assert raised.value.parameter == "groups"
