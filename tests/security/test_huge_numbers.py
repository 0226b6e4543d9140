"""A number no engine holds, typed or pasted into `--where`: every audit command refuses it in one line
that names `--where` (and the Python API names `where`), before any engine runs; never a failed query
('Could not convert bignum'), never a silent filter on infinity ('no rows are left')."""

from __future__ import annotations

from pathlib import Path

import pytest

from misflag.biometrics import audit_biometrics
from misflag.cli import main
from misflag.decisions import audit_decisions
from misflag.errors import ExpressionError
from misflag.monitor import monitor

LOG = "score,flag,truth,grp,day\n" + "".join(
    f"{i / 200},{i % 2},{(i // 2) % 2},{'AB'[i % 3 == 0]},2024-01-{1 + i % 28:02d}\n" for i in range(200)
)
NUMBERS = {
    "infinite": ("1e999999", "holds the number 1e999999, past the largest a double holds"),
    "400 digits": ("9" * 400, "holds the number 99999999999999999999... (400 characters), of 400 digits"),
    "negative, 39 digits": (
        "-" + "9" * 39,
        "holds the number 99999999999999999999... (39 characters), of 39",
    ),
}
COMMANDS = {
    "decisions": ["decisions", "audit", "{log}", "--flag", "flag", "--truth", "truth", "--group", "grp"],
    "biometrics": [
        "biometrics",
        "audit",
        "{log}",
        "--score",
        "score",
        "--genuine",
        "flag",
        "--threshold",
        "0.5",
    ],
    "monitor": [
        "monitor",
        "{log}",
        "--time",
        "day",
        "--group",
        "grp",
        "--reference",
        "A",
        "--flag",
        "flag",
        "--truth",
        "truth",
    ],
}


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("huge") / "log.csv"
    path.write_text(LOG)
    return path


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", sorted(NUMBERS))
def test_every_command_refuses_the_number_naming_where(
    log: Path, command: str, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    number, said = NUMBERS[case]
    words = [str(log) if word == "{log}" else word for word in COMMANDS[command]]
    assert main([*words, "--where", f"score > {number}"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: --where expression 'score > ") and said in lines[0], lines[0][:300]
    assert "9" * 81 not in lines[0] and "bignum" not in lines[0].lower()


@pytest.mark.parametrize("case", sorted(NUMBERS))
def test_the_python_api_names_the_where_parameter(log: Path, case: str) -> None:
    where = f"score > {NUMBERS[case][0]}"
    calls = [
        lambda: audit_decisions(log, flag="flag", truth="truth", groups=["grp"], where=where),
        lambda: audit_biometrics(log, score="score", genuine="flag", threshold=0.5, where=where),
        lambda: monitor(log, time="day", group="grp", reference="A", flag="flag", truth="truth", where=where),
    ]
    for call in calls:
        with pytest.raises(ExpressionError) as refused:
            call()
        assert refused.value.parameter == "where"
        assert str(refused.value).startswith("where expression 'score > ") and NUMBERS[case][1] in str(
            refused.value
        )
