"""The biometric audit loads without scipy.stats or pandas (they cost ~1 s and ~100 MiB of RSS each), an
audit without subject ids runs without scipy or the decision audit, and the quantiles that replaced
scipy.stats in misflag.biometrics._clustered are scipy.stats' own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.stats import norm
from scipy.stats import t as t_dist

from misflag.biometrics import _clustered


def test_the_audit_command_loads_without_scipy_stats_or_pandas() -> None:
    probe = (
        "import sys, misflag.commands.biometrics, misflag.biometrics._audit; "
        "print(sorted(m for m in ('scipy.stats', 'pandas') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_clustered_quantiles_are_scipy_stats_quantiles() -> None:
    assert pytest.approx(norm.ppf(_clustered.TAIL), rel=1e-12) == _clustered.Z
    sums = _clustered.SubjectSums(
        errors=20.0, size=400.0, clusters=2, d=0.0, dd=0.0, ee=0.0, en=0.0, nn=0.0, effective_subjects=2.0
    )  # fewer than 3 clusters: the Wilson interval at n (t(399) / t(1))^2
    low, high, size = _clustered.clustered_interval(sums)
    expected = 400 * (t_dist.ppf(_clustered.TAIL, 399) / t_dist.ppf(_clustered.TAIL, 1)) ** 2
    assert size == pytest.approx(expected)
    z, p = norm.ppf(_clustered.TAIL), 0.05  # Wilson's limits written out at that size
    centre, half = p + z**2 / (2 * expected), z * (p * (1 - p) / expected + z**2 / (4 * expected**2)) ** 0.5
    assert (low, high) == pytest.approx(
        ((centre - half) / (1 + z**2 / expected), (centre + half) / (1 + z**2 / expected))
    )


def test_an_audit_with_summaries_loads_neither_scipy_nor_the_decision_audit(tmp_path: Path) -> None:
    """Issue 26: scipy.special (~0.15 s of CPU) and misflag.decisions stay unloaded while the audit computes
    its summaries and their chi-square ends (the quantiles are written out in _measures.CHI_SQUARE_95)."""
    generator = np.random.default_rng(5)
    groups = np.repeat(["a", "b", "c", "d"], 2000)
    genuine = np.tile(np.r_[np.zeros(1800, int), np.ones(200, int)], 4)
    shift = np.repeat([0.0, 0.2, 0.4, 0.6], 2000)
    score = generator.normal(0, 1, groups.size) + shift + 3 * genuine
    path = tmp_path / "scores.parquet"
    pq.write_table(pa.table({"grp": groups, "genuine": genuine, "score": score}), path)
    probe = (
        "import sys; from misflag.biometrics import audit_biometrics; "
        f"r = audit_biometrics({str(path)!r}, score='score', genuine='genuine', group='grp', target_fmr=0.01); "
        "print(len(r.select(group='(between groups)')), "
        "sorted(m for m in sys.modules if m.split('.')[0] == 'scipy' or m.startswith('misflag.decisions')))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    summary_rows, modules = loaded.stdout.strip().split(" ", 1)
    assert int(summary_rows) == 7  # max/min, max/geomean and Gini of FMR and of FNMR, and the FDR
    assert modules == "[]"


def test_the_small_denominator_is_the_decision_audits() -> None:
    """biometrics._rows writes the decision audit's constant out rather than import misflag.decisions."""
    from misflag.biometrics import _rows
    from misflag.decisions import SMALL_DENOMINATOR

    assert _rows.SMALL_DENOMINATOR == SMALL_DENOMINATOR == 30


def test_a_rate_over_29_comparisons_is_flagged_and_over_30_is_not() -> None:
    from misflag.biometrics import audit_biometrics

    sizes = {"small": 29, "large": 30}  # impostor pairs; each group also has 30 genuine pairs
    scores = {
        "grp": [name for name, n in sizes.items() for _ in range(n + 30)],
        "genuine": [y for n in sizes.values() for y in [0] * n + [1] * 30],
        "score": [s for n in sizes.values() for s in [*range(n), *range(100, 130)]],
    }
    result = audit_biometrics(pa.table(scores), score="score", genuine="genuine", group="grp", threshold=50.0)
    notes = {row["group"]: row["warning"] for row in result.select(metric="fmr", attribute="grp")}
    assert notes["small"] == "denominator under 30: interval is wide and unstable"
    assert notes["large"] is None
