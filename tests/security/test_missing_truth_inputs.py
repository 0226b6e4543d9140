"""Hostile values for the missing-truth options of `misflag decisions audit` (issue 23), and hostile group
labels reaching the sentences and report section those options add.

Every bad value is one `error:` line and exit 2 from the CLI, a typed InputError from Python and the
settings file; nothing is written; a group label full of terminal escapes or markup never reaches the
terminal raw or the HTML unescaped.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from misflag.cli import main
from misflag.decisions import DecisionSpec, audit_decisions
from misflag.errors import InputError

HOSTILE_LABEL = "\x1b]8;;http://evil\x07<script>alert(1)</script>\x1b[2J"


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = 60
    table = pa.table(
        {
            "g": [HOSTILE_LABEL if i % 2 else "plain" for i in range(rows)],
            "f": [i % 3 == 0 for i in range(rows)],
            "t": pa.array([None if i % 4 == 0 else float(i % 5 == 0) for i in range(rows)], pa.float64()),
        }
    )
    path = tmp_path_factory.mktemp("mt") / "log.parquet"
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize(
    "extra",
    [
        ["--missing-truth", "$(touch /tmp/pwned)"],
        ["--missing-truth", "x" * 100_000],
        ["--missing-truth", "sensitivity", "--delta", "nan"],
        ["--missing-truth", "sensitivity", "--delta", "inf"],
        ["--missing-truth", "sensitivity", "--delta", "1e999"],
        ["--missing-truth", "sensitivity", "--delta", "-0"],  # valid: 0
        ["--missing-truth", "sensitivity", "--delta", "abc"],
        ["--missing-truth", "sensitivity", "--odds-ratio", "0"],
        ["--missing-truth", "sensitivity", "--odds-ratio", "-1e308"],
        ["--missing-truth", "sensitivity"],
        ["--delta", "0.1"],
        ["--missing-truth", "bounds", "--weight", "1"],
    ],
)
def test_cli_refuses_in_one_line(
    log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    saved = tmp_path / "out.json"
    args = ["decisions", "audit", str(log), "--flag", "f", "--truth", "t", "--group", "g", "--min-cell", "1"]
    code = main([*args, *extra, "--save", str(saved)])
    captured = capsys.readouterr()
    if extra[-1] == "-0":
        assert code == 0
        return
    lines = captured.err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err + captured.out and len(lines[0]) < 400
    assert not saved.exists() and not Path("/tmp/pwned").exists()


@pytest.mark.parametrize(
    "settings",
    [
        {"missing_truth": ["bounds"]},
        {"missing_truth": "sensitivity", "delta": True},
        {"missing_truth": "sensitivity", "delta": "0.1"},
        {"missing_truth": "sensitivity", "odds_ratio": {"a": 1}},
        {"missing_truth": "sensitivity", "delta": 10**400},
    ],
)
def test_settings_file_refuses(settings: dict[str, object]) -> None:
    with pytest.raises(InputError):
        DecisionSpec.from_dict({"truth": "t", "flag": "f", **settings})


def test_hostile_labels_stay_inert(log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = audit_decisions(log, flag="f", truth="t", groups=["g"], reference="plain", min_cell=1)
    assert result.metadata["missing_truth"]["mode"] == "bounds"
    report = tmp_path / "report.html"
    args = ["decisions", "audit", str(log), "--flag", "f", "--truth", "t", "--group", "g", "--min-cell", "1"]
    assert main([*args, "--reference", "plain", "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "\x1b]8" not in out and "\x1b[2J" not in out and "\x07" not in out
    html = report.read_text()
    assert "<script>alert(1)" not in html
    assert "When the truth is known only for some people" in html
    json.dumps(result.metadata["missing_truth"])  # plain data
