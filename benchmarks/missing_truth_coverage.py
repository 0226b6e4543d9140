"""Held-out coverage of the missing-truth ranges on two real data sets (issue 23), 1,000 replications per scheme.

The populations are ProPublica's COMPAS table (positive = score_text Medium or High, truth = two_year_recid;
African-American TN 990, FP 805, FN 532, TP 1369; Caucasian TN 1139, FP 349, FN 461, TP 505) and the
American National Election Study 1996 shipped inside statsmodels (944 voters; flag = voted Dole, truth =
party identification leaning Republican, PID >= 4; groups: a college degree or not, educ >= 5). Each
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

    python benchmarks/missing_truth_coverage.py                # COMPAS, R = 1,000
    python benchmarks/missing_truth_coverage.py 1000 anes      # ANES 1996, R = 1,000
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
from scipy import stats

from misflag.decisions._cells import Cells
from misflag.decisions._groups import groupings
from misflag.decisions._missing import Bound, Counts, Shift, bound_rates
from misflag.decisions._missing_mar import Keyed, MarAudit, mar_rates
from misflag.decisions._missing_prevalence import prevalence_rates
from misflag.decisions._spec import DecisionSpec

KEEP = {"flagged": (0.9, 0.7), "clear": (0.3, 0.5)}  # probability of a known truth, per group


@dataclass(frozen=True)
class Population:
    """A full-label table: group -> (TP, FP, FN, TN); the first group is compared with the second."""

    name: str
    cells: dict[str, tuple[int, int, int, int]]

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(self.cells)

    @property
    def true_fpr(self) -> np.ndarray:
        return np.array([fp / (fp + tn) for _, fp, _, tn in self.cells.values()])

    @property
    def true_ratio(self) -> float:
        return float(self.true_fpr[0] / self.true_fpr[1])


COMPAS = Population("COMPAS", {"African-American": (1369, 805, 532, 990), "Caucasian": (505, 349, 461, 1139)})


def anes() -> Population:
    """ANES 1996 from statsmodels: flag = voted Dole, truth = PID >= 4, group = college degree (educ >= 5)."""
    from statsmodels.datasets import anes96

    data = anes96.load_pandas().data
    flag, truth, degree = data["vote"] == 1, data["PID"] >= 4, data["educ"] >= 5
    cells = {}
    for name, member in (("college degree", degree), ("no college degree", ~degree)):
        tp, fp, fn, tn = (
            int((member & (flag == f) & (truth == t)).sum())
            for f, t in ((True, True), (True, False), (False, True), (False, False))
        )
        cells[name] = (tp, fp, fn, tn)
    return Population("ANES 1996", cells)


def draw(rng: np.random.Generator, replications: int, population: Population = COMPAS) -> np.ndarray:
    """(4 cells TP FP FN TN, R, 2 groups) full-label counts of samples drawn with replacement; groups are
    the last axis, as misflag.decisions._missing expects."""
    out = np.zeros((4, replications, 2))
    for g, cells in enumerate(population.cells.values()):
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


def covers(bound: Bound, population: Population = COMPAS, reference: int = 1) -> dict[str, np.ndarray]:
    """Per replication: does the 95% range cover each group's population FPR, and the FPR ratio?"""
    _, _, ratio_low, ratio_high = bound.ratio(reference)
    truth, ratio = population.true_fpr, population.true_ratio
    out = {
        f"fpr {name}": (bound.ci_low[:, g] <= truth[g]) & (truth[g] <= bound.ci_high[:, g])
        for g, name in enumerate(population.groups)
    }
    out["fpr ratio"] = (ratio_low[:, 0] <= ratio) & (ratio_high[:, 0] >= ratio)
    return out


def worst_case_coverage(
    replications: int, seed: int, population: Population = COMPAS
) -> dict[str, dict[str, int]]:
    rng = np.random.default_rng(seed)
    out = {}
    for scheme in ("flagged-only", "by-group-and-flag", "adversarial"):
        bound = bound_rates(hide(draw(rng, replications, population), scheme, rng), Shift())["fpr"]
        out[scheme] = {name: int(hit.sum()) for name, hit in covers(bound, population).items()}
    return out


def sensitivity_table(
    replications: int, seed: int, multiples: tuple[float, ...], population: Population = COMPAS
) -> list[tuple[float, float, float]]:
    """(delta / D0, share of ranges holding the sample's own FPR, share of 95% ranges covering the population's)."""
    rng = np.random.default_rng(seed)
    full = draw(rng, replications, population)
    counts, strength = select_with_strength(full, rng)
    sample_fpr = full[1] / (full[1] + full[3])
    rows = []
    for multiple in multiples:  # each replication at its own D0: delta is an (R, 1) column
        bound = bound_rates(counts, Shift(delta=multiple * strength[:, None]))["fpr"]  # type: ignore[arg-type]
        held = (bound.lower - 1e-12 <= sample_fpr) & (sample_fpr <= bound.upper + 1e-12)
        covered = (bound.ci_low <= population.true_fpr) & (bound.ci_high >= population.true_fpr)
        rows.append((multiple, float(held.all(axis=-1).mean()), float(covered.all(axis=-1).mean())))
    return rows


def mar_estimates(replications: int, seed: int, population: Population = COMPAS) -> np.ndarray:
    """(R, 2) MAR estimates of each group's FPR when truths are hidden by group and flag only (MAR holds)."""
    rng = np.random.default_rng(seed)
    counts = hide(draw(rng, replications, population), "by-group-and-flag", rng)
    keyed = Keyed(*(getattr(counts, name) for name in Counts.__dataclass_fields__))  # (R, keys = groups)
    return mar_rates(keyed, np.arange(2), 2)["fpr"]


def prevalence_coverage(
    replications: int, seed: int, share: float = 0.1, band: float = 0.0, population: Population = COMPAS
) -> dict[str, int]:
    """The whole COMPAS table is audited (flag and group counts fixed); a random `share` of the flagged keep
    their truth (the audit's hit sample), no one else does; each group's prevalence is the table's own,
    given with a range of +-`band`. How often the 95% interval covers the full-label FPR and FNR."""
    rng = np.random.default_rng(seed)
    table = population.cells.values()
    tp, fp, fn, tn = (np.array([cells[i] for cells in table], dtype=np.int64) for i in range(4))
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
        for metric, truth in (("fpr", population.true_fpr), ("fnr", true_fnr))
        for _, low, high in [estimates[metric]]
        for g, name in enumerate(population.groups)
    }


def mar_interval_coverage(
    replications: int, seed: int, bootstrap: int = 1000, population: Population = COMPAS
) -> dict[str, int]:
    """Truths hidden by group and flag only (MAR holds); how often MarAudit's bootstrap interval (the one
    the audit publishes, `bootstrap` replicates) covers each group's population FPR."""
    rng = np.random.default_rng(seed)
    counts = hide(draw(rng, replications, population), "by-group-and-flag", rng)
    spec = DecisionSpec(truth="t", flag="f", groups=("g",), missing_truth="mar", replicates=bootstrap)
    group = np.repeat(np.array(population.groups, dtype=object), 6)
    flags = np.tile(np.array([1, 1, 1, 0, 0, 0], dtype=np.int8), 2)[:, None]
    truth = np.tile(np.array([1, 0, -1, 1, 0, -1], dtype=np.int8), 2)
    hits = np.zeros(2, dtype=np.int64)
    for r in range(replications):
        count = np.stack([getattr(counts, name)[r] for name in Counts.__dataclass_fields__], axis=1).ravel()
        cells = Cells((group,), flags, truth, np.where(truth >= 0, 1.0, 0.0), count.astype(np.int64))
        every = groupings(spec, cells.keys, count.size)
        low, high = MarAudit(spec, cells, every).estimates[1][0]["fpr"].interval()
        hits += (low <= population.true_fpr) & (high >= population.true_fpr)
    return {f"fpr {name}": int(hits[g]) for g, name in enumerate(population.groups)}


def main(replications: int = 1000, population: Population = COMPAS) -> None:
    low = region(replications)
    print(
        f"{population.name} held-out coverage, R = {replications:,}; a 95% range passes with >= {low} covering"
    )
    for scheme, hits in worst_case_coverage(replications, 2023, population).items():
        shown = ", ".join(f"{name} {count}/{replications}" for name, count in hits.items())
        print(f"  worst case, {scheme}: {shown}")
    print("sensitivity at delta = m x D0 (selection of realised strength D0, median shown below):")
    print("  m      range holds sample FPR   95% range covers population FPR (both groups)")
    multiples = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)
    for multiple, held, covered in sensitivity_table(replications, 2024, multiples, population):
        print(f"  {multiple:<5g}  {100 * held:6.1f}%                  {100 * covered:6.1f}%")
    estimates = mar_estimates(replications, 2025, population)
    spread = estimates.std(axis=0, ddof=1) / np.sqrt(replications)
    for g, name in enumerate(population.groups):
        print(
            f"MAR (truths hidden by group and flag): mean FPR estimate {name} {estimates[:, g].mean():.4f} "
            f"(Monte Carlo s.e. {spread[g]:.4f}) vs full-label {population.true_fpr[g]:.4f}"
        )
    hits = mar_interval_coverage(replications, 2027, population=population)
    print(
        "MAR bootstrap intervals: "
        + ", ".join(f"{name} {count}/{replications}" for name, count in hits.items())
    )
    for band in (0.0, 0.02):
        hits = prevalence_coverage(replications, 2026, band=band, population=population)
        shown = ", ".join(f"{name} {count}/{replications}" for name, count in hits.items())
        print(f"prevalence (10% of flagged keep their truth, prevalence +-{band:g}): {shown}")
    rng = np.random.default_rng(2024)
    strength = select_with_strength(draw(rng, replications, population), rng)[1]
    print(f"  median D0: {np.median(strength):.3f}")


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 1000,
        anes() if sys.argv[2:] == ["anes"] else COMPAS,
    )
