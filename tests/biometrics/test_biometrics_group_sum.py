"""The summaries' band searches run groups first, in chunks (misflag.biometrics._measures): the statistic
and the bands they find are bit for bit those of the plain layout, every band at once with the groups
last, summed by numpy over its last axis."""

from __future__ import annotations

import numpy as np
import pytest

from misflag.biometrics import _measures
from misflag.biometrics._measures import GRID, Observed, band_fits, group_sum, jeffreys_draws


@pytest.mark.parametrize("shape", [(), (5,), (3, 7)])
def test_the_sum_over_groups_first_is_numpys_sum_over_groups_last_to_the_bit(shape: tuple[int, ...]) -> None:
    generator = np.random.default_rng(11)
    for groups in [*range(1, 140), 255, 256, 257, 1000, 4000]:
        # magnitudes 1e-13 to 1e13: any other order of the additions rounds differently
        terms = generator.standard_normal((*shape, groups)) * np.exp(
            generator.uniform(-30, 30, (*shape, groups))
        )
        expected = terms.sum(axis=-1)
        found = group_sum(np.ascontiguousarray(np.moveaxis(terms, -1, 0)))
        assert found.shape == expected.shape
        assert np.asarray(found).tobytes() == np.asarray(expected).tobytes(), groups
    assert group_sum(np.full((3, 2), -0.0)).tobytes() == np.full((2, 3), -0.0).sum(axis=-1).tobytes()


def _plain_band_fits(observed: Observed, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Relative bands as first written: every width at once, (widths, positions, groups), numpy's sum."""
    rates, errors, sizes = observed.rates, observed.errors, observed.sizes
    start = _measures.lowest_edge(observed)
    stop = np.maximum(start, rates.max() / widths)
    low = start * (stop[:, None] / start) ** np.linspace(0.0, 1.0, GRID)[None, :]
    high = low * widths[:, None]
    fitted = np.clip(rates, low[..., None], high[..., None])
    r = np.clip(fitted, 1e-12, 1 - 1e-12)
    statistic = ((errors - sizes * r) ** 2 / (sizes * r * (1 - r))).sum(axis=-1)
    best = np.argmin(statistic, axis=1)
    rows = np.arange(widths.size)
    fit = fitted[rows, best]
    tolerance = 1e-12 * max(float(rates.max()), 1e-300)
    at_edge = (np.abs(fit - low[rows, best][:, None]) <= tolerance) | (
        np.abs(fit - high[rows, best][:, None]) <= tolerance
    )
    return fit, statistic[rows, best], at_edge.sum(axis=1)


@pytest.mark.parametrize("chunk", [65_536, 1_000, 10_000_000])
def test_band_searches_in_chunks_find_the_bands_of_the_plain_layout(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(_measures, "CHUNK", chunk)
    generator = np.random.default_rng(4)
    for groups in (2, 4, 9, 23):
        sizes = np.round(10 ** generator.uniform(2, 6.5, groups))
        errors = np.round(sizes * 10 ** generator.uniform(-4, -0.5, groups))
        errors[0] = 0 if groups == 9 else errors[0]  # a rate of 0: the edge of half an error
        observed = Observed(errors / sizes, sizes, jeffreys_draws(errors, sizes, 1))
        widths = np.geomspace(1 + 1e-6, 40.0, GRID)
        for found, expected in zip(
            band_fits(observed, widths, True), _plain_band_fits(observed, widths), strict=True
        ):
            assert found.tobytes() == expected.tobytes()
