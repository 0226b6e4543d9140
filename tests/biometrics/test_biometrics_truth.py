"""The coverage designs' true rates (tests/biometrics/conftest.py `true_rates`), checked two independent ways.

A wrong truth would make coverage fall as subjects grow, the symptom of the t(3), 400-subject FNMR row
(docs/biometrics.md, "Where it does not hold"); these tests rule that out: the integrals equal a Monte Carlo
over the subject effects, and the pair-weighted rate the audit estimates, sum of errors / sum of pairs
pooled over many replicates of the generator itself, equals them too.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from .conftest import true_rates, unbalanced_scores

SD = 0.6


@pytest.mark.parametrize("tails", ["normal", "t3"])
@pytest.mark.parametrize("threshold", [2.3, 4.0])
def test_integrated_truth_equals_a_monte_carlo_over_the_effects(tails: str, threshold: float) -> None:
    """FNMR = E[Phi(T - 4 - v)], FMR = E[Phi(u_a + u_b - T)] averaged over 2,000,000 fresh effect draws
    (numpy's own t and normal generators); within 4 Monte Carlo standard errors."""
    rng = np.random.default_rng(99)
    size = 2_000_000

    def effects() -> np.ndarray:
        if tails == "t3":
            return SD * rng.standard_t(3, size) / np.sqrt(3)
        return rng.normal(0, SD, size)

    fnmr_terms = norm.cdf(threshold - 4 - effects())
    fmr_terms = norm.cdf(effects() + effects() - threshold)
    fmr, fnmr = true_rates(SD, tails, threshold)
    for truth, terms in ((fmr, fmr_terms), (fnmr, fnmr_terms)):
        error = terms.std() / np.sqrt(size)
        assert abs(terms.mean() - truth) <= 4 * error


def test_pooled_pair_weighted_rate_of_the_generator_equals_the_truth() -> None:
    """Over 400 replicates of the t(3) design with 100 subjects (about 580,000 pairs of each kind),
    E[errors] / E[pairs] estimated by the pooled ratio, its standard error by the delta method over
    replicates; FNMR counts genuine scores below the threshold, FMR impostor scores at or above it."""
    threshold, replicates = 2.3, 400
    frame = unbalanced_scores(replicates, 100, SD, "t3", seed=123)
    genuine = frame["genuine"].to_numpy() == 1
    score = frame["score"].to_numpy()
    replicate = frame["rep"].str.slice(1).astype(int).to_numpy()
    fmr, fnmr = true_rates(SD, "t3", threshold)
    for truth, kind, error in ((fmr, ~genuine, score >= threshold), (fnmr, genuine, score < threshold)):
        errors = np.bincount(replicate[kind], error[kind], replicates)
        pairs = np.bincount(replicate[kind], minlength=replicates).astype(float)
        rate = errors.sum() / pairs.sum()
        residual = errors - rate * pairs
        standard_error = np.sqrt((residual**2).sum()) / pairs.sum()
        assert abs(rate - truth) <= 4 * standard_error
