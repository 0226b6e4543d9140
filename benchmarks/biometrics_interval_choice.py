"""How the clustered interval was chosen: coverage of candidate intervals on every subject design.

    python benchmarks/biometrics_interval_choice.py [--replicates 1000] [--seed 3] [--design NAME ...]

A numpy prototype on the same per-subject sums the audit's SQL produces (errors e_s and comparisons n_s
per subject; an impostor pair counts at both its subjects), over the designs of
`benchmarks/biometrics_coverage.py`: balanced (40 subjects, every impostor pair, 3 genuine pairs each,
normal effects); unbalanced (1/3/20/200 comparisons of each kind per subject, probabilities
.5/.3/.15/.05; genuine pairs 4 + v_s + e, impostor pairs u_a + u_b + e with a random partner b) with
normal or t(3) subject effects (sd 0.6), 100 or 400 subjects, threshold 2.3; rare errors (the t(3)
design at threshold 4). Candidates, all with t quantiles on G* - 1 (G* Kish's effective number of
subjects) unless said otherwise:

* the earlier jackknife effective size with Korn & Graubard's t_(C-1) ("jackknife KG");
* CR2 (Bell & McCaffrey 2002): the cluster-robust variance with each subject's score divided by
  sqrt(1 - n_s/N), t on the Satterthwaite degrees of freedom of the working-independence model;
* "Wilson, design effect": Wilson at N / deff, deff the cluster-robust variance over the binomial one;
* the cluster score interval and the logit jackknife (docs/biometrics.md), their hull with Wilson
  (what misflag uses);
* subject bootstrap (Schuckers' two-instance bootstrap, resampling subjects; impostor pairs through their
  subjects' node sums): percentile, BCa (Efron 1987; acceleration from the delete-one-subject jackknife),
  and studentised (bootstrap-t, the cluster-robust standard error in each draw); 400 draws;
* "skew-corrected": Hall's (1992) correction of the t interval by the skewness of the errors' total,
  sum r_s^3 / (sum r_s^2)^1.5 with r_s = e_s - p n_s (both ends moved by se * kappa * (2t^2 + 1) / 6);
* "Poisson on subjects with errors": p * [L(k), U(k)] / k for k subjects with an error, L and U the exact
  Poisson limits (an interval on the number of subjects with errors; the hull's when k = 0);
* the hull widened by the bootstrap-t, by the skew correction's upper end, or (when k < 10) by the
  Poisson interval;
* tried later (issue 24's remaining items): the two-stage bootstrap (Schuckers 2010, ch. 3: subjects,
  then comparisons within each drawn subject), percentile limits, alone and in the hull; Korn &
  Graubard's Clopper-Pearson at the cluster-robust effective size with t on G* - 1, alone and in the
  hull; CR2 on the logit scale. Bolle's subsets bootstrap, with subjects as the subsets, is the subject
  bootstrap above;
* tried last (issue 24, step 2): a betting confidence interval (Waudby-Smith & Ramdas 2024, JRSS-B,
  hedged capital with predictable plug-in bets, fixed-n form), which holds at any number of subjects for
  bounded variables: the set of rates r not rejected by the test of E[e_s - r n_s] = 0 with
  e_s - r n_s in [-r M, (1 - r) M], M the largest n_s ("betting, pair-weighted": the audit's estimand);
  the same test on the subject rates e_s / n_s in [0, 1] ("betting, subject rates": the mean of the
  subjects' rates, equal to the pair-weighted rate only when comparison counts are independent of the
  subject effects, as in these designs); each alone, and in place of the misflag hull (or, for the
  subject rates, also in a hull with it) only on the rows the audit flags (fewer than 10 subjects with an error, G* under 30 or under a
  quarter of the subjects). For impostor pairs the subjects' node sums are dependent (a pair counts at
  both its subjects), which the betting test's guarantee does not allow: FMR figures are indicative.

Prints coverage, misses below the truth and mean width per design, metric and candidate, with the 99%
acceptance region of Binomial(replicates, 0.95). Truths by numerical integration (tests' conftest).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from itertools import combinations
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "biometrics"))
from conftest import UNBALANCED_COUNTS, UNBALANCED_PROBABILITIES, true_rates

SD, GENUINE_MEAN = 0.6, 4.0
Z = float(stats.norm.ppf(0.975))
BOOTSTRAPS = 400
FEW_WITH_ERRORS = 10
Interval = tuple[float, float]
#: per kind: (errors per subject, comparisons per subject, total errors, total comparisons, dyadic)
Sums = tuple[np.ndarray, np.ndarray, float, float, bool]


def wilson(x: float, n: float) -> Interval:
    p = x / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * np.sqrt(max(p * (1 - p) / n + Z * Z / (4 * n * n), 0.0)) / (1 + Z * Z / n)
    return centre - half, centre + half


def _robust(e: np.ndarray, n: np.ndarray, total_e: float, total_n: float, dyadic: bool) -> float:
    """Cluster-robust variance of the rate (the dyadic diagonal removed for impostor pairs)."""
    p = total_e / total_n
    r = e - p * n
    variance = float((r * r).sum())
    if dyadic:
        variance -= total_e * (1 - 2 * p) + p * p * total_n
    g = e.size
    return max(variance, 0.0) * g / (g - 1) / total_n**2


def _hull(*intervals: Interval) -> Interval:
    return min(i[0] for i in intervals), max(i[1] for i in intervals)


def _bootstrap(sums: Sums, rng: np.random.Generator, p: float, se: float) -> dict[str, Interval]:
    e, n, total_e, total_n, _ = sums
    g = e.size
    draws = rng.integers(0, g, (BOOTSTRAPS, g))
    eb, nb = e[draws], n[draws]
    pb = eb.sum(1) / nb.sum(1)
    out = {"bootstrap percentile": (float(np.percentile(pb, 2.5)), float(np.percentile(pb, 97.5)))}
    rest = total_n - n
    keep = rest > 0
    jack = (total_e - e[keep]) / rest[keep]
    d = jack.mean() - jack
    spread = float((d * d).sum())
    accel = float((d**3).sum() / (6 * spread**1.5)) if spread > 0 else 0.0
    share = float(np.clip((pb < p).mean(), 1 / BOOTSTRAPS, 1 - 1 / BOOTSTRAPS))
    z0 = float(stats.norm.ppf(share))
    levels = []
    for z in (-Z, Z):
        adjusted = z0 + (z0 + z) / (1 - accel * (z0 + z))
        levels.append(100 * float(np.clip(stats.norm.cdf(adjusted), 0.0, 1.0)))
    out["bootstrap BCa"] = (float(np.percentile(pb, levels[0])), float(np.percentile(pb, levels[1])))
    rb = eb - pb[:, None] * nb
    seb = np.sqrt((rb * rb).sum(1) * g / (g - 1)) / nb.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        pivots = (pb - p) / seb
    pivots = pivots[np.isfinite(pivots)]
    if se > 0 and pivots.size > 10:
        q_low, q_high = np.percentile(pivots, [2.5, 97.5])
        out["bootstrap-t"] = (p - q_high * se, p - q_low * se)
    return out


def _korn_graubard(p: float, se: float, total_n: float, kish: float) -> Interval:
    """Korn & Graubard (1998): Clopper-Pearson at the effective size p (1 - p) / se^2 (at most N), scaled
    by (t_(N-1) / t_(G*-1))^2 for the subjects' degrees of freedom."""
    size = min(total_n, p * (1 - p) / (se * se)) if se > 0 and 0 < p < 1 else total_n
    size *= (stats.t.ppf(0.975, total_n - 1) / stats.t.ppf(0.975, max(kish - 1, 1))) ** 2
    x = p * size
    low = float(stats.beta.ppf(0.025, x, size - x + 1)) if x > 0 else 0.0
    high = float(stats.beta.ppf(0.975, x + 1, size - x)) if x < size else 1.0
    return low, high


def _two_stage(sums: Sums, rng: np.random.Generator) -> Interval:
    """Two-stage bootstrap (Schuckers 2010, ch. 3; Davison & Hinkley 1997, 3.8): subjects resampled, then
    each drawn subject's comparisons resampled (a binomial draw at its own rate; an impostor pair's node
    sums taken as the subject's own), percentile limits."""
    e, n, _, _, _ = sums
    draws = rng.integers(0, e.size, (BOOTSTRAPS, e.size))
    errors = rng.binomial(n[draws].astype(np.int64), np.clip(e[draws] / n[draws], 0.0, 1.0))
    rates = errors.sum(1) / n[draws].sum(1)
    return float(np.percentile(rates, 2.5)), float(np.percentile(rates, 97.5))


def _bet_rejects(e: np.ndarray, n: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Per candidate rate r: whether the hedged-capital test rejects E[e_s - r n_s] = 0 at 5%, with
    x_s = (e_s - r n_s) / M in [-r, 1 - r] (M = max n_s) and the bets of Waudby-Smith & Ramdas (2024)."""
    r = rates[:, None]
    x = (e[None, :] - r * n[None, :]) / n.max()
    y = x + r  # in [0, 1], mean r under the null
    step = np.arange(1, e.size + 1)
    mean = (0.5 + np.cumsum(y, 1)) / (step + 1)
    variance = (0.25 + np.cumsum((y - mean) ** 2, 1)) / (step + 1)
    previous = np.concatenate([np.full((rates.size, 1), 0.25), variance[:, :-1]], 1)
    bet = np.sqrt(2 * np.log(2 / 0.05) / (e.size * previous))
    up = np.cumsum(np.log1p(np.minimum(bet, 0.5 / np.maximum(r, 1e-300)) * x), 1)
    down = np.cumsum(np.log1p(-np.minimum(bet, 0.5 / np.maximum(1 - r, 1e-300)) * x), 1)
    return np.asarray((np.logaddexp(up, down) + np.log(0.5)).max(1) >= np.log(1 / 0.05))


def betting(e: np.ndarray, n: np.ndarray) -> Interval:
    """The rates the betting test does not reject: a grid, then bisection at both ends."""
    p = e.sum() / n.sum()
    grid = np.unique(np.r_[np.linspace(0, 1, 401), p * np.geomspace(1e-3, 1e3, 401)])
    grid = grid[(grid >= 0) & (grid <= 1)]
    kept = np.nonzero(~_bet_rejects(e, n, grid))[0]
    if kept.size == 0:
        return p, p

    def end(inside: float, outside: float) -> float:
        for _ in range(40):
            middle = (inside + outside) / 2
            if _bet_rejects(e, n, np.asarray([middle]))[0]:
                outside = middle
            else:
                inside = middle
        return inside

    first, last = kept[0], kept[-1]
    low = grid[first] if first == 0 else end(grid[first], grid[first - 1])
    high = grid[last] if last == grid.size - 1 else end(grid[last], grid[last + 1])
    return float(low), float(high)


def _flagged(e: np.ndarray, n: np.ndarray) -> bool:
    """The audit's warnings: few subjects with an error, or a few subjects carrying most comparisons."""
    kish = n.sum() ** 2 / (n**2).sum()
    return bool((e > 0).sum() < FEW_WITH_ERRORS or kish < 30 or kish < 0.25 * e.size)


def candidates(sums: Sums, rng: np.random.Generator) -> dict[str, Interval]:
    """Every candidate interval for one kind of one replicate."""
    e, n, total_e, total_n, dyadic = sums
    p = total_e / total_n
    g = e.size
    rest = total_n - n
    keep = rest > 0
    q = (total_e - e[keep]) / rest[keep]
    c = float(keep.sum())
    jack = (c - 1) / c * float(((q - q.mean()) ** 2).sum())
    kish = n.sum() ** 2 / (n**2).sum()
    t_kish = float(stats.t.ppf(0.975, max(kish - 1, 1)))
    usable = 0 < p < 1 and c > 2 and jack > 0
    out: dict[str, Interval] = {"Wilson (pairs independent)": wilson(total_e, total_n)}
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
    hull = _hull(wilson(total_e, total_n), out["cluster score"], out["logit jackknife"])
    out["hull (misflag)"] = hull
    se = float(np.sqrt(_robust(e, n, total_e, total_n, dyadic)))
    # CR2: scores divided by sqrt(1 - n_s / N); Satterthwaite df of the working-independence model
    r = e - p * n
    cr2 = float(np.sqrt((r * r / np.maximum(1 - n / total_n, 1e-9)).sum())) / total_n
    weight = 1 / np.maximum(1 - n / total_n, 1e-9)
    diag, vec = weight * n, np.sqrt(weight) * n
    trace = diag.sum() - (vec * vec).sum() / total_n
    square = (diag * diag).sum() - 2 * (diag * vec * vec).sum() / total_n + ((vec * vec).sum() / total_n) ** 2
    t_bm = float(stats.t.ppf(0.975, max(trace * trace / square - 1, 1)))
    out["CR2 (Bell-McCaffrey)"] = (p - t_bm * cr2, p + t_bm * cr2)
    if 0 < p < 1:
        logit, spread = np.log(p / (1 - p)), t_bm * cr2 / (p * (1 - p))
        out["logit CR2 (Bell-McCaffrey)"] = (
            float(1 / (1 + np.exp(-(logit - spread)))),
            float(1 / (1 + np.exp(-(logit + spread)))),
        )
    else:
        out["logit CR2 (Bell-McCaffrey)"] = wilson(total_e, total_n)
    out["Korn-Graubard Clopper-Pearson"] = _korn_graubard(p, se, total_n, kish)
    deff = max(se * se / (p * (1 - p) / total_n), 1.0) if 0 < p < 1 else 1.0
    scale = (t_kish / Z) ** 2 * deff
    out["Wilson, design effect"] = wilson(total_e / scale, total_n / scale)
    out.update(_bootstrap(sums, rng, p, se))
    out["two-stage bootstrap"] = _two_stage(sums, rng)
    variance = se * se * total_n**2 * (g - 1) / g  # sum of r_s^2, the impostor diagonal removed
    skew = float((r**3).sum() / variance**1.5) if variance > 0 else 0.0
    shift = se * skew * (2 * t_kish**2 + 1) / 6
    out["skew-corrected"] = (p - t_kish * se + shift, p + t_kish * se + shift)
    with_errors = int((e > 0).sum())
    if with_errors:
        low = stats.chi2.ppf(0.025, 2 * with_errors) / 2 / with_errors
        high = stats.chi2.ppf(0.975, 2 * with_errors + 2) / 2 / with_errors
        out["Poisson on subjects with errors"] = (p * low, min(p * high, 1.0))
    else:
        out["Poisson on subjects with errors"] = hull
    if "bootstrap-t" in out:
        out["hull + bootstrap-t"] = _hull(hull, out["bootstrap-t"])
    else:
        out["bootstrap-t"] = out["hull + bootstrap-t"] = hull
    out["hull + skew upper end"] = (hull[0], hull[1] + max(shift, 0.0))
    poisson = out["Poisson on subjects with errors"]
    out["hull + Poisson (k < 10)"] = _hull(hull, poisson) if with_errors < FEW_WITH_ERRORS else hull
    out["hull + Korn-Graubard"] = _hull(hull, out["Korn-Graubard Clopper-Pearson"])
    out["hull + two-stage bootstrap"] = _hull(hull, out["two-stage bootstrap"])
    pair_weighted, subject_rates = betting(e, n), betting(e / n, np.ones_like(n))
    flagged = _flagged(e, n)
    out["betting, pair-weighted"] = pair_weighted
    out["betting, subject rates"] = subject_rates
    out["flagged rows: betting, pair-weighted"] = pair_weighted if flagged else hull
    out["flagged rows: betting, subject rates"] = subject_rates if flagged else hull
    out["flagged rows: hull + betting, subject rates"] = _hull(hull, subject_rates) if flagged else hull
    return out


def _effect(rng: np.random.Generator, size: int, tails: str) -> np.ndarray:
    return SD * (rng.standard_t(3, size) / np.sqrt(3) if tails == "t3" else rng.normal(0, 1, size))


def unbalanced(
    subjects: int, tails: str, threshold: float
) -> Callable[[np.random.Generator], tuple[Sums, Sums]]:
    def draw(rng: np.random.Generator) -> tuple[Sums, Sums]:
        counts = rng.choice(UNBALANCED_COUNTS, subjects, p=UNBALANCED_PROBABILITIES)
        owner = np.repeat(np.arange(subjects), counts)
        v, u = _effect(rng, subjects, tails), _effect(rng, subjects, tails)
        miss = (GENUINE_MEAN + v[owner] + rng.normal(0, 1, owner.size)) < threshold
        partner = (owner + rng.integers(1, subjects, owner.size)) % subjects
        hit = (u[owner] + u[partner] + rng.normal(0, 1, owner.size)) > threshold
        return _sums(owner, partner, hit, subjects), _sums(owner, None, miss, subjects)

    return draw


def balanced(
    subjects: int, samples: int, threshold: float
) -> Callable[[np.random.Generator], tuple[Sums, Sums]]:
    pairs = np.asarray(list(combinations(range(subjects), 2)))
    person = np.repeat(np.arange(subjects), len(list(combinations(range(samples), 2))))

    def draw(rng: np.random.Generator) -> tuple[Sums, Sums]:
        u, v = _effect(rng, subjects, "normal"), _effect(rng, subjects, "normal")
        hit = (u[pairs[:, 0]] + u[pairs[:, 1]] + rng.normal(0, 1, len(pairs))) > threshold
        miss = (GENUINE_MEAN + v[person] + rng.normal(0, 1, person.size)) < threshold
        return _sums(pairs[:, 0], pairs[:, 1], hit, subjects), _sums(person, None, miss, subjects)

    return draw


def _sums(owner: np.ndarray, partner: np.ndarray | None, error: np.ndarray, subjects: int) -> Sums:
    e = np.bincount(owner, error, subjects)
    n = np.bincount(owner, minlength=subjects).astype(float)
    if partner is not None:
        e = e + np.bincount(partner, error, subjects)
        n = n + np.bincount(partner, minlength=subjects)
    used = n > 0
    return e[used], n[used], float(error.sum()), float(error.size), partner is not None


def _balanced_truth(threshold: float) -> tuple[float, float]:
    return (
        float(stats.norm.sf(threshold / np.sqrt(2 * SD**2 + 1))),
        float(stats.norm.cdf((threshold - GENUINE_MEAN) / np.sqrt(SD**2 + 1))),
    )


DESIGNS = {
    "balanced, 40 subjects, normal": (lambda: balanced(40, 3, 2.3), lambda: _balanced_truth(2.3)),
    "unbalanced, 100 subjects, normal": (
        lambda: unbalanced(100, "normal", 2.3),
        lambda: true_rates(SD, "normal", 2.3),
    ),
    "unbalanced, 400 subjects, normal": (
        lambda: unbalanced(400, "normal", 2.3),
        lambda: true_rates(SD, "normal", 2.3),
    ),
    "unbalanced, 100 subjects, t3": (lambda: unbalanced(100, "t3", 2.3), lambda: true_rates(SD, "t3", 2.3)),
    "unbalanced, 400 subjects, t3": (lambda: unbalanced(400, "t3", 2.3), lambda: true_rates(SD, "t3", 2.3)),
    "rare errors (threshold 4), 100 subjects, t3": (
        lambda: unbalanced(100, "t3", 4.0),
        lambda: true_rates(SD, "t3", 4.0),
    ),
}


def run(name: str, replicates: int, seed: int) -> None:
    make, truth_of = DESIGNS[name]
    draw = make()
    truths = truth_of()
    rng = np.random.default_rng(seed)
    tallies: dict[tuple[str, str], list[float]] = {}
    for _ in range(replicates):
        for metric, truth, sums in zip(("FMR", "FNMR"), truths, draw(rng), strict=True):
            for candidate, (low, high) in candidates(sums, rng).items():
                tally = tallies.setdefault((metric, candidate), [0, 0, 0.0])
                tally[0] += int(low <= truth <= high)
                tally[1] += int(high < truth)
                tally[2] += high - low
    low, high = stats.binom.interval(0.99, replicates, 0.95)
    print(
        f"\n{name}: {replicates} replicates, true FMR {truths[0]:.4f}, FNMR {truths[1]:.4f}; "
        f"99% acceptance {low / replicates:.1%}-{high / replicates:.1%}"
    )
    print("| metric | candidate | coverage | misses below | mean width |")
    print("|---|---|---|---|---|")
    for (metric, candidate), (hits, below, width) in sorted(tallies.items()):
        mark = "" if low <= hits <= high else " (outside)"
        print(
            f"| {metric} | {candidate} | {hits / replicates:.1%}{mark} | {below:.0f} | {width / replicates:.4f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--design", action="append", choices=sorted(DESIGNS))
    args = parser.parse_args()
    for offset, name in enumerate(args.design or DESIGNS):
        run(name, args.replicates, args.seed + offset)


if __name__ == "__main__":
    main()
