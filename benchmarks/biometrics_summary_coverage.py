"""Coverage of the summaries' intervals (max/min, max/geomean, Gini, FDR) from Jeffreys draws.

    python benchmarks/biometrics_summary_coverage.py

Four groups with known FMR and FNMR, independent pairs (20,000 impostor and 2,000 genuine comparisons per
group); each replication draws the counts, and the interval is what the audit computes from them
(misflag.biometrics._measures: percentiles of Jeffreys draws, extended to the value at equality where
the groups' rates could all be equal). Designs: spread rates, equal rates, one group 10% higher, one
group 30% higher.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binom

from misflag.biometrics._measures import (
    INEQUALITY,
    fairness_discrepancy,
    fdr_interval,
    jeffreys_draws,
    summarise,
)

IMPOSTORS, GENUINES, REPLICATES, FDR_ALPHA = 20_000, 2_000, 600, 0.5
DESIGNS = {
    "spread": ([0.01, 0.015, 0.02, 0.03], [0.05, 0.04, 0.06, 0.08]),
    "equal": ([0.02] * 4, [0.05] * 4),
    "one 10% higher": ([0.02, 0.02, 0.02, 0.022], [0.05, 0.05, 0.05, 0.055]),
    "one 30% higher": ([0.02, 0.02, 0.02, 0.026], [0.05, 0.05, 0.05, 0.065]),
}


def coverage(fmr: np.ndarray, fnmr: np.ndarray, replicates: int, seed: int) -> dict[str, float]:
    """Share of replications whose interval holds the true value of each summary."""
    rng = np.random.default_rng(seed)
    truth = {name: float(measure(fmr[None, :])[0]) for name, measure in INEQUALITY.items()}
    truth["fdr"] = float(fairness_discrepancy(fmr, fnmr, FDR_ALPHA))
    hits = dict.fromkeys(truth, 0)
    for r in range(replicates):
        x, y = rng.binomial(IMPOSTORS, fmr), rng.binomial(GENUINES, fnmr)
        draws_x = jeffreys_draws(x.astype(float), np.full(fmr.size, float(IMPOSTORS)), seed + 2 * r)
        draws_y = jeffreys_draws(y.astype(float), np.full(fnmr.size, float(GENUINES)), seed + 2 * r + 1)
        for name in INEQUALITY:
            _, low, high = summarise(name, x / IMPOSTORS, draws_x)
            hits[name] += int(low is not None and high is not None and low <= truth[name] <= high)
        low_fdr, high_fdr = fdr_interval(draws_x, draws_y, FDR_ALPHA)
        hits["fdr"] += int(low_fdr <= truth["fdr"] <= high_fdr)
    return {name: count / replicates for name, count in hits.items()}


def main() -> None:
    low, high = binom.interval(0.99, REPLICATES, 0.95)
    print(f"{REPLICATES} replications; 99% acceptance region {low / REPLICATES:.1%}-{high / REPLICATES:.1%}")
    print("| design | max/min | max/geomean | Gini | FDR |")
    print("|---|---|---|---|---|")
    for seed, (name, (fmr, fnmr)) in enumerate(DESIGNS.items()):
        found = coverage(np.asarray(fmr), np.asarray(fnmr), REPLICATES, 100 * seed + 1)
        cells = " | ".join(f"{found[k]:.1%}" for k in ("max_min_ratio", "max_geomean_ratio", "gini", "fdr"))
        print(f"| {name} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
