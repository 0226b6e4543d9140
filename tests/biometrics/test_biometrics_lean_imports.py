"""The biometric audit loads without scipy.stats or pandas (they cost ~1 s and ~100 MiB of RSS each),
and the quantiles that replaced scipy.stats in misflag.biometrics._clustered are scipy.stats' own."""

from __future__ import annotations

import subprocess
import sys

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
        errors=20.0, size=400.0, clusters=2, q=0.0, qq=0.0, ee=0.0, en=0.0, nn=0.0, effective_subjects=2.0
    )  # fewer than 3 clusters: the Wilson interval at n (t(399) / t(1))^2
    low, high, size = _clustered.clustered_interval(sums)
    expected = 400 * (t_dist.ppf(_clustered.TAIL, 399) / t_dist.ppf(_clustered.TAIL, 1)) ** 2
    assert size == pytest.approx(expected)
    z, p = norm.ppf(_clustered.TAIL), 0.05  # Wilson's limits written out at that size
    centre, half = p + z**2 / (2 * expected), z * (p * (1 - p) / expected + z**2 / (4 * expected**2)) ** 0.5
    assert (low, high) == pytest.approx(
        ((centre - half) / (1 + z**2 / expected), (centre + half) / (1 + z**2 / expected))
    )
