"""Subject-clustered intervals for FMR and FNMR, as effective sample sizes for the Wilson interval.

Comparisons share subjects: an impostor pair (a, b) is correlated with every other pair involving a or
b, a genuine pair with every other genuine pair of its subject. Real galleries are unbalanced (a few
subjects carry hundreds of comparisons), which makes the rate's sampling distribution skewed and its
variance hard to estimate; no single interval held there in simulation (docs/biometrics.md), so the
interval is the hull of three, each with t quantiles on G* - 1 degrees of freedom, where
G* = (sum n_s)^2 / sum n_s^2 is the effective number of subjects (Kish's formula over the subjects'
comparison counts n_s; it equals the number of subjects when they are balanced):

* the **cluster score interval**: every p with (E - p N)^2 <= t^2 C/(C - 1) V(p), V(p) the
  cluster-robust variance of the errors' total at rate p, sum_s (e_s - p n_s)^2 (minus each impostor
  pair's own term, counted at both its subjects: the dyadic-robust form). Like Wilson's, it evaluates
  the variance at the candidate rate, so a few heavy subjects without errors still widen the upper end;
* the **logit jackknife interval**: logit(p) +- t sqrt(V_J) / (p (1 - p)), V_J the delete-one-subject
  jackknife variance (removing a subject with every comparison involving them; the node jackknife);
* the Wilson interval at the N comparisons (clustering only ever widens an interval).

Ratios and differences to the reference are MOVER from these limits; the summaries' Jeffreys draws use
the effective size whose Wilson interval is as wide as the hull. With no error (or no
success) observed the subject effect cannot be estimated: the pair count times (t_(N-1)/t_(G*-1))^2
is used and the row says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from misflag.biometrics._groups import Grouping
from misflag.stats import CONFIDENCE, normal_quantile

TAIL = 0.5 + CONFIDENCE / 2
Z = normal_quantile(CONFIDENCE)  # the stdlib's quantile: no scipy.stats import (~1 s, ~100 MiB) on load
#: Below this many subjects with an error (or G* effective subjects) the interval is flagged as untrustworthy.
FEW_SUBJECTS_WITH_ERRORS = 10
FEW_EFFECTIVE_SUBJECTS = 30
#: A design is unbalanced (and flagged) when G* is under this share of the distinct subjects.
UNBALANCED_SHARE = 0.25


@dataclass(frozen=True)
class Clustered:
    """Per label and operating point: effective sizes of impostor and genuine rates; subjects per label."""

    impostor: np.ndarray  # (labels, thresholds): effective sizes
    genuine: np.ndarray
    impostor_limits: tuple[np.ndarray, np.ndarray]  # (labels, thresholds) low and high limits
    genuine_limits: tuple[np.ndarray, np.ndarray]
    subjects: np.ndarray  # (labels,): distinct subjects among the label's comparisons (max of both kinds)
    impostor_with_errors: np.ndarray  # (labels, thresholds): subjects with at least one false match
    genuine_with_errors: np.ndarray
    impostor_effective_subjects: np.ndarray  # (labels,): G*
    genuine_effective_subjects: np.ndarray


@dataclass(frozen=True)
class SubjectSums:
    """One label's and kind's subject sums (see `cluster_sums`), at one threshold."""

    errors: float  # E
    size: float  # N
    clusters: float  # C, subjects whose removal leaves comparisons
    d: float  # jackknife: sum and sum of squares of the leave-one-subject-out rates minus E/N
    dd: float
    ee: float  # sum_s e_s^2 (dyadic diagonal already removed)
    en: float  # sum_s e_s n_s
    nn: float  # sum_s n_s^2
    effective_subjects: float  # G*


def clustered_interval(s: SubjectSums) -> tuple[float, float, float]:
    """(low, high, effective size): the hull described above, and the size whose Wilson interval at
    p = E/N is as wide (for the summaries' Jeffreys draws)."""
    n = s.size
    if n <= 0:
        return np.nan, np.nan, 0.0
    from scipy.special import stdtrit  # Student t quantile; imported here, only audits with subjects pay

    p = s.errors / n
    t = float(stdtrit(max(s.effective_subjects - 1.0, 1.0), TAIL))
    if not 0 < p < 1 or s.clusters < 3:
        size = n * (float(stdtrit(max(n - 1, 1), TAIL)) / t) ** 2
        low, high = _wilson(p, size)
        return low, high, size
    low, high = _wilson(p, n)
    for lo, hi in (_cluster_score(s, t), _logit_jackknife(s, p, t)):
        low, high = min(low, lo), max(high, hi)
    half = (high - low) / 2
    return low, high, min(n, p * (1 - p) * (Z / half) ** 2)


def _wilson(p: float, n: float) -> tuple[float, float]:
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * np.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return centre - half, centre + half


def _cluster_score(s: SubjectSums, t: float) -> tuple[float, float]:
    """{p : (E - pN)^2 <= k V(p)}, V(p) = ee - 2p en + p^2 nn, k = t^2 C / (C - 1): a quadratic in p."""
    k = t * t * s.clusters / (s.clusters - 1)
    a = s.size * s.size - k * s.nn
    b = s.errors * s.size - k * s.en
    c = s.errors * s.errors - k * s.ee
    if a <= 0:  # the few subjects carry so much that no rate can be ruled out on one side or both
        return 0.0, 1.0
    root = np.sqrt(max(b * b - a * c, 0.0))
    return max((b - root) / a, 0.0), min((b + root) / a, 1.0)


def _logit_jackknife(s: SubjectSums, p: float, t: float) -> tuple[float, float]:
    variance = (s.clusters - 1) / s.clusters * max(s.dd - s.d * s.d / s.clusters, 0.0)
    spread = t * np.sqrt(variance) / (p * (1 - p))
    centre = np.log(p / (1 - p))
    return float(1 / (1 + np.exp(-(centre - spread)))), float(1 / (1 + np.exp(-(centre + spread))))


def effective_sizes(
    table: pa.Table,
    grouping: Grouping,
    thresholds: int,
    errors: dict[int, np.ndarray],
    totals: dict[int, np.ndarray],
) -> Clustered:
    """Effective sizes from `cluster_sums` output; `errors[y]` and `totals[y]` are (labels, thresholds)
    error counts and (labels,) comparison counts from the histogram (y = 0 impostor, 1 genuine)."""
    size = len(grouping.labels)
    position = {name: i for i, name in enumerate(grouping.labels)}
    per_threshold = ("d", "dd", "ee", "en", "w")
    names = ["subjects", "c", "nsum", "nn"] + [f"{a}{j}" for j in range(thresholds) for a in per_threshold]
    sums = {y: {k: np.zeros(size) for k in names} for y in (0, 1)}
    for row in table.to_pylist():
        slot = sums[int(row["y"])]
        g = position[grouping.label_for(row)]
        for k in names:
            slot[k][g] += float(row[k] or 0)
    sizes, limits, with_errors, effective = {}, {}, {}, {}
    for y in (0, 1):
        got = sums[y]
        with np.errstate(divide="ignore", invalid="ignore"):
            effective[y] = np.where(
                got["nn"] > 0, got["nsum"] ** 2 / np.where(got["nn"] > 0, got["nn"], 1), 0.0
            )
        sizes[y] = np.zeros((size, thresholds))
        limits[y] = (np.full((size, thresholds), np.nan), np.full((size, thresholds), np.nan))
        with_errors[y] = np.zeros((size, thresholds))
        for g in range(size):
            n = float(totals[y][g])
            for j in range(thresholds):
                e = float(errors[y][g, j])
                dyadic = e if y == 0 else 0.0  # an impostor pair's own term, counted at both its subjects
                subject = SubjectSums(
                    errors=e,
                    size=n,
                    clusters=float(got["c"][g]),
                    d=float(got[f"d{j}"][g]),
                    dd=float(got[f"dd{j}"][g]),
                    ee=float(got[f"ee{j}"][g]) - dyadic,
                    en=float(got[f"en{j}"][g]) - dyadic,
                    nn=float(got["nn"][g]) - (n if y == 0 else 0.0),
                    effective_subjects=float(effective[y][g]),
                )
                limits[y][0][g, j], limits[y][1][g, j], sizes[y][g, j] = clustered_interval(subject)
                with_errors[y][g, j] = got[f"w{j}"][g]
    return Clustered(
        sizes[0],
        sizes[1],
        limits[0],
        limits[1],
        np.maximum(sums[0]["subjects"], sums[1]["subjects"]),
        with_errors[0],
        with_errors[1],
        effective[0],
        effective[1],
    )
