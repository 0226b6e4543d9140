"""Weighted (audit-sample) mode: the cost of a weight distinct on every row, and the coverage of the
design-based intervals.

    python benchmarks/decisions_weight.py [--rows N] [--source-tree DIR]   # DIR/src on PYTHONPATH
    python benchmarks/decisions_weight.py --coverage [--repetitions 4000] [--seed 0]
    python benchmarks/decisions_weight.py --designs [--repetitions 2000] [--seed 21]

Cost (issue 20's `--weight` bomb: one cell and one stratum per row): time and peak RSS of `misflag
decisions audit` with and without it, and their ratios; the bar is 10 s and at most 512 MB over the
unweighted run's peak RSS.

Coverage (issue 21): see `simulate`; each band's count of covering intervals is set against the central
99.8% of Binomial(intervals, 0.95), its acceptance region.

Designs outside the claim (`--designs`, the adversary's of 2026-12-07): one group of 600 people per log,
audit samples whose strata do not follow the flag, hold a single audited row, or carry a weight per row;
each design's coverage, and how many of its intervals carry the row warning of decisions._weights_trust.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from misflag.decisions._cells import Cells
from misflag.decisions._metrics import RATE_METRICS, GroupSums, stage_masks

MB = 1024 * 1024


def write_log(path: Path, rows: int) -> None:
    """rid, race (4 values), flag and truth (0/1), seeded: the issue's 26 MB file at 2M rows."""
    rng = np.random.default_rng(1)
    race = rng.choice(["A", "B", "C", "D"], rows)
    flag, truth = rng.integers(0, 2, rows), rng.integers(0, 2, rows)
    with path.open("w") as out:
        out.write("rid,race,flag,truth\n")
        out.writelines(f"{i},{race[i]},{flag[i]},{truth[i]}\n" for i in range(rows))


def measure(arguments: list[str], env: dict[str, str]) -> tuple[float, float, bytes]:
    """Seconds, peak RSS in MB (this child alone: each run is its own `time`-wrapped process), output."""
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "misflag.cli", *arguments],
        capture_output=True,
        env=env,
        check=True,
    )
    seconds = time.perf_counter() - start
    peak_kb = int(done.stderr.decode().strip().splitlines()[-1])
    return seconds, peak_kb * 1024 / MB, done.stdout


#: Group sizes of each simulated log (people); truth ~ Bernoulli(0.3); flagged 70% of positives, 15% of negatives.
GROUP_SIZES = (40, 120, 400, 1500, 6000)
PREVALENCE, FLAGGED_IF_POSITIVE, FLAGGED_IF_NEGATIVE = 0.3, 0.7, 0.15
#: The process's rates, in closed form (the target: the rate of the process that produced the people).
TRUE_RATES = {
    "fpr": FLAGGED_IF_NEGATIVE,
    "fnr": 1 - FLAGGED_IF_POSITIVE,
    "precision": PREVALENCE
    * FLAGGED_IF_POSITIVE
    / (PREVALENCE * FLAGGED_IF_POSITIVE + (1 - PREVALENCE) * FLAGGED_IF_NEGATIVE),
}
#: Designs whose strata follow the flag: (share of flagged rows audited, share of unflagged rows audited).
#: The last audits everyone at weight 1, where the weighted interval is the unweighted Wilson interval.
DESIGNS = {
    "flagged 1/2, cleared 1/10": (0.5, 0.1),
    "flagged all (weight 1), cleared 1/10": (1.0, 0.1),
    "everyone (weight 1)": (1.0, 1.0),
}
METRICS = tuple(TRUE_RATES)
BANDS = ((1, 9), (10, 29), (30, 99), (100, None))


def band_of(audited: float) -> str:
    """The band of a rate's audited denominator, as the docs print it."""
    for low, high in BANDS:
        if high is None or audited <= high:
            return f"{low}+" if high is None else f"{low}-{high}"
    raise AssertionError(audited)


def region(intervals: int, level: float = 0.95, alpha: float = 0.002) -> tuple[int, int]:
    """Central 1 - alpha of Binomial(intervals, level): the counts a calibrated interval gives."""
    return int(stats.binom.ppf(alpha / 2, intervals, level)), int(
        stats.binom.isf(alpha / 2, intervals, level)
    )


@dataclass
class Tally:
    """One (design, metric, band): intervals, how many cover, miss low / high, zero-width ones, errors."""

    intervals: int = 0
    covered: int = 0
    above: int = 0  # the process's rate above the upper limit
    below: int = 0  # the process's rate below the lower limit
    zero_width: int = 0  # intervals whose limits coincide (the project promises none)
    errors: list[float] = field(default_factory=list)


def simulate(repetitions: int, seed: int) -> dict[tuple[str, str, str], Tally]:
    """Each repetition draws a fresh log from the process (every person's truth and flag independently,
    at the rates above), then, per design, a stratified audit sample of it: within the flagged and the
    cleared stratum a simple random sample of a fixed share, weight = stratum size / sample size. The
    target is the process's rate (`TRUE_RATES`), the same as an unweighted audit's."""
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(len(GROUP_SIZES)), GROUP_SIZES)
    tallies: dict[tuple[str, str, str], Tally] = {}
    for _ in range(repetitions):
        truth = (rng.random(group.size) < PREVALENCE).astype(np.int8)
        flagging = np.where(truth == 1, FLAGGED_IF_POSITIVE, FLAGGED_IF_NEGATIVE)
        flag = (rng.random(group.size) < flagging).astype(np.int8)
        for design, shares in DESIGNS.items():
            cells, sums = _audit_sample(rng, group, flag, truth, shares)
            masks = stage_masks(cells, 0)
            for metric, target in TRUE_RATES.items():
                estimate = sums.estimate(RATE_METRICS[metric], masks)
                for g in np.nonzero(estimate.denominator > 0)[0]:
                    tally = tallies.setdefault((design, metric, band_of(estimate.denominator[g])), Tally())
                    low, high = estimate.low[g], estimate.high[g]
                    tally.intervals += 1
                    tally.zero_width += bool(low >= high)
                    tally.covered += bool(low <= target <= high)
                    tally.above += bool(target > high)
                    tally.below += bool(target < low)
                    tally.errors.append(float(estimate.value[g] - target))
    return tallies


def _audit_sample(
    rng: np.random.Generator,
    group: np.ndarray,
    flag: np.ndarray,
    truth: np.ndarray,
    shares: tuple[float, float],
) -> tuple[Cells, GroupSums]:
    audited, weight = np.zeros(group.size, dtype=bool), np.zeros(group.size)
    for value, share in zip((1, 0), shares, strict=True):
        members = np.nonzero(flag == value)[0]
        taken = max(1, round(share * members.size))
        audited[rng.choice(members, taken, replace=False)] = True
        weight[members] = members.size / taken
    cells = Cells(
        keys=(group.astype(object),),
        flags=flag[:, None],
        truth=np.where(audited, truth, -1).astype(np.int8),
        weight=np.where(audited, weight, 0.0),
        count=np.ones(group.size, dtype=np.int64),
    )
    return cells, GroupSums(cells, group.astype(np.int64), len(GROUP_SIZES), design=True)


#: A design outside the claim: (rng, flag, region) -> (audited, weight) over the people of one log.
Sampler = Callable[[np.random.Generator, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
PEOPLE = 600


def _stratified(
    rng: np.random.Generator, strata: np.ndarray, shares: dict[int, float | int]
) -> tuple[np.ndarray, np.ndarray]:
    """A simple random sample of each stratum h: a share of it (a float) or that many rows (an int), at
    least one; weight = stratum size / sample size."""
    audited, weight = np.zeros(strata.size, dtype=bool), np.zeros(strata.size)
    for h, share in shares.items():
        members = np.nonzero(strata == h)[0]
        wanted = round(share * members.size) if isinstance(share, float) else share
        taken = min(max(1, wanted), members.size)
        audited[rng.choice(members, taken, replace=False)] = True
        weight[members] = members.size / taken
    return audited, weight


def _heavy_tailed(
    rng: np.random.Generator, flag: np.ndarray, region: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson sampling at heavy-tailed inclusion probabilities (Pareto weights, shape 1.5)."""
    weight = 1 + rng.pareto(1.5, flag.size) * 3
    return rng.random(flag.size) < 1 / weight, weight


#: name -> (sampler, outside the claim). The first two are inside it: strata that follow the flag, two or
#: more audited rows each.
OTHER_DESIGNS: dict[str, tuple[Sampler, bool]] = {
    "strata follow the flag, flagged 1/2, cleared 1/10": (
        lambda rng, flag, region: _stratified(rng, flag, {1: 0.5, 0: 0.1}),
        False,
    ),
    "flagged all, cleared through 2 audited rows": (
        lambda rng, flag, region: _stratified(rng, flag, {1: 1.0, 0: 2}),
        False,
    ),
    "two regions 1/2 and 1/10, flag-blind": (
        lambda rng, flag, region: _stratified(rng, region, {0: 0.5, 1: 0.1}),
        True,
    ),
    "one region audited whole, the other 1/10": (
        lambda rng, flag, region: _stratified(rng, region, {0: 1.0, 1: 0.1}),
        True,
    ),
    "Pareto(1.5) weights, one per row": (_heavy_tailed, True),
    "flagged all, cleared through 1 audited row": (
        lambda rng, flag, region: _stratified(rng, flag, {1: 1.0, 0: 1}),
        True,
    ),
}


@dataclass
class DesignTally:
    """One design and rate over many logs: intervals, covering ones, zero-width ones, ones warned."""

    intervals: int = 0
    covered: int = 0
    zero_width: int = 0
    warned: int = 0


def design_coverage(sampler: Sampler, metric: str, repetitions: int, seed: int) -> DesignTally:
    """Each log: one group of PEOPLE from the process (`TRUE_RATES`), a random region of each person (half
    and half) and an audit sample drawn by `sampler`; the target is the process's rate."""
    rng = np.random.default_rng(seed)
    tally = DesignTally()
    for _ in range(repetitions):
        truth = (rng.random(PEOPLE) < PREVALENCE).astype(np.int8)
        flagging = np.where(truth == 1, FLAGGED_IF_POSITIVE, FLAGGED_IF_NEGATIVE)
        flag = (rng.random(PEOPLE) < flagging).astype(np.int8)
        region = (rng.random(PEOPLE) < 0.5).astype(np.int8)
        audited, weight = sampler(rng, flag, region)
        cells = Cells(
            keys=(np.zeros(PEOPLE, dtype=object),),
            flags=flag[:, None],
            truth=np.where(audited, truth, -1).astype(np.int8),
            weight=np.where(audited, weight, 0.0),
            count=np.ones(PEOPLE, dtype=np.int64),
        )
        sums = GroupSums(cells, np.zeros(PEOPLE, dtype=np.int64), 1, design=True)
        estimate = sums.estimate(RATE_METRICS[metric], stage_masks(cells, 0))
        if not estimate.denominator[0] > 0:
            continue
        low, high = estimate.low[0], estimate.high[0]
        tally.intervals += 1
        tally.covered += bool(low <= TRUE_RATES[metric] <= high)
        tally.zero_width += bool(low >= high)
        tally.warned += estimate.notes[0] is not None
    return tally


def print_designs(repetitions: int, seed: int) -> None:
    """Coverage of the designs outside the claim (and two inside it), with each one's region and warnings."""
    print(f"{repetitions:,} logs of {PEOPLE} people per design and rate, seed {seed}")
    print("design | metric | intervals | coverage | region (99.8%) | zero-width | warned")
    for design, (sampler, _) in OTHER_DESIGNS.items():
        for metric in ("fpr", "fnr"):
            tally = design_coverage(sampler, metric, repetitions, seed)
            low, high = region(tally.intervals)
            inside = "in" if low <= tally.covered <= high else ("BELOW" if tally.covered < low else "above")
            print(
                f"{design} | {metric} | {tally.intervals} | {tally.covered / tally.intervals:.3f} | "
                f"{low / tally.intervals:.3f}-{high / tally.intervals:.3f} ({inside}) | {tally.zero_width} | "
                f"{tally.warned}"
            )


def print_coverage(repetitions: int, seed: int) -> None:
    """The coverage table with each band's acceptance region, misses by side, and the estimator's bias."""
    tallies = simulate(repetitions, seed)
    print(f"{repetitions:,} logs (groups of {', '.join(map(str, GROUP_SIZES))} people), seed {seed}")
    print(
        "design | metric | audited denominator | intervals | coverage | region (99.8%) | above | below | "
        "zero-width | bias (SE)"
    )
    order = [*DESIGNS], [*METRICS], [band_of(low) for low, _ in BANDS]
    for (design, metric, band), tally in sorted(
        tallies.items(), key=lambda item: tuple(o.index(k) for o, k in zip(order, item[0], strict=True))
    ):
        low, high = region(tally.intervals)
        inside = "in" if low <= tally.covered <= high else ("BELOW" if tally.covered < low else "above")
        errors = np.asarray(tally.errors)
        bias, se = errors.mean(), errors.std(ddof=1) / np.sqrt(errors.size) if errors.size > 1 else np.nan
        print(
            f"{design} | {metric} | {band} | {tally.intervals} | {tally.covered / tally.intervals:.3f} | "
            f"{low / tally.intervals:.3f}-{high / tally.intervals:.3f} ({inside}) | "
            f"{tally.above / tally.intervals:.3f} | {tally.below / tally.intervals:.3f} | {tally.zero_width} | "
            f"{bias:+.4f} ({se:.4f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--source-tree", type=Path)
    parser.add_argument("--coverage", action="store_true", help="run the coverage simulation instead")
    parser.add_argument("--designs", action="store_true", help="coverage of designs outside the claim")
    parser.add_argument("--repetitions", type=int)
    parser.add_argument("--seed", type=int)
    options = parser.parse_args()
    if options.designs:
        print_designs(options.repetitions or 2000, 21 if options.seed is None else options.seed)
        return
    if options.coverage:
        print_coverage(options.repetitions or 4000, options.seed or 0)
        return
    env = dict(os.environ)
    if options.source_tree:
        env["PYTHONPATH"] = str(options.source_tree / "src")
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) before the runs")
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "log.csv"
        write_log(log, options.rows)
        common = ["decisions", "audit", str(log), "--flag", "flag", "--truth", "truth", "--group", "race"]
        common += ["--format", "csv"]
        base_s, base_mb, _ = measure(common, env)
        bomb_s, bomb_mb, _ = measure([*common, "--weight", "1 + rid/1e9"], env)
    print(f"{options.rows:,} rows; load average {os.getloadavg()[0]:.2f} after")
    print(f"baseline (no --weight): {base_s:6.2f} s {base_mb:7.0f} MB")
    print(f"--weight '1 + rid/1e9': {bomb_s:6.2f} s {bomb_mb:7.0f} MB")
    print(
        f"ratio: time x{bomb_s / base_s:.1f}, peak RSS x{bomb_mb / base_mb:.2f} (+{bomb_mb - base_mb:.0f} MB)"
    )
    verdict = "meets" if bomb_s <= 10 and bomb_mb - base_mb <= 512 else "misses"
    print(f"{verdict} the issue's bar (<= 10 s, <= +512 MB)")


if __name__ == "__main__":
    main()
