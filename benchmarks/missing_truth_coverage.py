"""Held-out coverage of the missing-truth ranges on COMPAS (issue 23), 1,000 replications per scheme.

The population is ProPublica's COMPAS table (positive = score_text Medium or High, truth = two_year_recid;
African-American TN 990, FP 805, FN 532, TP 1369; Caucasian TN 1139, FP 349, FN 461, TP 505). Each
replication draws a sample of the same size with replacement, then hides truths by a selection we control:

- flagged-only: only flagged people keep their truth (ProPublica's data if nobody unflagged were followed up);
- by-group-and-flag: a truth is kept with a probability that depends on group and flag;
- adversarial: the hidden truths sit exactly at the range's end (the population FPR is the lower end for
  African-American defendants, the upper end for Caucasian ones, so the FPR ratio is at its lower end);
- strength D0: within each group and flag, positives keep their truth more often than negatives, so the
  unknown people's share of positives differs from the known people's by the realised D0.

Printed: how often each 95% range covers the population value, and the acceptance region of
Binomial(R, 0.95) (one-sided, 0.1%: ranges may over-cover, never under-cover); then for the sensitivity
ranges at delta = multiples of D0, how often the estimated range holds the sample's own full-label FPR
and how often the 95% range covers the population FPR.

    python benchmarks/missing_truth_coverage.py            # R = 1,000
"""

from __future__ import annotations

import sys

import numpy as np
from scipy import stats

from misflag.decisions._counts import Cells
from misflag.decisions._groups import groupings
from misflag.decisions._missing import Bound, Counts, Shift, bound_rates
from misflag.decisions._missing_mar import Keyed, MarAudit, mar_rates
from misflag.decisions._missing_prevalence import prevalence_rates
from misflag.decisions._spec import DecisionSpec

POPULATION = {  # group -> (TP, FP, FN, TN)
    "African-American": (1369, 805, 532, 990),
    "Caucasian": (505, 349, 461, 1139),
}
GROUPS = tuple(POPULATION)
TRUE_FPR = np.array([fp / (fp + tn) for _, fp, _, tn in POPULATION.values()])
TRUE_RATIO = TRUE_FPR[0] / TRUE_FPR[1]
KEEP = {"flagged": (0.9, 0.7), "clear": (0.3, 0.5)}  # probability of a known truth, per group


def draw(rng: np.random.Generator, replications: int) -> np.ndarray:
    """(4 cells TP FP FN TN, R, 2 groups) full-label counts of samples drawn with replacement; groups are
    the last axis, as misflag.decisions._missing expects."""
    out = np.zeros((4, replications, 2))
    for g, cells in enumerate(POPULATION.values()):
        total = sum(cells)
        out[:, :, g] = rng.multinomial(total, np.array(cells) / total, size=replications).T
    return out


def hide(full: np.ndarray, scheme: str, rng: np.random.Generator) -> Counts:
    """The counts with truths hidden by one of the schemes of the module's docstring."""
    tp, fp, fn, tn = full
    zero = np.zeros_like(tp)
    if scheme == "flagged-only":
        return Counts(tp, fp, zero, zero, zero, fn + tn)
    if scheme == "by-group-and-flag":
        flagged_keep = np.array(KEEP["flagged"])
        clear_keep = np.array(KEEP["clear"])
        kept = [rng.binomial(n.astype(np.int64), p) for n, p in ((tp, flagged_keep), (fp, flagged_keep))]
        kept += [rng.binomial(n.astype(np.int64), p) for n, p in ((fn, clear_keep), (tn, clear_keep))]
        k_tp, k_fp, k_fn, k_tn = (k.astype(float) for k in kept)
        return Counts(k_tp, k_fp, tp - k_tp + fp - k_fp, k_fn, k_tn, fn - k_fn + tn - k_tn)
    if scheme == "adversarial":
        # group 0 at its lower end (unknown flagged all positive, unknown unflagged all negative): hide TP, TN
        # group 1 at its upper end (the reverse): hide FP, FN
        low = np.array([1.0, 0.0])
        return Counts(
            tp * (1 - low),
            fp * low,
            tp * low + fp * (1 - low),
            fn * low,
            tn * (1 - low),
            tn * low + fn * (1 - low),
        )
    raise ValueError(scheme)


def select_with_strength(full: np.ndarray, rng: np.random.Generator) -> tuple[Counts, np.ndarray]:
    """Positives keep their truth with probability 0.6, negatives 0.4, in every group and flag: the counts
    and the realised D0 per replication (largest gap between unknown and known share of positives)."""
    tp, fp, fn, tn = (c.astype(np.int64) for c in full)
    k_tp, k_fp, k_fn, k_tn = (
        rng.binomial(n, p).astype(float) for n, p in ((tp, 0.6), (fp, 0.4), (fn, 0.6), (tn, 0.4))
    )
    counts = Counts(k_tp, k_fp, tp - k_tp + fp - k_fp, k_fn, k_tn, fn - k_fn + tn - k_tn)
    gaps = []
    for known_pos, known, unknown_pos, unknown in (
        (k_tp, k_tp + k_fp, tp - k_tp, tp - k_tp + fp - k_fp),
        (k_fn, k_fn + k_tn, fn - k_fn, fn - k_fn + tn - k_tn),
    ):
        gaps.append(np.abs(unknown_pos / unknown - known_pos / known))
    return counts, np.max(np.max(gaps, axis=0), axis=-1)


def region(replications: int, level: float = 0.95, alpha: float = 0.001) -> int:
    """Fewest covering ranges out of R that a 95% range passes (one-sided binomial test at alpha)."""
    return int(stats.binom.ppf(alpha, replications, level))


def covers(bound: Bound, reference: int = 1) -> dict[str, np.ndarray]:
    """Per replication: does the 95% range cover each group's population FPR, and the FPR ratio?"""
    _, _, ratio_low, ratio_high = bound.ratio(reference)
    out = {
        f"fpr {name}": (bound.ci_low[:, g] <= TRUE_FPR[g]) & (TRUE_FPR[g] <= bound.ci_high[:, g])
        for g, name in enumerate(GROUPS)
    }
    out["fpr ratio"] = (ratio_low[:, 0] <= TRUE_RATIO) & (ratio_high[:, 0] >= TRUE_RATIO)
    return out


def worst_case_coverage(replications: int, seed: int) -> dict[str, dict[str, int]]:
    rng = np.random.default_rng(seed)
    out = {}
    for scheme in ("flagged-only", "by-group-and-flag", "adversarial"):
        bound = bound_rates(hide(draw(rng, replications), scheme, rng), Shift())["fpr"]
        out[scheme] = {name: int(hit.sum()) for name, hit in covers(bound).items()}
    return out


def sensitivity_table(
    replications: int, seed: int, multiples: tuple[float, ...]
) -> list[tuple[float, float, float]]:
    """(delta / D0, share of ranges holding the sample's own FPR, share of 95% ranges covering the population's)."""
    rng = np.random.default_rng(seed)
    full = draw(rng, replications)
    counts, strength = select_with_strength(full, rng)
    sample_fpr = full[1] / (full[1] + full[3])
    rows = []
    for multiple in multiples:  # each replication at its own D0: delta is an (R, 1) column
        bound = bound_rates(counts, Shift(delta=multiple * strength[:, None]))["fpr"]  # type: ignore[arg-type]
        held = (bound.lower - 1e-12 <= sample_fpr) & (sample_fpr <= bound.upper + 1e-12)
        covered = (bound.ci_low <= TRUE_FPR) & (bound.ci_high >= TRUE_FPR)
        rows.append((multiple, float(held.all(axis=-1).mean()), float(covered.all(axis=-1).mean())))
    return rows


def mar_estimates(replications: int, seed: int) -> np.ndarray:
    """(R, 2) MAR estimates of each group's FPR when truths are hidden by group and flag only (MAR holds)."""
    rng = np.random.default_rng(seed)
    counts = hide(draw(rng, replications), "by-group-and-flag", rng)
    keyed = Keyed(*(getattr(counts, name) for name in Counts.__dataclass_fields__))  # (R, keys = groups)
    return mar_rates(keyed, np.arange(2), 2)["fpr"]


def prevalence_coverage(
    replications: int, seed: int, share: float = 0.1, band: float = 0.0
) -> dict[str, int]:
    """The whole COMPAS table is audited (flag and group counts fixed); a random `share` of the flagged keep
    their truth (the audit's hit sample), no one else does; each group's prevalence is the table's own,
    given with a range of +-`band`. How often the 95% interval covers the full-label FPR and FNR."""
    rng = np.random.default_rng(seed)
    tp, fp, fn, tn = (np.array([cells[i] for cells in POPULATION.values()], dtype=np.int64) for i in range(4))
    kept_tp = rng.binomial(np.broadcast_to(tp, (replications, 2)), share).astype(float)
    kept_fp = rng.binomial(np.broadcast_to(fp, (replications, 2)), share).astype(float)
    unknown = tp + fp - kept_tp - kept_fp
    zero = np.zeros_like(kept_tp)
    counts = Counts(
        kept_tp, kept_fp, unknown, zero, zero, np.broadcast_to((fn + tn).astype(float), (replications, 2))
    )
    rate = (tp + fn) / (tp + fp + fn + tn)
    estimates = prevalence_rates(counts, (rate, rate - band, rate + band), 0.95)
    true_fnr = fn / (fn + tp)
    return {
        f"{metric} {name}": int(((low[:, g] <= truth[g]) & (truth[g] <= high[:, g])).sum())
        for metric, truth in (("fpr", TRUE_FPR), ("fnr", true_fnr))
        for _, low, high in [estimates[metric]]
        for g, name in enumerate(GROUPS)
    }


def mar_interval_coverage(replications: int, seed: int, bootstrap: int = 1000) -> dict[str, int]:
    """Truths hidden by group and flag only (MAR holds); how often MarAudit's bootstrap interval (the one
    the audit publishes, `bootstrap` replicates) covers each group's population FPR."""
    rng = np.random.default_rng(seed)
    counts = hide(draw(rng, replications), "by-group-and-flag", rng)
    spec = DecisionSpec(truth="t", flag="f", groups=("g",), missing_truth="mar", replicates=bootstrap)
    group = np.repeat(np.array(GROUPS, dtype=object), 6)
    flags = np.tile(np.array([1, 1, 1, 0, 0, 0], dtype=np.int8), 2)[:, None]
    truth = np.tile(np.array([1, 0, -1, 1, 0, -1], dtype=np.int8), 2)
    hits = np.zeros(2, dtype=np.int64)
    for r in range(replications):
        count = np.stack([getattr(counts, name)[r] for name in Counts.__dataclass_fields__], axis=1).ravel()
        cells = Cells((group,), flags, truth, np.where(truth >= 0, 1.0, 0.0), count.astype(np.int64))
        every = groupings(spec, cells.keys, count.size)
        low, high = MarAudit(spec, cells, every).estimates[1][0]["fpr"].interval()
        hits += (low <= TRUE_FPR) & (high >= TRUE_FPR)
    return {f"fpr {name}": int(hits[g]) for g, name in enumerate(GROUPS)}


def main(replications: int = 1000) -> None:
    low = region(replications)
    print(f"COMPAS held-out coverage, R = {replications:,}; a 95% range passes with >= {low} covering")
    for scheme, hits in worst_case_coverage(replications, seed=2023).items():
        shown = ", ".join(f"{name} {count}/{replications}" for name, count in hits.items())
        print(f"  worst case, {scheme}: {shown}")
    print("sensitivity at delta = m x D0 (selection of realised strength D0, median shown below):")
    print("  m      range holds sample FPR   95% range covers population FPR (both groups)")
    for multiple, held, covered in sensitivity_table(replications, 2024, (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)):
        print(f"  {multiple:<5g}  {100 * held:6.1f}%                  {100 * covered:6.1f}%")
    estimates = mar_estimates(replications, 2025)
    spread = estimates.std(axis=0, ddof=1) / np.sqrt(replications)
    for g, name in enumerate(GROUPS):
        print(
            f"MAR (truths hidden by group and flag): mean FPR estimate {name} {estimates[:, g].mean():.4f} "
            f"(Monte Carlo s.e. {spread[g]:.4f}) vs full-label {TRUE_FPR[g]:.4f}"
        )
    hits = mar_interval_coverage(replications, 2027)
    print(
        "MAR bootstrap intervals: "
        + ", ".join(f"{name} {count}/{replications}" for name, count in hits.items())
    )
    for band in (0.0, 0.02):
        hits = prevalence_coverage(replications, 2026, band=band)
        shown = ", ".join(f"{name} {count}/{replications}" for name, count in hits.items())
        print(f"prevalence (10% of flagged keep their truth, prevalence +-{band:g}): {shown}")
    rng = np.random.default_rng(2024)
    print(f"  median D0: {np.median(select_with_strength(draw(rng, replications), rng)[1]):.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
