"""Coverage of the subject-clustered FMR and FNMR intervals, at full size (docs/biometrics.md quotes it).

    python benchmarks/biometrics_coverage.py --replicates 600

Designs (the generators and closed-form truths are the tests', tests/biometrics/conftest.py): balanced
(40 subjects, every impostor pair, 3 genuine pairs each, normal effects); unbalanced (1/3/20/200
comparisons per subject with probabilities .5/.3/.15/.05) with normal or Student t(3) subject effects, 100
or 400 subjects; rare errors (the unbalanced t(3) design at a strict threshold). Each figure is printed
with the 99% acceptance region of Binomial(replicates, 0.95), the misses below the truth, the share
of rows flagged as not to be trusted and the misses among rows that carry no such flag.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import binom, norm

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "biometrics"))
from conftest import clustered_scores, true_rates, unbalanced_scores

from misflag.biometrics import audit_biometrics

SD = 0.6
FLAGS = ("cannot be trusted", "a few subjects carry")  # the rows' warnings where coverage is not assured


def _run(name: str, frame: object, threshold: float, truths: tuple[float, float], replicates: int) -> None:
    result = audit_biometrics(
        frame,
        score="score",
        genuine="genuine",
        group="rep",
        threshold=threshold,
        bins=100,
        subject_a="a",
        subject_b="b",
    )
    low, high = binom.interval(0.99, replicates, 0.95)
    for metric, truth in zip(("fmr", "fnmr"), truths, strict=True):
        rows = result.select(metric=metric, attribute="rep")
        covered = sum(r["ci_low"] <= truth <= r["ci_high"] for r in rows) / len(rows)
        below = sum(r["ci_high"] < truth for r in rows)
        marked = [any(f in (r["warning"] or "") for f in FLAGS) for r in rows]
        flagged = sum(marked) / len(rows)
        missed_unflagged = sum(
            not (r["ci_low"] <= truth <= r["ci_high"]) and not m for r, m in zip(rows, marked, strict=True)
        )
        verdict = "inside" if low / replicates <= covered <= high / replicates else "OUTSIDE"
        print(
            f"| {name} | {metric.upper()} {truth:.4f} | {covered:.1%} | {low / replicates:.1%}-{high / replicates:.1%} "
            f"{verdict} | {below} | {flagged:.0%} | {missed_unflagged} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicates", type=int, default=600)
    args = parser.parse_args()
    reps = args.replicates
    print(
        "| design | metric (true rate) | coverage | 99% acceptance | misses below | rows flagged "
        "| misses in unflagged rows |"
    )
    print("|---|---|---|---|---|---|---|")
    balanced = (
        float(norm.sf(2.3 / np.sqrt(2 * SD**2 + 1))),
        float(norm.cdf((2.3 - 4) / np.sqrt(SD**2 + 1))),
    )
    _run("balanced, 40 subjects, normal", clustered_scores(reps, 40, 3, SD, seed=11), 2.3, balanced, reps)
    for tails in ("normal", "t3"):
        for subjects in (100, 400):
            frame = unbalanced_scores(reps, subjects, SD, tails, seed=subjects + len(tails))
            _run(f"unbalanced, {subjects} subjects, {tails}", frame, 2.3, true_rates(SD, tails, 2.3), reps)
    frame = unbalanced_scores(reps, 100, SD, "t3", seed=5)
    _run("rare errors (threshold 4), 100 subjects, t3", frame, 4.0, true_rates(SD, "t3", 4.0), reps)


if __name__ == "__main__":
    main()
