"""Linkage commands: Splink's log warnings stay off the terminal; risk prints a compact table; one progress shape."""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

import pytest

from misflag.cli import main
from misflag.linkage import assess_rule_risk, synthetic_records


def test_splink_warnings_are_captured_not_leaked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    people, pairs = tmp_path / "people.parquet", tmp_path / "pairs.parquet"
    assert main(["linkage", "synth", "--size", "3000", "--seed", "1", "--out", str(people)]) == 0
    settings = resources.files("misflag.linkage") / "settings" / "synthetic.json"
    capsys.readouterr()
    with caplog.at_level(logging.WARNING):
        assert main(["linkage", "run", str(settings), str(people), "--out", str(pairs)]) == 0
    err = capsys.readouterr().err
    # Splink's own multi-line warnings ("WARNING:", "-- WARNING --") never reach stderr or the root logger
    assert "WARNING" not in err
    assert not [r for r in caplog.records if r.name.startswith("splink")]
    assert "".join(err.split()).endswith(f"writtento{pairs}")  # rich wraps the path where the width ends
    assert err.count("note: Splink warned:") == 1  # this input makes Splink warn: captured, said once
    assert logging.getLogger("splink").handlers == [] or all(
        type(h).__name__ != "Collect" for h in logging.getLogger("splink").handlers
    ), "the capturing handler is removed after the run"


def test_linkage_risk_prints_a_compact_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    argv = ["linkage", "risk", "--rule", "crosscheck", "--population", "258300000", "--list", "10000000"]
    # both methods' rows; the table's shape does not depend on the replicates (2, the least: 6 s of CPU less)
    assert main([*argv, "--method", "both", "--replicates", "2"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) <= 150, "the long table was 671 lines"
    assert max(len(line) for line in lines) <= 80
    assert (
        "Asian/Pacific" in out
        and "reference" in out
        and "wrongly matched per 100,000" in " ".join(out.split())
    )


def test_progress_is_step_and_fraction_everywhere() -> None:
    """The one callback shape, `progress(step, fraction)`: fractions rise within [0, 1]."""
    seen: list[tuple[str, float | None]] = []
    synthetic_records(200, seed=0, progress=lambda step, fraction: seen.append((step, fraction)))
    risk: list[tuple[str, float | None]] = []
    assess_rule_risk(
        "crosscheck",
        population_size=100_000,
        list_size=1_000,
        method="montecarlo",
        replicates=2,
        progress=lambda step, fraction: risk.append((step, fraction)),
    )
    for calls in (seen, risk):
        assert calls and all(isinstance(step, str) and step for step, _ in calls)
        fractions = [f for _, f in calls if f is not None]
        assert fractions == sorted(fractions) and all(0 <= f <= 1 for f in fractions)
    assert risk[-1] == ("Monte Carlo replicate 2 of 2", 1.0)
