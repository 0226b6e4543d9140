"""Score files for the biometric tests: a hand-counted toy and synthetic matchers with known tails."""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def toy() -> pd.DataFrame:
    """Twelve comparisons, two groups; every figure in the tests is counted by hand from this table."""
    return pd.DataFrame(
        {
            "score": [0.9, 0.8, 0.3, 0.2, 0.7, 0.1, 0.95, 0.4, 0.6, 0.5, 0.85, 0.35],
            "genuine": [1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0],
            "grp": ["A"] * 6 + ["B"] * 6,
        }
    )


def gaussian_scores(
    impostor_means: dict[str, float],
    genuine_means: dict[str, float],
    impostors: int,
    genuines: int,
    seed: int,
) -> pd.DataFrame:
    """Independent N(mean, 1) scores per group: FMR(T) = 1 - Phi(T - impostor mean), FNMR(T) = Phi(T - genuine mean)."""
    generator = np.random.default_rng(seed)
    parts = []
    for name in impostor_means:
        parts.append(
            pd.DataFrame(
                {
                    "score": np.r_[
                        generator.normal(impostor_means[name], 1, impostors),
                        generator.normal(genuine_means[name], 1, genuines),
                    ],
                    "genuine": np.r_[np.zeros(impostors, int), np.ones(genuines, int)],
                    "grp": name,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def clustered_scores(
    replicates: int, subjects: int, samples: int, subject_sd: float, seed: int
) -> pd.DataFrame:
    """One group per replicate: every impostor pair of `subjects` people scores u_a + u_b + e, every genuine
    pair (of `samples` per person) 4 + v_s + e, with u, v ~ N(0, subject_sd^2) and e ~ N(0, 1).

    So FMR(T) = 1 - Phi(T / sqrt(2 sd^2 + 1)) and FNMR(T) = Phi((T - 4) / sqrt(sd^2 + 1)), while comparisons
    sharing a person are correlated.
    """
    generator = np.random.default_rng(seed)
    pairs = np.asarray(list(combinations(range(subjects), 2)))
    own = np.asarray(list(combinations(range(samples), 2)))
    frames = []
    for r in range(replicates):
        u = generator.normal(0, subject_sd, subjects)
        v = generator.normal(0, subject_sd, subjects)
        impostor = u[pairs[:, 0]] + u[pairs[:, 1]] + generator.normal(0, 1, len(pairs))
        person = np.repeat(np.arange(subjects), len(own))
        genuine = 4 + v[person] + generator.normal(0, 1, person.size)
        ids = np.r_[pairs[:, 0], person] + r * subjects
        frames.append(
            pd.DataFrame(
                {
                    "score": np.r_[impostor, genuine],
                    "genuine": np.r_[np.zeros(len(pairs), int), np.ones(person.size, int)],
                    "rep": f"r{r:04d}",
                    "a": ids,
                    "b": np.r_[pairs[:, 1] + r * subjects, person + r * subjects],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


#: Comparisons per subject in the unbalanced design and their probabilities (a few subjects carry most).
UNBALANCED_COUNTS, UNBALANCED_PROBABILITIES = (1, 3, 20, 200), (0.5, 0.3, 0.15, 0.05)


def subject_effects(generator: np.random.Generator, size: int, sd: float, tails: str) -> np.ndarray:
    """Subject effects with standard deviation `sd`: normal, or Student t with 3 degrees of freedom."""
    if tails == "t3":
        return sd * generator.standard_t(3, size) / np.sqrt(3)
    return generator.normal(0, sd, size)


def unbalanced_scores(replicates: int, subjects: int, sd: float, tails: str, seed: int) -> pd.DataFrame:
    """One group per replicate. Each subject s gets m_s in {1, 3, 20, 200} (probabilities .5/.3/.15/.05)
    genuine pairs scoring 4 + v_s + e and m_s impostor pairs with other subjects b drawn at random, scoring
    u_s + u_b + e; u, v subject effects (`subject_effects`), e ~ N(0, 1). Every pair has the same marginal
    error probability, so the true rates are integrals of the effects' densities (`true_rates`)."""
    generator = np.random.default_rng(seed)
    frames = []
    for r in range(replicates):
        counts = generator.choice(UNBALANCED_COUNTS, subjects, p=UNBALANCED_PROBABILITIES)
        u = subject_effects(generator, subjects, sd, tails)
        v = subject_effects(generator, subjects, sd, tails)
        a = np.repeat(np.arange(subjects), counts)
        b = (a + generator.integers(1, subjects, a.size)) % subjects
        impostor = u[a] + u[b] + generator.normal(0, 1, a.size)
        genuine = 4 + v[a] + generator.normal(0, 1, a.size)
        base = r * subjects
        frames.append(
            pd.DataFrame(
                {
                    "score": np.r_[impostor, genuine],
                    "genuine": np.r_[np.zeros(a.size, int), np.ones(a.size, int)],
                    "rep": f"r{r:04d}",
                    "a": np.r_[a, a] + base,
                    "b": np.r_[b, a] + base,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def true_rates(sd: float, tails: str, threshold: float) -> tuple[float, float]:
    """(FMR, FNMR) of `unbalanced_scores` by numerical integration (independent of the audit):
    FNMR = E[Phi(T - 4 - v)], FMR = E[Phi(u_a + u_b - T)] with the density of u_a + u_b by FFT convolution."""
    from scipy import integrate, signal, stats

    def density(x: np.ndarray) -> np.ndarray:
        if tails == "t3":
            return np.asarray(stats.t.pdf(x / sd * np.sqrt(3), 3) * np.sqrt(3) / sd)
        return np.asarray(stats.norm.pdf(x, 0, sd))

    fnmr = integrate.quad(
        lambda v: density(np.asarray(v)) * stats.norm.cdf(threshold - 4 - v), -60, 60, limit=500
    )[0]
    grid = np.linspace(-60, 60, 240_001)
    step = grid[1] - grid[0]
    total = signal.fftconvolve(density(grid), density(grid), mode="same") * step
    fmr = float((total * stats.norm.cdf(grid - threshold)).sum() * step)
    return fmr, float(fnmr)


@pytest.fixture(scope="session")
def make_gaussian() -> Callable[..., pd.DataFrame]:
    return gaussian_scores


@pytest.fixture(scope="session")
def make_unbalanced() -> Callable[..., pd.DataFrame]:
    return unbalanced_scores


@pytest.fixture(scope="session")
def make_clustered() -> Callable[..., pd.DataFrame]:
    return clustered_scores
