"""Hostile input to `misflag biometrics audit`: expressions in every option, names of groups, labels that
reach the report and CSV, and option values. Every hostile expression of tests/security/corpus.py is refused
with a one-line MisflagError (exit 2 from the CLI) before anything reads the canary or writes the target."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from misflag.biometrics import audit_biometrics
from misflag.cli import main
from misflag.errors import MisflagError
from misflag.report import render_report


def _load_corpus() -> Any:
    """tests/security/corpus.py (tests are not a package: loaded by path)."""
    spec = importlib.util.spec_from_file_location(
        "misflag_hostile_corpus_bio", Path(__file__).with_name("corpus.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_CORPUS = _load_corpus()
CANARY: str = _CORPUS.CANARY
TARGET: str = _CORPUS.TARGET
ENTRIES: list[tuple[str, str]] = _CORPUS.corpus()
SECRET = "canary-bio-5e1d-never-print-me"
#: Every expression option of the audit, as keyword arguments.
OPTIONS = ["score", "genuine", "group", "where", "group_a", "subject_a"]
BASE: dict[str, Any] = {"score": "score", "genuine": "genuine", "threshold": 0.5, "min_cell": 1}
PAIRED = {"group_a": ("group_b", "grp"), "subject_a": ("subject_b", "b")}


@pytest.fixture(scope="module")
def scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "score": [0.1, 0.9, 0.4, 0.7, 0.2, 0.8, 0.3, 0.6] * 3,
            "genuine": [0, 1, 1, 0, 0, 1, 1, 0] * 3,
            "grp": ["A", "B"] * 12,
            "a": list(range(24)),
            "b": [i + 100 for i in range(24)],
        }
    )


@pytest.fixture(autouse=True)
def canary() -> None:
    Path(CANARY).parent.mkdir(parents=True, exist_ok=True)
    Path(CANARY).write_text(SECRET)
    Path(TARGET).unlink(missing_ok=True)


@pytest.mark.parametrize("option", OPTIONS)
def test_every_hostile_expression_is_refused_in_every_option(scores: pd.DataFrame, option: str) -> None:
    """The whole corpus in --score and --where; every third entry (all classes) in the other options, which
    reach the same check."""
    accepted = []
    for kind, text in ENTRIES if option in {"score", "where"} else ENTRIES[::3]:
        options = {**BASE, option: text}
        if option in PAIRED:
            other, column = PAIRED[option]
            options[other] = column
        try:
            audit_biometrics(scores, **options)
        except MisflagError as problem:
            message = str(problem)
            assert "\n" not in message and SECRET not in message, (kind, text)
        else:
            accepted.append((kind, text))
        assert not Path(TARGET).exists(), (kind, text)
    assert accepted == []


@pytest.mark.parametrize("option", ["--score", "--genuine", "--group", "--where", "--subject-a"])
def test_the_cli_refuses_with_one_line_and_exit_2(
    scores: pd.DataFrame, tmp_path: Path, option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "scores.csv"
    scores.to_csv(path, index=False)
    for _, text in ENTRIES[::25]:
        args = [
            "biometrics",
            "audit",
            str(path),
            "--score",
            "score",
            "--genuine",
            "genuine",
            "--threshold",
            "0.5",
        ]
        args += [option, text] + (["--subject-b", "b"] if option == "--subject-a" else [])
        assert main(args) == 2, text
        captured = capsys.readouterr()
        assert len(captured.err.strip().splitlines()) == 1 and SECRET not in captured.err + captured.out
        assert not Path(TARGET).exists()


@pytest.mark.parametrize(
    "name", ["A' OR '1'='1", "'; DROP TABLE input; --", "<script>alert(1)</script>", "\x1b[2J"]
)
def test_hostile_group_names_are_only_compared_never_run(scores: pd.DataFrame, name: str) -> None:
    for option in ("threshold_group", "reference"):
        extra = {"target_fmr": 0.2, "threshold": ()} if option == "threshold_group" else {}
        with pytest.raises(MisflagError, match="is not a group") as caught:
            audit_biometrics(scores, **{**BASE, **extra, "group": "grp", option: name})
        assert "\n" not in str(caught.value)


def test_hostile_labels_are_escaped_in_the_report_and_neutralised_in_csv(scores: pd.DataFrame) -> None:
    hostile = scores.assign(
        grp=scores["grp"].map({"A": "<script>alert('x')</script>", "B": '=HYPERLINK("http://x")'})
    )
    result = audit_biometrics(hostile, **{**BASE, "group": "grp", "group_a": "grp", "group_b": "grp"})
    html = render_report(result)
    assert "<script>alert('x')</script>" not in html
    for line in result.to_csv().splitlines()[1:]:
        cells = line.split(",")
        assert not cells[1].startswith(("=", '"=')), line


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"bins": 10**9}, "bins must"),
        ({"bins": 1}, "bins must"),
        ({"min_cell": 0}, "min_cell must"),
        ({"fdr_alpha": 7.0}, "fdr_alpha must"),
        ({"threshold": float("inf")}, "threshold must"),
        ({"threshold": (), "target_fmr": -1.0}, "target_fmr must"),
        ({"threshold": (), "target_fmr": 1.0}, "target_fmr must"),
    ],
)
def test_out_of_range_option_values_are_refused(
    scores: pd.DataFrame, options: dict[str, Any], named: str
) -> None:
    with pytest.raises(MisflagError, match=named) as raised:  # a Python caller is told the parameter
        audit_biometrics(scores, **{**BASE, **options})
    assert "--" not in str(raised.value)
