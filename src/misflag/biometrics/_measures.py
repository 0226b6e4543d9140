"""One-number summaries of how unequal error rates are across groups, with intervals.

Definitions (r_1..r_k the groups' rates at one threshold):
  max/min ratio       max r / min r (undefined when a group's rate is 0)
  max/geomean ratio   max r / (r_1 ... r_k)^(1/k) (NIST FRVT Part 8's leading measure; undefined at a 0 rate)
  Gini                k / (k - 1) * sum_i sum_j |r_i - r_j| / (2 k^2 mean r): 0 equal, 1 all in one group
  FDR                 1 - (alpha A + (1 - alpha) B), A and B the largest gaps in FMR and FNMR between
                      groups (de Freitas Pereira & Marcel, arXiv 2011.02395): 1 is perfectly fair

Intervals. At or near equal rates the true max/min is 1, the Gini 0 and the FDR 1: the edge of each
measure's range, which noisy rates never reach, so percentiles of draws of the rates miss there, and a
box of every group's interval projected onto the measure (Bonferroni) covered 97-100%. The end towards
equality is found instead by inverting a score test (docs/biometrics.md, chosen by
benchmarks/biometrics_summary_coverage.py): for a band of rates [m, m w] (FDR: [m, m + g]), the rates
closest to the observed ones inside it (each clipped into the band, the band placed where the score
statistic S = sum_i (x_i - n_i r_i)^2 / (n_i r_i (1 - r_i)) is smallest) are compatible with the data
when S is below the chi-square 95% quantile on a - 1 degrees of freedom, a the groups at the band's
edges: 1 when a smallest and a largest group set the measure (an ordinary one-sided 2.5% end), k - 1 at
equal rates (the chi-square test of equal rates, whose 5% is all there is to miss there). The end is the
measure of the narrowest compatible band. Max/geomean moves with every group, not the two extremes, so
its low end is 1 when the chi-square test does not reject equal rates and the 2.5th percentile of the
draws otherwise. The far ends are percentiles of draws of every group's rate from its Jeffreys
distribution Beta(x + 1/2, n - x + 1/2) at the (effective) counts, widened to the measure's own value
where that is beyond them (rates of 0 or 1, which the draws never reach).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

DRAWS = 4000
CONFIDENCE = 0.95
GRID = 200  # band widths and band positions searched
#: Clipped rates a band search holds at once: 512 KiB a temporary, which the allocator hands back for the
#: next chunk, where a million (8 MB each) were mapped and faulted in afresh on every search (about 10,000
#: page faults in a 10M-row audit's summaries, a third of their CPU time).
CHUNK = 65_536
Measure = Callable[[np.ndarray], np.ndarray]


def _max_min(rates: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return rates.max(axis=-1) / rates.min(axis=-1)


def _max_geomean(rates: np.ndarray) -> np.ndarray:
    """At least 1 (the largest rate is at least their geometric mean), also where exp(mean log) rounds up."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.maximum(rates.max(axis=-1) / np.exp(np.log(rates).mean(axis=-1)), 1.0)  # NaN stays NaN


def _gini(rates: np.ndarray) -> np.ndarray:
    """sum_i sum_j |r_i - r_j| = 2 sum_i (2i - k - 1) r_(i) over the sorted rates, so no k x k table."""
    k = rates.shape[-1]
    weights = 2 * np.arange(1, k + 1) - k - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.sort(rates, axis=-1) * weights).sum(axis=-1) / ((k - 1) * rates.sum(axis=-1))


INEQUALITY: dict[str, Measure] = {
    "max_min_ratio": _max_min,
    "max_geomean_ratio": _max_geomean,
    "gini": _gini,
}
EQUAL = {"max_min_ratio": 1.0, "max_geomean_ratio": 1.0, "gini": 0.0}


@dataclass(frozen=True)
class Observed:
    """One rate per group at one threshold: the rates, their (effective) sizes and (DRAWS, k) Jeffreys draws."""

    rates: np.ndarray
    sizes: np.ndarray
    draws: np.ndarray

    @property
    def errors(self) -> np.ndarray:
        return self.rates * self.sizes


def jeffreys_draws(errors: np.ndarray, sizes: np.ndarray, seed: int) -> np.ndarray:
    """(DRAWS, groups) rates drawn from Beta(x + 1/2, n - x + 1/2)."""
    generator = np.random.default_rng(seed)
    return generator.beta(errors + 0.5, sizes - errors + 0.5, size=(DRAWS, errors.size))


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def score_statistic(errors: np.ndarray, sizes: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """sum_i (x_i - n_i r_i)^2 / (n_i r_i (1 - r_i)) over the groups, the first axis of `rates` (Pearson's,
    variance at r).

    Groups first: the band searches call it on (groups, widths, positions) arrays, whose every operation
    then runs along long rows instead of rows of k groups. The same operations in the same order, written
    into two buffers instead of eight temporaries, and the sum over the groups in numpy's own order for a
    row of k (`group_sum`): bit for bit the statistic of the (widths, positions, groups) layout summed over
    its last axis, as first written."""
    shape = (-1,) + (1,) * (np.ndim(rates) - 1)
    errors, sizes = np.reshape(errors, shape), np.reshape(sizes, shape)
    r = np.clip(rates, 1e-12, 1 - 1e-12)
    residual = sizes * r
    np.subtract(errors, residual, out=residual)
    np.square(residual, out=residual)
    variance = sizes * r
    np.subtract(1, r, out=r)
    variance *= r
    residual /= variance
    return group_sum(residual)


def group_sum(terms: np.ndarray) -> np.ndarray:
    """The sum over the first axis, added in the order numpy adds a contiguous row of n numbers: from 0,
    by pairwise summation (`_pairwise`), so a sum over groups first equals `.sum(axis=-1)` over groups
    last to the bit (tests/biometrics/test_biometrics_group_sum.py checks it against numpy)."""
    return np.asarray(_pairwise(terms) + 0.0)


def _pairwise(terms: np.ndarray) -> np.ndarray:
    """numpy's pairwise summation over the first axis: under 8 numbers one by one from 0; up to 128,
    eight running sums of every eighth number, combined as ((1 + 2) + (3 + 4)) + ((5 + 6) + (7 + 8)),
    then the rest one by one; beyond, the two halves split at a multiple of 8."""
    n = terms.shape[0]
    if n > 128:
        half = n // 2 - (n // 2) % 8
        return np.asarray(_pairwise(terms[:half]) + _pairwise(terms[half:]))
    if n < 8:
        total = terms[0] + 0.0
        rest = terms[1:]
    else:
        running = terms[:8].copy()
        for start in range(8, n - n % 8, 8):
            running += terms[start : start + 8]
        total = ((running[0] + running[1]) + (running[2] + running[3])) + (
            (running[4] + running[5]) + (running[6] + running[7])
        )
        rest = terms[n - n % 8 :]
    for row in rest:
        total += row
    return np.asarray(total)


#: The chi-square 95% quantiles on 1 to 100 degrees of freedom: scipy.special.chdtri(df, 1 - CONFIDENCE)
#: written out to the last bit (tests/biometrics/test_biometrics_chi_square.py checks every one against
#: scipy). Importing scipy.special costs about 0.15 s of CPU, an eighth of a command-line audit, and the
#: summaries of up to 51 groups need no other quantile (at most 2k - 2 degrees of freedom for k groups).
CHI_SQUARE_95 = np.array([
    3.841458820694124, 5.991464547107979, 7.814727903251179, 9.487729036781154, 11.070497693516351,
    12.591587243743977, 14.067140449340169, 15.50731305586545, 16.918977604620448, 18.307038053275146,
    19.67513757268249, 21.02606981748307, 22.362032494826934, 23.684791304840576, 24.995790139728616,
    26.29622760486423, 27.58711163827534, 28.869299430392623, 30.14352720564616, 31.410432844230918,
    32.670573340917315, 33.92443847144381, 35.17246162690806, 36.41502850180731, 37.65248413348277,
    38.885138659830055, 40.113272069413625, 41.33713815142739, 42.55696780429269, 43.77297182574219,
    44.98534328036513, 46.19425952027847, 47.39988391908093, 48.602367367294164, 49.80184956820181,
    50.99846016571065, 52.192319730102895, 53.383540622969356, 54.572227758941736, 55.75847927888702,
    56.94238714682408, 58.12403768086803, 59.30351202689981, 60.480886582336446, 61.65623337627955,
    62.829620411408165, 64.00111197221803, 65.17076890356982, 66.3386488629688, 67.5048065495412,
    68.66929391228578, 69.83216033984813, 70.99345283378227, 72.15321616702309, 73.31149302908324,
    74.46832415930936, 75.62374846937608, 76.7778031560615, 77.93052380523042, 79.08194448784874,
    80.23209784876272, 81.3810151888991, 82.5287265414718, 83.67526074272097, 84.82064549765667,
    85.96490744123096, 87.10807219532191, 88.25016442187412, 89.39120787250796, 90.53122543488065,
    91.67023917605484, 92.80827038310771, 93.94533960119225, 95.08146666924324, 96.21667075350383,
    97.35097037903296, 98.48438345934042, 99.61692732428385, 100.74861874635032, 101.87947396543588,
    103.00950871222618, 104.13873823027387, 105.26717729686034, 106.39484024272251, 107.52174097071946,
    108.6478929735076, 109.77330935028795, 110.89800282268448, 112.02198574980785, 113.1452701425554,
    114.26786767719355, 115.38978970826685, 116.51104728087356, 117.63165114234555, 118.75161175336736,
    119.87093929856714, 120.98964369660958, 122.10773460981942, 123.2252214533618, 124.34211340400407,
])  # fmt: skip


def chi_square_cutoff(df: np.ndarray | int) -> np.ndarray:
    """The chi-square 95% quantile on df (at least 1) degrees of freedom: looked up in CHI_SQUARE_95 by
    index (every df whole and within the table, as in every audit of up to 51 groups: a sort for the
    distinct values cost more than the look-up, 32 calls an audit), or from scipy.special once per
    distinct df where it is beyond the table."""
    degrees = np.asarray(np.maximum(df, 1))
    whole = degrees.dtype.kind in "iu" or bool(np.all(degrees == np.floor(degrees)))
    if whole and degrees.max() <= CHI_SQUARE_95.size:
        return np.asarray(CHI_SQUARE_95[degrees.astype(np.int64) - 1])
    from scipy.special import chdtri  # not scipy.stats: the audit's imports stay lean

    values, inverse = np.unique(degrees, return_inverse=True)  # a few distinct values
    return np.asarray(np.asarray(chdtri(values, 1 - CONFIDENCE))[inverse].reshape(np.shape(df)))


def lowest_edge(observed: Observed) -> float:
    """The lowest band edge searched for relative bands: the smallest positive rate, or, where a group's
    rate is 0, half an error in the largest group if that is smaller."""
    rates = observed.rates
    positive = rates[rates > 0]
    edge = float(positive.min()) if positive.size else 1.0
    if rates.min() <= 0:
        edge = min(edge, float((0.5 / observed.sizes).min()))
    return edge


def band_fits(
    observed: Observed, widths: np.ndarray, relative: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each band width w: the rates clipped into the band [m, m w] (relative) or [m, m + w], the band
    placed where the score statistic is smallest; that statistic; and how many groups sit at its edges."""
    rates = observed.rates
    start = lowest_edge(observed) if relative else float(rates.min())
    steps = np.linspace(0.0, 1.0, GRID)
    fits, stats, edges = [], [], []
    chunks = -(-widths.size * GRID * rates.size // CHUNK)  # at most CHUNK clipped rates at once
    for chunk in np.array_split(widths, max(1, chunks)):
        if relative:
            stop = np.maximum(start, rates.max() / chunk)
            low = start * (stop[:, None] / start) ** steps[None, :]
            high = low * chunk[:, None]
        else:
            stop = np.maximum(start, rates.max() - chunk)
            low = start + (stop - start)[:, None] * steps[None, :]
            high = low + chunk[:, None]
        fitted = np.clip(rates[:, None, None], low, high)  # (groups, widths, positions)
        statistic = score_statistic(observed.errors, observed.sizes, fitted)
        best = np.argmin(statistic, axis=1)
        rows = np.arange(chunk.size)
        fit = fitted[:, rows, best].T  # (widths, groups)
        tolerance = 1e-12 * max(float(rates.max()), 1e-300)
        at_edge = (np.abs(fit - low[rows, best][:, None]) <= tolerance) | (
            np.abs(fit - high[rows, best][:, None]) <= tolerance
        )
        fits.append(fit)
        stats.append(statistic[rows, best])
        edges.append(at_edge.sum(axis=1))
    return np.concatenate(fits), np.concatenate(stats), np.concatenate(edges)


def compatible(statistic: np.ndarray, at_edges: np.ndarray) -> np.ndarray:
    """Whether each band is compatible with the data: S below the cutoff on a - 1 degrees of freedom."""
    return np.asarray(statistic <= chi_square_cutoff(at_edges - 1))


def equal_rates_compatible(observed: Observed) -> bool:
    """Pearson's chi-square test of equal rates (k - 1 degrees of freedom) does not reject at 5%."""
    pooled = observed.errors.sum() / observed.sizes.sum()
    statistic = score_statistic(observed.errors, observed.sizes, np.full(observed.rates.size, pooled))
    return bool(statistic <= chi_square_cutoff(observed.rates.size - 1))


def closest_band(observed: Observed) -> np.ndarray:
    """The rates of the narrowest band [m, m w] compatible with the data, where the chi-square test rejects
    equal rates: max/min's and Gini's end towards equality is their value there."""
    rates = observed.rates
    top = max(float(rates.max()) / lowest_edge(observed), 1 + 2e-6)  # no group is clipped beyond it
    widths = np.geomspace(1 + 1e-6, top, GRID)
    fits, statistic, at_edges = band_fits(observed, widths, relative=True)
    first = int(np.argmax(compatible(statistic, at_edges)))  # the widest band, clipping nothing, always is
    low, high, fit = (widths[first - 1] if first else 1.0), widths[first], fits[first]
    for _ in range(12):  # bisection between the last incompatible and the first compatible width
        middle = np.array([np.sqrt(low * high)])
        fitted, stat, edges = band_fits(observed, middle, relative=True)
        if compatible(stat, edges)[0]:
            high, fit = float(middle[0]), fitted[0]
        else:
            low = float(middle[0])
    return np.asarray(fit)


def summaries(observed: Observed) -> dict[str, tuple[float | None, float | None, float | None]]:
    """(value, low, high) of every measure of INEQUALITY (see the module docstring); None where undefined."""
    out: dict[str, tuple[float | None, float | None, float | None]] = {}
    equal = equal_rates_compatible(observed)
    band: np.ndarray | None = None
    for name, measure in INEQUALITY.items():
        value = _finite(measure(observed.rates[None, :])[0])
        spread = measure(observed.draws)
        spread = spread[np.isfinite(spread)]
        if spread.size < 0.99 * observed.draws.shape[0]:
            out[name] = (value, None, None)
            continue
        low, high = np.percentile(spread, [2.5, 97.5])
        if equal:
            low = EQUAL[name]
        elif name != "max_geomean_ratio":  # it moves with every group: the band is no profile of it
            band = closest_band(observed) if band is None else band
            low = float(measure(band[None, :])[0])
        if value is not None:  # draws never reach a rate of 0 or 1, so the far end can fall short of it
            low, high = min(low, value), max(high, value)
        out[name] = (value, float(low), float(high))
    return out


def _gap_profile(observed: Observed) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Band widths g from 0 to the observed gap, the score statistic of the best band [m, m + g] and the
    groups at its edges."""
    gap = float(np.ptp(observed.rates))
    widths = np.r_[0.0, np.linspace(gap / GRID, gap, GRID)] if gap > 0 else np.zeros(1)
    _, statistic, at_edges = band_fits(observed, widths, relative=False)
    return widths, statistic, at_edges


def fdr_interval(false_matches: Observed, false_non_matches: Observed, alpha: float) -> tuple[float, float]:
    """FDR's interval (see the module docstring), always holding the FDR of the observed rates: the low
    end the 2.5th percentile of draws, the high end
    1 - min(alpha a + (1 - alpha) b) over pairs of gaps (a, b) compatible with both rates together, on
    (a_fm - 1) + (a_fnm - 1) - 1 degrees of freedom when both gaps are open (one smooth constraint), the
    sum of both sets' otherwise (2k - 2 at equal rates in both)."""
    low = np.percentile(fairness_discrepancy(false_matches.draws, false_non_matches.draws, alpha), 2.5)
    gaps_fm, stat_fm, edges_fm = _gap_profile(false_matches)
    gaps_fnm, stat_fnm, edges_fnm = _gap_profile(false_non_matches)
    k = false_matches.rates.size
    own_fm = np.where(gaps_fm == 0, k - 1, np.maximum(edges_fm - 1, 1))
    own_fnm = np.where(gaps_fnm == 0, k - 1, np.maximum(edges_fnm - 1, 1))
    both_open = (gaps_fm[:, None] > 0) & (gaps_fnm[None, :] > 0)
    df = own_fm[:, None] + own_fnm[None, :] - both_open
    ok = stat_fm[:, None] + stat_fnm[None, :] <= chi_square_cutoff(df)
    cost = alpha * gaps_fm[:, None] + (1 - alpha) * gaps_fnm[None, :]
    high = 1 - float(cost[ok].min()) if ok.any() else 1 - float(cost.max())
    value = float(fairness_discrepancy(false_matches.rates, false_non_matches.rates, alpha))
    return min(float(low), value), max(high, value)  # the draws' end can fall short of a value at 0


def fairness_discrepancy(
    false_matches: np.ndarray, false_non_matches: np.ndarray, alpha: float
) -> np.ndarray:
    """FDR from (..., groups) arrays of FMR and FNMR."""
    gap_fm = false_matches.max(axis=-1) - false_matches.min(axis=-1)
    gap_fnm = false_non_matches.max(axis=-1) - false_non_matches.min(axis=-1)
    return 1 - (alpha * gap_fm + (1 - alpha) * gap_fnm)
