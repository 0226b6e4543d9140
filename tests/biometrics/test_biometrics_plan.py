"""`misflag biometrics plan` and the warning for a target FMR below what the data can resolve."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom, norm

from misflag.biometrics import audit_biometrics
from misflag.biometrics._plan import plan_sample_size
from misflag.cli import main
from misflag.errors import InputError


def test_plan_matches_the_closed_form_by_hand() -> None:
    # z = 1.959964 + 0.841621; N = z^2 (9,999 + 4,999) / ln(2)^2 = 245,013.6 -> 245,014
    found = plan_sample_size(1e-4, 2.0)
    assert found.independent == 245_014
    assert (found.rule_of_3, found.rule_of_30) == (30_000, 300_000)
    clustered = plan_sample_size(1e-4, 2.0, per_subject=50, correlation=0.02)
    assert clustered.design_effect == pytest.approx(1.98)
    assert clustered.comparisons == math.ceil(245_014 * 1.98)
    assert clustered.subjects == math.ceil(clustered.comparisons / 50)


def test_planned_size_has_the_stated_power_by_simulation() -> None:
    """At the planned N, the two-sided Wald test of log(p2 / p1) rejects in about 80% of simulated studies."""
    found = plan_sample_size(0.01, 2.0)
    n, runs = found.independent, 4000
    rng = np.random.default_rng(1)
    x1 = rng.binomial(n, 0.01, runs) + 0.5
    x2 = rng.binomial(n, 0.02, runs) + 0.5
    z = np.log(x2 / x1) / np.sqrt((1 - x1 / n) / x1 + (1 - x2 / n) / x2)
    rejected = int((np.abs(z) > norm.ppf(0.975)).sum())
    low, high = binom.interval(0.999, runs, 0.8)
    assert low - 0.02 * runs <= rejected <= high + 0.02 * runs  # the Wald approximation's own error, 2 points


@pytest.mark.parametrize(
    "options",
    [
        {"target_fmr": 0.0, "ratio": 2.0},
        {"target_fmr": 1e-4, "ratio": 1.0},
        {"target_fmr": 0.6, "ratio": 2.0},
        {"target_fmr": 1e-4, "ratio": float("nan")},
        {"target_fmr": 1e-4, "ratio": 2.0, "correlation": 1.5},
        {"target_fmr": 1e-4, "ratio": 2.0, "per_subject": 0.5},
        {"target_fmr": 1e-4, "ratio": 2.0, "per_subject": 1e308, "correlation": 0.5},  # overflowed
    ],
)
def test_bad_plans_are_refused(options: dict[str, float]) -> None:
    target = options.pop("target_fmr")
    ratio = options.pop("ratio")
    with pytest.raises(InputError):
        plan_sample_size(target, ratio, **options)


def test_plan_command_prints_the_plan_and_refuses_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["biometrics", "plan", "--target-fmr", "1e-4", "--ratio", "2"]) == 0
    assert "245,014 independent impostor comparisons" in capsys.readouterr().out
    assert main(["biometrics", "plan", "--target-fmr", "1e-4", "--ratio", "1"]) == 2
    err = capsys.readouterr().err
    assert len([line for line in err.splitlines() if line.strip()]) == 1 and err.startswith("error:")
    overflow = ["--per-subject", "1e308", "--correlation", "0.5"]  # an internal-error traceback before
    assert main(["biometrics", "plan", "--target-fmr", "1e-4", *overflow]) == 2
    assert capsys.readouterr().err.startswith("error: the plan overflows")


def _scores(impostors: int) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    return pd.DataFrame(
        {
            "score": np.r_[rng.normal(0, 1, impostors), rng.normal(3, 1, 2000)],
            "genuine": np.r_[np.zeros(impostors, int), np.ones(2000, int)],
            "grp": "G",
        }
    )


def test_target_below_resolution_is_warned() -> None:
    """1e-6 over 40,000 impostor pairs: even zero false matches bound the FMR only at 3/40,000 = 7.5e-5."""
    result = audit_biometrics(
        _scores(40_000), score="score", genuine="genuine", group="grp", target_fmr=[1e-6, 1e-3]
    )
    warnings = result.metadata["warnings"]
    assert len(warnings) == 1  # 1e-3 x 40,000 = 40 >= 3: resolvable
    assert "target FMR 1e-06 is below what 40,000 impostor comparisons can resolve" in warnings[0]
    assert "7.5e-05" in warnings[0] and "3,000,000" in warnings[0]
    assert "rule of 3" in result.summary


@pytest.mark.parametrize("target", ["1e-300", "1e-15", "5e-324"])
def test_targets_beyond_exact_counts_are_refused_in_one_line(
    target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A double holds integers exactly only up to 2^53 = 9,007,199,254,740,992: 1e-300 printed a 300-digit
    count and 1e-15 a rule of 30 of 29,999,999,999,999,996 (30 / 1e-15 is 3e16 exactly), so both refuse."""
    with pytest.raises(InputError, match="2\\^53"):
        plan_sample_size(float(target), 2.0)
    assert main(["biometrics", "plan", "--target-fmr", target, "--ratio", "2"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and len(lines[0]) < 300


def test_the_smallest_exact_plan_still_prints_every_count_exactly() -> None:
    """1e-14: rule of 30 = 3e15 and N = 2.45e15, under 2^53, so each count is the exact integer by hand."""
    found = plan_sample_size(1e-14, 2.0)
    z = 1.959963984540054 + 0.8416212335729143
    assert found.rule_of_30 == 3_000_000_000_000_000
    assert found.rule_of_3 == 300_000_000_000_000
    assert (
        abs(found.independent - z * z * ((1 - 1e-14) / 1e-14 + (1 - 2e-14) / 2e-14) / math.log(2) ** 2) <= 1
    )
    assert max(found.independent, found.comparisons, found.rule_of_30) <= 2**53
    # the boundary the docs quote: 30 / 2^53 = 3.33e-15
    with pytest.raises(InputError):
        plan_sample_size(3.3e-15, 2.0)
    assert plan_sample_size(3.4e-15, 2.0).rule_of_30 == math.ceil(30 / 3.4e-15) <= 2**53
