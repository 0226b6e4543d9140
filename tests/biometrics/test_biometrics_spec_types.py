"""A settings file can hold any JSON: each setting of the wrong type (a text seed, a negative seed, a "no"
that Python would read as true, a number where an expression belongs) stops with one line naming the
option, as the CLI prints it, and exit code 2; before, these were tracebacks (or a silent true)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from misflag.biometrics import BiometricSpec
from misflag.cli import main
from misflag.errors import InputError

BASE: dict[str, Any] = {"score": "s", "genuine": "g", "thresholds": [1.0]}


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("seed", "x", "--seed must be a whole number, got 'x'"),
        ("seed", 1.5, "--seed must be a whole number, got 1.5"),
        ("seed", None, "--seed must be a whole number, got None"),
        ("seed", -3, "--seed must be at least 0, got -3"),
        ("bins", True, "--bins must be a whole number, got True"),
        ("min_cell", "10", "--min-cell must be a whole number, got '10'"),
        ("search", "no", "--search must be true or false, got 'no'"),
        ("distance", 1, "--distance must be true or false, got 1"),
        ("fdr_alpha", "0.5", "--fdr-alpha must be a number, got '0.5'"),
        ("score", 3, "--score must be text (a SQL expression), got 3"),
        ("group", ["a"], "--group must be text (a SQL expression), got ['a']"),
    ],
)
def test_a_setting_of_the_wrong_type_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, value: Any, message: str
) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({**BASE, setting: value}))
    scores = tmp_path / "scores.csv"
    scores.write_text("s,g\n0.5,0\n1.5,1\n")
    assert main(["biometrics", "audit", str(scores), "--settings", str(settings)]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [f"error: {message}"] and captured.out == ""


def test_the_command_line_seed_is_checked_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scores = tmp_path / "scores.csv"
    scores.write_text("s,g\n0.5,0\n1.5,1\n")
    arguments = ["biometrics", "audit", str(scores), "--score", "s", "--genuine", "g", "--threshold", "1"]
    assert main([*arguments, "--seed", "-1"]) == 2
    assert capsys.readouterr().err.strip() == "error: --seed must be at least 0, got -1"


def test_numpy_numbers_are_whole_numbers_and_numbers() -> None:
    seed: Any = np.int64(4)  # what a caller computing a seed with numpy passes
    spec = BiometricSpec(score="s", genuine="g", thresholds=(1.0,), seed=seed, fdr_alpha=np.float64(0.3))
    assert spec.seed == 4 and spec.fdr_alpha == 0.3
    with pytest.raises(InputError, match="must be a whole number"):
        BiometricSpec(score="s", genuine="g", thresholds=(1.0,), bins=np.float64(2000.0))  # type: ignore[arg-type]


@pytest.mark.parametrize("given", ["12", [True], ["0.5"], 0.5, {"a": 1}])
def test_thresholds_must_be_a_list_of_numbers(given: Any) -> None:
    """A string was read character by character ("12" as thresholds 1 and 2) and true as 1, silently."""
    with pytest.raises(InputError, match=r"^setting thresholds must be a list of numbers$"):
        BiometricSpec.from_dict({**BASE, "thresholds": given})
    assert BiometricSpec.from_dict({**BASE, "thresholds": [1, 2.5]}).thresholds == (1.0, 2.5)


def test_numpy_thresholds_and_targets_are_read_as_floats(tmp_path: Path) -> None:
    """A caller's numpy floats (np.float64 target FMRs and thresholds) are Python floats in the spec: a
    target's allowed false matches are counted from its decimal text (`repr`), which for np.float64 reads
    'np.float64(0.01)' (an untyped ValueError after 42360b0), and a threshold is written into SQL."""
    spec = BiometricSpec(
        score="s", genuine="g", thresholds=(np.float64(0.5),), target_fmrs=(np.float64(0.01),)
    )
    assert spec.thresholds == (0.5,) and spec.target_fmrs == (0.01,)
    assert all(type(v) is float for v in (*spec.thresholds, *spec.target_fmrs))
    scores = tmp_path / "scores.csv"
    scores.write_text("s,g\n" + "".join(f"{i / 200},{int(i % 4 == 0)}\n" for i in range(200)))
    from misflag.biometrics import run_biometrics

    result = run_biometrics(spec, str(scores))
    impostors = [i / 200 for i in range(200) if i % 4]
    fmr = next(r for r in result.rows() if r["metric"] == "fmr" and r["stage"] == "score>=0.5")
    assert fmr["value"] == sum(s >= 0.5 for s in impostors) / len(impostors)  # by hand: 75 of 150
    with pytest.raises(InputError, match=r"^threshold must be numbers, got \(True,\)$"):
        BiometricSpec(score="s", genuine="g", thresholds=(True,))  # type: ignore[arg-type]
