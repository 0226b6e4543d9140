"""Weighted (audit-sample) intervals on the adversary's designs of 2026-12-07 (docs/decisions.md, "Where it
does not hold"): the two designs inside the coverage claim cover the process's rate, and the four outside it
still under-cover, every interval of theirs warned in its row. The gaps are kept as tests that fail when they
close, so the docs' figures and the warnings are revisited then.

Each design's count of covering intervals over 2,000 logs (seed 21; `benchmarks/decisions_weight.py
--designs` prints them) is set against the central 99.8% of Binomial(intervals, 0.95) from scipy: 1,869-1,929
covering of 2,000. At 2,000 logs a design covering 92% lands under 1,869 with probability 0.99
(`test_the_logs_have_the_power`); at 400 the region's low end sits about 1 SD under such a design.
"""

from __future__ import annotations

import pytest
from scipy import stats

from tests.decisions._weight_benchmark import weight_benchmark

REPETITIONS = 2000


def _tally(design: str, metric: str) -> tuple[int, int, int, int, tuple[int, int]]:
    """(intervals, covering, zero-width, warned, region) of one design and rate over REPETITIONS logs."""
    benchmark = weight_benchmark()
    sampler, _ = benchmark.OTHER_DESIGNS[design]
    tally = benchmark.design_coverage(sampler, metric, REPETITIONS, seed=21)
    region = (
        int(stats.binom.ppf(0.001, tally.intervals, 0.95)),
        int(stats.binom.isf(0.001, tally.intervals, 0.95)),
    )
    return tally.intervals, tally.covered, tally.zero_width, tally.warned, region


def test_the_logs_have_the_power() -> None:
    """The region at 2,000 intervals is [1,869, 1,929] (the benchmark's and scipy's); a design covering 92%
    falls under it with probability 0.99 or more, a calibrated one inside it with 0.998."""
    assert weight_benchmark().region(REPETITIONS) == (1869, 1929)
    assert stats.binom.cdf(1868, REPETITIONS, 0.92) >= 0.99
    assert stats.binom.cdf(1929, REPETITIONS, 0.95) - stats.binom.cdf(1868, REPETITIONS, 0.95) >= 0.997


@pytest.mark.slow
@pytest.mark.parametrize("metric", ["fpr", "fnr"])
def test_strata_that_follow_the_flag_cover(metric: str) -> None:
    """Flagged audited 1/2, cleared 1/10 (strata follow the flag): inside the region, none warned."""
    intervals, covered, zero, warned, (low, high) = _tally(
        "strata follow the flag, flagged 1/2, cleared 1/10", metric
    )
    assert intervals == REPETITIONS and zero == 0 and warned == 0
    assert low <= covered <= high, (covered, low, high)


@pytest.mark.slow
@pytest.mark.parametrize("metric", ["fpr", "fnr"])
def test_a_stratum_of_two_audited_rows_never_under_covers(metric: str) -> None:
    """The cleared (~410 people) through 2 audited rows: conservative, never under the region, not warned."""
    intervals, covered, zero, warned, (low, _) = _tally("flagged all, cleared through 2 audited rows", metric)
    assert intervals == REPETITIONS and zero == 0 and warned == 0
    assert covered >= low, (covered, low)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("design", "metric"),
    [
        ("two regions 1/2 and 1/10, flag-blind", "fpr"),
        ("one region audited whole, the other 1/10", "fnr"),
        ("Pareto(1.5) weights, one per row", "fnr"),
        ("flagged all, cleared through 1 audited row", "fnr"),
    ],
)
def test_the_gaps_still_under_cover_and_are_warned(design: str, metric: str) -> None:
    """The documented gaps (92.1%, 91.5%, 91.2%, 87.1%): below the region, and every interval warned. When
    one covers, this fails: update docs/decisions.md's paragraph and the row warning's measured figure."""
    intervals, covered, zero, warned, (low, _) = _tally(design, metric)
    assert intervals == REPETITIONS and zero == 0
    assert warned == intervals
    assert covered < low, (design, metric, covered, low)
