"""Coverage of the summaries' intervals (max/min, max/geomean, Gini, FDR), and how their method was chosen.

    python benchmarks/biometrics_summary_coverage.py [--replicates 600] [--candidates]
    python benchmarks/biometrics_summary_coverage.py --clustered [--replicates 200]

Four groups with known FMR and FNMR, independent pairs (20,000 impostor and 2,000 genuine comparisons per
group); each replication draws the counts and computes the intervals from them. Designs: spread rates,
equal rates, one group 10% higher, one group 30% higher. Prints coverage (misses below / above the truth)
with the 99% acceptance region of Binomial(replicates, 0.95).

With --clustered, whole audits with subject ids instead (the intervals from the clustered effective
sizes): four groups of the unbalanced design of tests/biometrics/conftest.py (100 subjects each, normal
effects, sd 0.6, threshold 2.3), with equal rates, or spread ones (impostor scores shifted by 0, 0.2,
0.4, 0.6 and genuine scores by 0, -0.15, -0.3, -0.45 per group); true rates by numerical integration.

"misflag" is what the audit computes (misflag.biometrics._measures): the end towards equality by
inverting a chi-square score test over bands of rates, on a - 1 degrees of freedom for a groups at the
band's edges (max/min, Gini, FDR), or the chi-square test of equal rates and else the draws' 2.5th
percentile (max/geomean); the far end a percentile of Jeffreys draws. With --candidates also:
  * "percentiles": 2.5th and 97.5th percentiles of the measure over Jeffreys draws of the rates;
  * "Bonferroni box" (the method before): percentiles, the end towards equality moved to the measure's
    most equal value over a box of each group's central interval at level 1 - 0.05/k;
  * "band, k - 1 df": the band inversion with the cutoff of the test of equal rates at every width;
  * "band, a - 1 df, also max/geomean": misflag's band inversion applied to max/geomean too.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
from scipy.stats import binom

from misflag.biometrics._measures import (
    EQUAL,
    GRID,
    INEQUALITY,
    Observed,
    band_fits,
    chi_square_cutoff,
    closest_band,
    equal_rates_compatible,
    fairness_discrepancy,
    fdr_interval,
    jeffreys_draws,
    lowest_edge,
    summaries,
)

IMPOSTORS, GENUINES, FDR_ALPHA = 20_000, 2_000, 0.5
DESIGNS = {
    "spread (FMR 1-3%, FNMR 4-8%)": ([0.01, 0.015, 0.02, 0.03], [0.05, 0.04, 0.06, 0.08]),
    "equal": ([0.02] * 4, [0.05] * 4),
    "one group 10% higher": ([0.02, 0.02, 0.02, 0.022], [0.05, 0.05, 0.05, 0.055]),
    "one group 30% higher": ([0.02, 0.02, 0.02, 0.026], [0.05, 0.05, 0.05, 0.065]),
}
MEASURES = ("max_min_ratio", "max_geomean_ratio", "gini", "fdr")
Interval = tuple[float | None, float | None]
Method = Callable[[Observed, Observed], dict[str, Interval]]


def misflag(fm: Observed, fnm: Observed) -> dict[str, Interval]:
    """The audit's intervals."""
    out: dict[str, Interval] = {name: (low, high) for name, (_, low, high) in summaries(fm).items()}
    out["fdr"] = fdr_interval(fm, fnm, FDR_ALPHA)
    return out


def percentiles(fm: Observed, fnm: Observed) -> dict[str, Interval]:
    out: dict[str, Interval] = {}
    for name, measure in INEQUALITY.items():
        low, high = np.percentile(measure(fm.draws), [2.5, 97.5])
        out[name] = (float(low), float(high))
    low, high = np.percentile(fairness_discrepancy(fm.draws, fnm.draws, FDR_ALPHA), [2.5, 97.5])
    out["fdr"] = (float(low), float(high))
    return out


def _box(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tail = 100 * 0.05 / (2 * draws.shape[1])
    return np.percentile(draws, tail, axis=0), np.percentile(draws, 100 - tail, axis=0)


def bonferroni_box(fm: Observed, fnm: Observed) -> dict[str, Interval]:
    """The method before: percentiles widened to the most equal rates of a Bonferroni box."""
    out = percentiles(fm, fnm)
    low_box, high_box = _box(fm.draws)
    common = np.linspace(low_box.min(), high_box.max(), 400)
    clipped = np.clip(common[:, None], low_box[None, :], high_box[None, :])
    for name, measure in INEQUALITY.items():
        low, high = out[name]
        out[name] = (min(float(low or 0), float(np.nanmin(measure(clipped)))), high)
    gaps = [max(0.0, float(b[0].max() - b[1].min())) for b in (_box(fm.draws), _box(fnm.draws))]
    low, high = out["fdr"]
    out["fdr"] = (low, max(float(high or 0), 1 - FDR_ALPHA * gaps[0] - (1 - FDR_ALPHA) * gaps[1]))
    return out


def _band_low(fm: Observed, name: str, fixed_df: bool) -> float:
    if equal_rates_compatible(fm):
        return EQUAL[name]
    top = max(float(fm.rates.max()) / lowest_edge(fm), 1 + 2e-6)
    widths = np.geomspace(1 + 1e-6, top, GRID)
    fits, statistic, at_edges = band_fits(fm, widths, relative=True)
    df = np.full(widths.size, fm.rates.size - 1) if fixed_df else at_edges - 1
    first = int(np.argmax(statistic <= chi_square_cutoff(df)))
    return float(INEQUALITY[name](fits[first][None, :])[0])


def band_fixed_df(fm: Observed, fnm: Observed) -> dict[str, Interval]:
    out = percentiles(fm, fnm)
    for name in INEQUALITY:
        out[name] = (_band_low(fm, name, fixed_df=True), out[name][1])
    del out["fdr"]  # no FDR form
    return out


def band_for_geomean(fm: Observed, fnm: Observed) -> dict[str, Interval]:
    out = misflag(fm, fnm)
    band = closest_band(fm) if not equal_rates_compatible(fm) else None
    low = 1.0 if band is None else float(INEQUALITY["max_geomean_ratio"](band[None, :])[0])
    out["max_geomean_ratio"] = (low, out["max_geomean_ratio"][1])
    return out


CANDIDATES: dict[str, Method] = {
    "misflag": misflag,
    "percentiles": percentiles,
    "Bonferroni box": bonferroni_box,
    "band, k - 1 df": band_fixed_df,
    "band, a - 1 df, also max/geomean": band_for_geomean,
}


def coverage(
    fmr: np.ndarray, fnmr: np.ndarray, replicates: int, seed: int, methods: list[str]
) -> dict[str, dict[str, tuple[int, int]]]:
    """Per method and measure: (misses below the truth, misses above it)."""
    rng = np.random.default_rng(seed)
    truth = {name: float(measure(fmr[None, :])[0]) for name, measure in INEQUALITY.items()}
    truth["fdr"] = float(fairness_discrepancy(fmr, fnmr, FDR_ALPHA))
    misses: dict[str, dict[str, list[int]]] = {method: {} for method in methods}
    sizes_fm, sizes_fnm = np.full(fmr.size, float(IMPOSTORS)), np.full(fnmr.size, float(GENUINES))
    for r in range(replicates):
        x, y = rng.binomial(IMPOSTORS, fmr).astype(float), rng.binomial(GENUINES, fnmr).astype(float)
        fm = Observed(x / IMPOSTORS, sizes_fm, jeffreys_draws(x, sizes_fm, seed + 2 * r))
        fnm = Observed(y / GENUINES, sizes_fnm, jeffreys_draws(y, sizes_fnm, seed + 2 * r + 1))
        for method in methods:
            for name, (low, high) in CANDIDATES[method](fm, fnm).items():
                count = misses[method].setdefault(name, [0, 0])
                count[0] += int(low is None or truth[name] < low)  # an undefined interval misses
                count[1] += int(high is None or truth[name] > high)
    return {m: {name: (below, above) for name, (below, above) in v.items()} for m, v in misses.items()}


CLUSTERED = {
    "equal": ((0.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0)),
    "spread": ((0.0, 0.2, 0.4, 0.6), (0.0, -0.15, -0.3, -0.45)),
}


def clustered_coverage(replicates: int) -> None:
    """Coverage of the audit's summary rows with subject ids (see the module docstring)."""
    import sys
    from pathlib import Path

    import pandas as pd

    from misflag.biometrics import audit_biometrics

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "biometrics"))
    from conftest import true_rates, unbalanced_scores

    threshold = 2.3
    low, high = binom.interval(0.99, replicates, 0.95)
    print(f"{replicates} audits; 99% acceptance region {low / replicates:.1%}-{high / replicates:.1%}")
    print(
        "| rates | FMR max/min | FMR max/geomean | FMR Gini | FNMR max/min | FNMR max/geomean | FNMR Gini | FDR |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, (impostor_shift, genuine_shift) in CLUSTERED.items():
        fmr = np.asarray([true_rates(0.6, "normal", threshold - s)[0] for s in impostor_shift])
        fnmr = np.asarray([true_rates(0.6, "normal", threshold - s)[1] for s in genuine_shift])
        truth = {f"fmr_{m}": float(f(fmr[None, :])[0]) for m, f in INEQUALITY.items()}
        truth |= {f"fnmr_{m}": float(f(fnmr[None, :])[0]) for m, f in INEQUALITY.items()}
        truth["fdr"] = float(fairness_discrepancy(fmr, fnmr, FDR_ALPHA))
        hits = dict.fromkeys(truth, 0)
        for r in range(replicates):
            frames = []
            for g, (s_imp, s_gen) in enumerate(zip(impostor_shift, genuine_shift, strict=True)):
                frame = unbalanced_scores(1, 100, 0.6, "normal", seed=10_000 * r + g)
                frame["score"] += np.where(frame["genuine"] == 0, s_imp, s_gen)
                frame["grp"], frame["a"], frame["b"] = f"g{g}", frame["a"] + 1000 * g, frame["b"] + 1000 * g
                frames.append(frame)
            result = audit_biometrics(
                pd.concat(frames, ignore_index=True),
                score="score",
                genuine="genuine",
                group="grp",
                threshold=threshold,
                subject_a="a",
                subject_b="b",
                seed=r,
            )
            for row in result.select(group="(between groups)"):
                if row["metric"] in hits and row["ci_low"] is not None:
                    hits[row["metric"]] += int(row["ci_low"] <= truth[row["metric"]] <= row["ci_high"])
        order = [f"fmr_{m}" for m in INEQUALITY] + [f"fnmr_{m}" for m in INEQUALITY] + ["fdr"]
        print(f"| {name} | " + " | ".join(f"{hits[m] / replicates:.1%}" for m in order) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicates", type=int, default=600)
    parser.add_argument("--candidates", action="store_true", help="also the candidates that were not chosen")
    parser.add_argument("--clustered", action="store_true", help="whole audits with subject ids")
    args = parser.parse_args()
    if args.clustered:
        clustered_coverage(args.replicates)
        return
    methods = list(CANDIDATES) if args.candidates else ["misflag"]
    low, high = binom.interval(0.99, args.replicates, 0.95)
    print(
        f"{args.replicates} replications; 99% acceptance region "
        f"{low / args.replicates:.1%}-{high / args.replicates:.1%}; cells: coverage (misses below/above)"
    )
    print("| rates | method | max/min | max/geomean | Gini | FDR |")
    print("|---|---|---|---|---|---|")
    for seed, (name, (fmr, fnmr)) in enumerate(DESIGNS.items()):
        found = coverage(np.asarray(fmr), np.asarray(fnmr), args.replicates, 100 * seed + 1, methods)
        for method in methods:
            cells = " | ".join(
                f"{1 - sum(found[method][m]) / args.replicates:.1%} ({found[method][m][0]}/{found[method][m][1]})"
                if m in found[method]
                else "-"
                for m in MEASURES
            )
            print(f"| {name} | {method} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
