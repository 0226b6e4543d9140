"""Clustered intervals on the unbalanced design real galleries have: a few subjects carry most comparisons.

Subjects get 1, 3, 20 or 200 comparisons of each kind (probabilities .5/.3/.15/.05) and Student t(3)
subject effects (conftest.unbalanced_scores); true rates by numerical integration (conftest.true_rates).
400 replications of 100 subjects: coverage must reach the lower end of the 99% binomial acceptance region
of Binomial(400, 0.95) (368/400); docs/biometrics.md quotes the full-size runs, and
the rows say where few subjects carry the errors or the comparisons. The cluster score interval's end
points are checked against the cluster-robust variance computed pair by pair.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom, t

from misflag.biometrics import audit_biometrics
from misflag.biometrics._clustered import SubjectSums, _cluster_score, clustered_interval

from .conftest import true_rates

REPLICATES, SUBJECTS, SD, THRESHOLD = 400, 100, 0.6, 2.3
LOW_END = binom.interval(0.99, REPLICATES, 0.95)[0]


@pytest.mark.parametrize("metric", ["fmr", "fnmr"])
def test_unbalanced_heavy_tailed_design_covers(
    make_unbalanced: Callable[..., pd.DataFrame], metric: str
) -> None:
    scores = make_unbalanced(REPLICATES, SUBJECTS, SD, "t3", seed=21 if metric == "fmr" else 22)
    truth = dict(zip(("fmr", "fnmr"), true_rates(SD, "t3", THRESHOLD), strict=True))[metric]
    result = audit_biometrics(
        scores,
        score="score",
        genuine="genuine",
        group="rep",
        threshold=THRESHOLD,
        bins=100,
        subject_a="a",
        subject_b="b",
    )
    rows = result.select(metric=metric, attribute="rep")
    assert len(rows) == REPLICATES
    covered = sum(r["ci_low"] <= truth <= r["ci_high"] for r in rows)
    assert covered >= LOW_END
    # with ~10 effective subjects out of 100, the genuine rows say so
    if metric == "fnmr":
        assert (
            sum("a few subjects carry most comparisons" in (r["warning"] or "") for r in rows)
            > REPLICATES / 2
        )


def test_few_subjects_with_errors_are_named() -> None:
    """Rare, clustered false matches: two subjects carry every false match; the row says it cannot be trusted."""
    generator = np.random.default_rng(5)
    a = np.repeat(np.arange(60), 20)
    b = (a + generator.integers(1, 60, a.size)) % 60
    score = np.where(np.isin(a, [3, 7]) & np.isin(b, [1, 2, 4, 5, 6]), 0.9, 0.1)  # at most 7 subjects
    frame = pd.DataFrame(
        {
            "score": np.r_[score, np.full(120, 0.95)],
            "genuine": np.r_[np.zeros(a.size, int), np.ones(120, int)],
            "grp": "G",
            "a": np.r_[a, np.arange(60), np.arange(60)],
            "b": np.r_[b, np.arange(60), np.arange(60)],
        }
    )
    result = audit_biometrics(
        frame, score="score", genuine="genuine", group="grp", threshold=0.5, subject_a="a", subject_b="b"
    )
    row = result.select(metric="fmr", group="G")[0]
    assert row["value"] == float((score >= 0.5).sum()) / a.size > 0
    assert "subject(s) with errors: the interval cannot be trusted" in row["warning"]


def test_cluster_score_end_points_solve_the_robust_variance_equation() -> None:
    """At each end p of the cluster score interval, (E - pN)^2 = k V(p), with V(p) summed pair by pair:
    sum over pairs i, j sharing a subject of (x_i - p)(x_j - p), for genuine (one subject) pairs."""
    generator = np.random.default_rng(9)
    owner = np.repeat(np.arange(12), generator.integers(1, 30, 12))
    x = (
        generator.random(owner.size) < np.repeat(generator.uniform(0.05, 0.4, 12), np.bincount(owner))
    ).astype(float)
    e, n = np.bincount(owner, x), np.bincount(owner).astype(float)
    sums = SubjectSums(
        errors=x.sum(),
        size=x.size,
        clusters=12,
        d=0.0,
        dd=0.0,
        ee=float((e * e).sum()),
        en=float((e * n).sum()),
        nn=float((n * n).sum()),
        effective_subjects=12.0,
    )
    quantile = float(t.ppf(0.975, 11))
    low, high = _cluster_score(sums, quantile)
    same = owner[:, None] == owner[None, :]
    for p in (low, high):
        d = x - p
        variance = float((d[:, None] * d[None, :] * same).sum())
        assert (x.sum() - p * x.size) ** 2 == pytest.approx(quantile**2 * 12 / 11 * variance, rel=1e-9)
    assert low < x.mean() < high
    # the published interval is the hull: it contains the cluster score interval
    published_low, published_high, _ = clustered_interval(sums)
    assert published_low <= low and published_high >= high


def _warnings(genuine_counts: np.ndarray, misses: np.ndarray) -> dict[str, str]:
    """Audit one group: subject s has genuine_counts[s] genuine pairs (misses[s] of them missed) and one
    impostor pair with subject s + 1, none a false match; the FMR and FNMR rows' warnings."""
    subjects = genuine_counts.size
    owner = np.repeat(np.arange(subjects), genuine_counts)
    missed = np.concatenate([np.arange(c) < m for c, m in zip(genuine_counts, misses, strict=True)])
    frame = pd.DataFrame(
        {
            "score": np.r_[np.full(subjects, 0.1), np.where(missed, 0.2, 0.9)],
            "genuine": np.r_[np.zeros(subjects, int), np.ones(owner.size, int)],
            "grp": "G",
            "a": np.r_[np.arange(subjects), owner],
            "b": np.r_[(np.arange(subjects) + 1) % subjects, owner],
        }
    )
    result = audit_biometrics(
        frame, score="score", genuine="genuine", group="grp", threshold=0.5, subject_a="a", subject_b="b"
    )
    return {m: result.select(metric=m, group="G")[0]["warning"] or "" for m in ("fmr", "fnmr")}


def test_no_subject_with_an_error_is_named_as_untrustworthy() -> None:
    """Zero false matches among 60 balanced subjects: the clustered interval cannot see how errors
    would cluster, and the row says so (the rare-error design's misses all come from such rows)."""
    notes = _warnings(np.full(60, 3), np.r_[np.ones(20, int), np.zeros(40, int)])
    assert "no subject with an error" in notes["fmr"]
    assert "no subject with an error" not in notes["fnmr"]


def test_unbalanced_designs_are_named_even_with_many_effective_subjects() -> None:
    """1,000 subjects with one genuine pair and 40 with 100: G* = 5000^2 / 401000 = 62.3 (at least 30),
    a sixteenth of the 1,040 subjects; balanced 3 pairs each: G* = 1,040, no warning."""
    counts = np.r_[np.ones(1000, int), np.full(40, 100)]
    notes = _warnings(counts, counts // 4)
    assert (
        "a few subjects carry most comparisons (effective number of subjects 62.3 of 1040)" in notes["fnmr"]
    )
    balanced = _warnings(np.full(1040, 3), np.r_[np.ones(300, int), np.zeros(740, int)])
    assert "a few subjects carry" not in balanced["fnmr"]
