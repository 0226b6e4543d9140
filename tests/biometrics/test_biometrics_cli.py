"""The command line and the HTML report: formats, the report's DET curves and heat map, bad input as one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from misflag.cli import main


@pytest.fixture
def score_file(tmp_path: Path, make_clustered: Callable[..., pd.DataFrame]) -> Path:
    """Eight simulated groups of 12 people; region of each sample derived from the group name."""
    frame = make_clustered(8, 12, 3, 0.5, seed=2)
    frame["region_a"] = frame["rep"].str[-1].map(lambda c: "east" if int(c) % 2 else "west")
    frame["region_b"] = frame["region_a"].where(frame.index % 3 != 0, "north")
    frame["sex"] = frame["rep"].map(lambda r: "F" if int(r[-1]) < 4 else "M")
    path = tmp_path / "scores.parquet"
    frame.to_parquet(path)
    return path


def test_json_output_and_report(score_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "report.html"
    code = main(
        [
            "biometrics",
            "audit",
            str(score_file),
            "--score",
            "score",
            "--genuine",
            "genuine",
            "--group",
            "sex",
            "--target-fmr",
            "0.01",
            "--threshold",
            "2.5",
            "--group-a",
            "region_a",
            "--group-b",
            "region_b",
            "--subject-a",
            "a",
            "--subject-b",
            "b",
            "--format",
            "json",
            "--report",
            str(report),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = json.loads(captured.out)
    metrics = {r["metric"] for r in rows}
    assert {"fmr", "fnmr", "fmr_ratio", "eer", "fdr", "fmr_gini", "subjects_n"} <= metrics
    assert any(r["attribute"] == "region_a × region_b" for r in rows)
    html = report.read_text(encoding="utf-8")
    assert "Biometric verifier audit" in html
    assert "Detection error trade-off" in html
    assert "Impostor FMR" in html
    assert "subject" in html


def test_saved_result_makes_the_same_report(score_file: Path, tmp_path: Path) -> None:
    saved, html = tmp_path / "result.json", tmp_path / "again.html"
    base = ["biometrics", "audit", str(score_file), "--score", "score", "--genuine", "genuine"]
    assert (
        main([*base, "--group", "sex", "--target-fmr", "0.01", "--format", "csv", "--save", str(saved)]) == 0
    )
    assert main(["report", str(saved), "--out", str(html)]) == 0
    text = html.read_text(encoding="utf-8")
    assert "Biometric verifier audit" in text and "Detection error trade-off" in text


def test_csv_and_table_output(score_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = [
        "biometrics",
        "audit",
        str(score_file),
        "--score",
        "score",
        "--genuine",
        "genuine",
        "--threshold",
        "2",
    ]
    assert main([*base, "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("attribute,group,stage,metric")
    assert main(base) == 0
    out = capsys.readouterr().out
    assert "fmr" in out and "independent comparison pairs" in out


def test_settings_file(score_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text(
        json.dumps({"score": "score", "genuine": "genuine", "thresholds": [2.0], "group": "sex"})
    )
    assert (
        main(["biometrics", "audit", str(score_file), "--settings", str(settings), "--format", "json"]) == 0
    )
    assert any(r["group"] == "F" for r in json.loads(capsys.readouterr().out))


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--score", "score", "--genuine", "genuine"], "operating point"),
        (["--score", "region_a", "--genuine", "genuine", "--threshold", "1"], "not a number"),
        (["--score", "score", "--genuine", "score", "--threshold", "1"], "0/1"),
        (
            [
                "--score",
                "score",
                "--genuine",
                "genuine",
                "--group",
                "sex",
                "--target-fmr",
                "0.1",
                "--threshold-group",
                "Q",
            ],
            "--threshold-group 'Q'",
        ),
        (
            [
                "--score",
                "score",
                "--genuine",
                "genuine",
                "--group",
                "sex",
                "--threshold",
                "1",
                "--where",
                "genuine = 1 OR sex = 'F'",
            ],
            "group 'M' of sex has no impostor pairs",
        ),
        (
            ["--score", "score", "--genuine", "genuine", "--threshold", "1", "--target-fmr", "2"],
            "--target-fmr",
        ),
        (["--score", "nosuch", "--genuine", "genuine", "--threshold", "1"], "nosuch"),
        (["--score", "score", "--genuine", "genuine", "--threshold", "1", "--subject-a", "a"], "--subject-b"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    score_file: Path, extra: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["biometrics", "audit", str(score_file), *extra]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ") and named in lines[0]
    assert "Traceback" not in captured.err and captured.out == ""
