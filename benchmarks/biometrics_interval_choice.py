"""How the clustered interval was chosen: coverage of candidate intervals on an unbalanced subject design.

    python benchmarks/biometrics_interval_choice.py SEED SUBJECTS REPLICATES {t3,normal}

A numpy prototype on the same per-subject sums the audit's SQL produces. Each replicate: SUBJECTS people
with 1/3/20/200 comparisons (probabilities .5/.3/.15/.05) of each kind; genuine pairs 4 + v_s + e, impostor
pairs u_a + u_b + e with a random partner b; u, v subject effects (sd 0.6, normal or t(3)); threshold 2.3.
Candidates: the earlier jackknife effective size with Korn & Graubard's t_(C-1) ("jackknife KG"), the cluster
score interval, the logit jackknife (both with t on Kish's effective number of subjects G*), their hull with
Wilson (what misflag uses), and a subject bootstrap percentile interval of the FNMR (Schuckers).
"""

from __future__ import annotations

import sys

import numpy as np
from scipy import integrate, signal, stats

SD, THRESHOLD, GENUINE_MEAN = 0.6, 2.3, 4.0
COUNTS, PROBABILITIES = np.array([1, 3, 20, 200]), np.array([0.5, 0.3, 0.15, 0.05])
Z = float(stats.norm.ppf(0.975))
BOOTSTRAPS = 400


def wilson(x: float, n: float) -> tuple[float, float]:
    p = x / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * np.sqrt(max(p * (1 - p) / n + Z * Z / (4 * n * n), 0.0)) / (1 + Z * Z / n)
    return centre - half, centre + half


def candidates(
    e: np.ndarray, n: np.ndarray, total_e: float, total_n: float, dyadic: bool
) -> dict[str, tuple[float, float]]:
    """Per-subject errors e_s and comparisons n_s (an impostor pair counts at both subjects)."""
    p = total_e / total_n
    rest = total_n - n
    keep = rest > 0
    q = (total_e - e[keep]) / rest[keep]
    c = float(keep.sum())
    jack = (c - 1) / c * float(((q - q.mean()) ** 2).sum())
    kish = n.sum() ** 2 / (n**2).sum()
    t_kish = float(stats.t.ppf(0.975, max(kish - 1, 1)))
    usable = 0 < p < 1 and c > 2 and jack > 0
    out = {}
    size = min(total_n, p * (1 - p) / jack) if usable else total_n
    ratio = stats.t.ppf(0.975, total_n - 1) / stats.t.ppf(0.975, max(c - 1, 1))
    out["jackknife KG"] = wilson(p * size * ratio**2, size * ratio**2)
    ee, en, nn = (e * e).sum(), (e * n).sum(), (n * n).sum()
    if dyadic:
        ee, en, nn = ee - total_e, en - total_e, nn - total_n
    k = t_kish**2 * c / (c - 1)
    a, b, cc = total_n**2 - k * nn, total_e * total_n - k * en, total_e**2 - k * ee
    root = np.sqrt(max(b * b - a * cc, 0.0))
    out["cluster score"] = ((b - root) / a, (b + root) / a) if a > 0 else (0.0, 1.0)
    if usable:
        spread = t_kish * np.sqrt(jack) / (p * (1 - p))
        centre = np.log(p / (1 - p))
        out["logit jackknife"] = (1 / (1 + np.exp(-(centre - spread))), 1 / (1 + np.exp(-(centre + spread))))
    else:
        out["logit jackknife"] = wilson(total_e, total_n)
    low, high = wilson(total_e, total_n)
    out["hull (misflag)"] = (
        min(low, out["cluster score"][0], out["logit jackknife"][0]),
        max(high, out["cluster score"][1], out["logit jackknife"][1]),
    )
    return out


def main() -> None:
    seed, subjects, replicates, tails = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    rng = np.random.default_rng(seed)

    def effect(size: int) -> np.ndarray:
        return SD * (rng.standard_t(3, size) / np.sqrt(3) if tails == "t3" else rng.normal(0, 1, size))

    def density(x: np.ndarray) -> np.ndarray:
        if tails == "t3":
            return np.asarray(stats.t.pdf(x / SD * np.sqrt(3), 3) * np.sqrt(3) / SD)
        return np.asarray(stats.norm.pdf(x, 0, SD))

    true_fnmr = integrate.quad(
        lambda v: density(np.asarray(v)) * stats.norm.cdf(THRESHOLD - GENUINE_MEAN - v), -60, 60, limit=500
    )[0]
    grid = np.linspace(-60, 60, 240_001)
    step = grid[1] - grid[0]
    true_fmr = float(
        (
            signal.fftconvolve(density(grid), density(grid), mode="same")
            * step
            * stats.norm.cdf(grid - THRESHOLD)
        ).sum()
        * step
    )
    covered: dict[tuple[str, str], int] = {}
    for _ in range(replicates):
        counts = rng.choice(COUNTS, subjects, p=PROBABILITIES)
        owner = np.repeat(np.arange(subjects), counts)
        v, u = effect(subjects), effect(subjects)
        miss = (GENUINE_MEAN + v[owner] + rng.normal(0, 1, owner.size)) < THRESHOLD
        partner = (owner + rng.integers(1, subjects, owner.size)) % subjects
        hit = (u[owner] + u[partner] + rng.normal(0, 1, owner.size)) > THRESHOLD
        genuine_e = np.bincount(owner, miss, subjects)
        genuine_n = np.bincount(owner, minlength=subjects).astype(float)
        impostor_e = np.bincount(owner, hit, subjects) + np.bincount(partner, hit, subjects)
        impostor_n = (
            np.bincount(owner, minlength=subjects) + np.bincount(partner, minlength=subjects)
        ).astype(float)
        results = {
            "FMR": (true_fmr, candidates(impostor_e, impostor_n, float(hit.sum()), float(hit.size), True)),
            "FNMR": (true_fnmr, candidates(genuine_e, genuine_n, float(miss.sum()), float(miss.size), False)),
        }
        draws = rng.integers(0, subjects, (BOOTSTRAPS, subjects))
        resampled = genuine_e[draws].sum(1) / genuine_n[draws].sum(1)
        results["FNMR"][1]["subject bootstrap"] = tuple(np.percentile(resampled, [2.5, 97.5]))
        for metric, (truth, found) in results.items():
            for name, (low, high) in found.items():
                covered[(metric, name)] = covered.get((metric, name), 0) + int(low <= truth <= high)
    low, high = stats.binom.interval(0.99, replicates, 0.95)
    print(
        f"{subjects} subjects, {replicates} replicates, {tails} effects; true FMR {true_fmr:.4f}, FNMR {true_fnmr:.4f}"
    )
    print(
        f"99% acceptance region of Binomial({replicates}, 0.95): {low / replicates:.1%}-{high / replicates:.1%}"
    )
    for (metric, name), hits in sorted(covered.items()):
        print(f"{metric:5} {name:18} {hits / replicates:.1%}")


if __name__ == "__main__":
    main()
