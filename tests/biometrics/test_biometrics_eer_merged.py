"""The EER bootstrap draws far bins merged (misflag.biometrics._eer): the claim is that this changes no
redraw's EER law. Checked against the plain full-grid computation written out here (FVC2000 rule at bin
edges), on the same full-grid draws, and on the law of the redraws when the window is forced tiny."""

from __future__ import annotations

from itertools import accumulate

import numpy as np
import pytest
from scipy.stats import ks_2samp

from misflag.biometrics import _eer


def _plain_eer(impostors: np.ndarray, genuines: np.ndarray) -> float:
    """Edge-grid EER by a loop: first edge with FMR <= FNMR, the one before, the pair with the smaller sum."""
    edges = impostors.size + 1
    n_i, n_g = int(impostors.sum()), int(genuines.sum())
    fmr = [(n_i - below) / n_i for below in accumulate(impostors.tolist(), initial=0)]
    fnmr = [below / n_g for below in accumulate(genuines.tolist(), initial=0)]
    t2 = next(k for k in range(edges) if fmr[k] <= fnmr[k])
    t1 = t2 if t2 == 0 or fmr[t2] == fnmr[t2] else t2 - 1
    pick = t1 if fmr[t1] + fnmr[t1] <= fmr[t2] + fnmr[t2] else t2
    return float((fmr[pick] + fnmr[pick]) / 2)


def _histograms(rng: np.random.Generator, bins: int = 800) -> tuple[np.ndarray, np.ndarray]:
    scale = bins / 8
    impostors = np.bincount(
        np.clip((rng.normal(0, 1, 20_000) * scale + bins / 3).astype(int), 0, bins - 1), minlength=bins
    )
    genuines = np.bincount(
        np.clip((rng.normal(2, 1, 2_000) * scale + bins / 3).astype(int), 0, bins - 1), minlength=bins
    )
    return impostors, genuines


def test_merged_grid_reads_the_full_grid_eer_wherever_it_claims_to() -> None:
    rng = np.random.default_rng(11)
    impostors, genuines = _histograms(rng)
    full_i = rng.multinomial(impostors.sum(), impostors / impostors.sum(), size=300)
    full_g = rng.multinomial(genuines.sum(), genuines / genuines.sum(), size=300)
    lo, hi = _eer._window(impostors, genuines)
    assert 0 < lo < hi < impostors.size  # both merged bins exist
    merged_i = np.stack([_eer._merged(row, lo, hi) for row in full_i]).astype(float)
    merged_g = np.stack([_eer._merged(row, lo, hi) for row in full_g]).astype(float)
    eers, t2 = _eer._crossing(merged_i, merged_g)
    full_edge = np.concatenate([[0], np.arange(lo, hi + 1), [impostors.size]])
    exact = (t2 == 0) | (full_edge[t2] == full_edge[np.maximum(t2 - 1, 0)] + 1)
    assert exact.sum() > 250
    for row in np.flatnonzero(exact):
        assert eers[row] == pytest.approx(_plain_eer(full_i[row], full_g[row]), abs=1e-15)


def test_redraws_keep_the_full_grid_law_when_most_must_be_split(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(12)
    impostors, genuines = _histograms(rng)
    monkeypatch.setattr(_eer, "WINDOW_SE", 0.0)  # a window of the crossing's edges only: many redraws split
    monkeypatch.setattr(_eer, "DRAWS", 3000)
    split_rows: list[int] = []
    original_split = _eer._split

    def counting_split(merged: np.ndarray, *args: object) -> np.ndarray:
        split_rows.append(merged.shape[0])
        return original_split(merged, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(_eer, "_split", counting_split)
    ours = _eer.bootstrap_eers(impostors, genuines, np.random.default_rng(5))
    assert sum(split_rows) > 2 * 300  # both histograms split for at least 300 of the 3,000 redraws
    full_i = rng.multinomial(impostors.sum(), impostors / impostors.sum(), size=3000)
    full_g = rng.multinomial(genuines.sum(), genuines / genuines.sum(), size=3000)
    plain = np.array([_plain_eer(i, g) for i, g in zip(full_i, full_g, strict=True)])
    # two samples of 3,000 from one law: Kolmogorov-Smirnov rejects at 0.1% once in a thousand seeds
    assert ks_2samp(ours, plain).pvalue > 0.001
    assert np.percentile(ours, [2.5, 50, 97.5]) == pytest.approx(
        np.percentile(plain, [2.5, 50, 97.5]), abs=0.004
    )


def test_a_biased_redraw_is_caught_by_the_law_check() -> None:
    """The law check above has teeth: redraws with genuines 5% short of their bin counts fail it."""
    rng = np.random.default_rng(13)
    impostors, genuines = _histograms(rng)
    ours = _eer.bootstrap_eers(impostors, genuines, np.random.default_rng(6))
    shifted = np.roll(genuines, -1)  # every genuine one bin lower: a wrong law of the same shape
    full_i = rng.multinomial(impostors.sum(), impostors / impostors.sum(), size=_eer.DRAWS)
    full_g = rng.multinomial(shifted.sum(), shifted / shifted.sum(), size=_eer.DRAWS)
    wrong = np.array([_plain_eer(i, g) for i, g in zip(full_i, full_g, strict=True)])
    assert ks_2samp(ours, wrong).pvalue < 0.001
