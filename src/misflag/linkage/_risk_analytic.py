"""Analytic collision probabilities of a matching rule, and the expected wrongful matches they imply.

For list group a and population group b, the chance that a random list record and a random population
member agree on every compared field is the product of per-field chances (fields are independent within
a group): for a name compared through a key (exact, folded, phonetic, initial) it is sum_k A_a(k) A_b(k)
over keys k, A_g(k) being group g's share of names with key k; for Jaro-Winkler it is A_a' S A_b over the
most frequent names (S = pairs at or above the threshold, from rapidfuzz's cdist), the other names being
compared exactly, and the mass so approximated is reported. In a population drawn from the tables,
people who share a key are matched together and the realised count varies more than a Poisson count:
`count_variance` gives its variance from the same shares, and `count_prediction` 95% prediction limits
with that mean and variance (docs/linkage-risk.md, tests/linkage/test_linkage_risk_coverage.py).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import jellyfish
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from doublemetaphone import doublemetaphone
from numpy.typing import ArrayLike
from rapidfuzz.distance import JaroWinkler
from rapidfuzz.process import cdist, cpdist
from scipy import sparse, stats

from misflag.linkage._population import GROUPS, DobModel, NameDistribution, PopulationModel
from misflag.linkage._rules import Comparison, MatchRule

FUZZY_HEAD = 3000
SAMPLED = 3000
SAMPLED_PAIRS = 200_000
_PHONETIC: dict[str, Callable[[str], str]] = {
    "soundex": jellyfish.soundex,
    "nysiis": jellyfish.nysiis,
    "metaphone": jellyfish.metaphone,
    "double_metaphone": lambda name: doublemetaphone(name)[0],  # the primary code: agreement is then a key
}


def fold(name: str) -> str:
    """Case- and accent-folded spelling: NFKD, combining marks dropped, upper case, letters only."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if c.isalpha() and not unicodedata.combining(c)).upper()


def name_keys(model: PopulationModel, field: str, method: str) -> pa.Array:
    """The comparison key of every name of a field (the name itself, folded, phonetic code or initial)."""
    cache_key = ("keys", field, method)
    if cache_key not in model.cache:
        names = model.field(field).names
        if method == "exact":
            keys = names
        elif method == "initial":
            keys = pc.utf8_slice_codeunits(names, 0, 1)
        elif method == "folded":
            keys = pa.array([fold(n) for n in names.to_pylist()], pa.string())
        else:
            encode = _PHONETIC[method]
            keys = pa.array([encode(n) for n in names.to_pylist()], pa.string())
        model.cache[cache_key] = keys
    keys_array: pa.Array = model.cache[cache_key]
    return keys_array


def key_codes(model: PopulationModel, field: str, method: str) -> np.ndarray:
    """Each name's key as a whole number (names share one exactly when they share the key): equality of
    keys at the cost of integers."""
    cache_key = ("codes", field, method)
    if cache_key not in model.cache:
        model.cache[cache_key] = pc.dictionary_encode(name_keys(model, field, method)).indices.to_numpy()
    codes: np.ndarray = model.cache[cache_key]
    return codes


def _key_shares(distribution: NameDistribution, codes: np.ndarray) -> np.ndarray:
    """(keys x groups) each group's share of the names with each key: agreement is then key equality."""
    size = int(codes.max()) + 1 if codes.size else 0
    return np.column_stack(
        [np.bincount(codes, weights=distribution.shares[:, g], minlength=size) for g in range(len(GROUPS))]
    )


def _key_field(model: PopulationModel, field: str, method: str) -> tuple[np.ndarray, np.ndarray]:
    """A key comparison's collision matrix and moments, computed once per model (they depend on the
    tables alone, and the moments cost a pass over every name)."""
    cache_key = ("key field", field, method)
    if cache_key not in model.cache:
        shares = _key_shares(model.field(field), key_codes(model, field, method))
        model.cache[cache_key] = (shares.T @ shares, _moments(shares, shares))
    found: tuple[np.ndarray, np.ndarray] = model.cache[cache_key]
    return found


def _similar(left: list[str], right: list[str], threshold: float) -> sparse.csr_matrix:
    """Sparse 0/1 matrix of JW(left_i, right_j) >= threshold, computed in row blocks to bound memory.

    Few distinct names are similar, so the matrix is kept sparse: the products with the share matrices
    then cost what the similar pairs cost, not what all pairs cost.
    """
    blocks = [
        sparse.csr_matrix(
            cdist(
                left[i : i + 1000],
                right,
                scorer=JaroWinkler.normalized_similarity,
                score_cutoff=threshold,
                dtype=np.float32,
                workers=-1,
            )
            >= threshold,
            dtype=np.float64,
        )
        for i in range(0, len(left), 1000)
    ]
    return sparse.vstack(blocks, format="csr") if blocks else sparse.csr_matrix((0, len(right)))


def _fuzzy_collision(
    model: PopulationModel, comparison: Comparison, head: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Jaro-Winkler collision matrix: exact over the `head` most common names, sampled beyond.

    Head x head pairs are enumerated with cdist. Pairs involving the other ("tail") names are estimated
    by importance sampling: SAMPLED tail names (drawn from the groups' pooled tail, fixed seed) against
    the head, and SAMPLED_PAIRS random tail pairs against each other; identical tail names are counted exactly.
    Returns the matrix, each group's tail mass (the share estimated by sampling) and the moments.
    """
    distribution = model.field(comparison.field)
    threshold = float(comparison.threshold or 0.0)
    shares = distribution.shares
    order = np.argsort(-(shares @ distribution.group_people), kind="stable")
    top, rest = order[:head], order[head:]
    cache_key = ("fuzzy", comparison.field, threshold, head)
    if cache_key not in model.cache:
        names = distribution.names
        head_names = names.take(pa.array(top)).to_pylist()
        pooled = shares[rest].sum(axis=1)
        rng = np.random.default_rng(20100401)
        probability = (
            pooled / pooled.sum() if pooled.sum() > 0 else np.full(rest.size, 1.0 / max(rest.size, 1))
        )

        cumulative = np.cumsum(probability)

        def draw(size: int) -> np.ndarray:
            if not rest.size:
                return np.zeros(0, np.int64)
            picks = np.searchsorted(cumulative, rng.random(size) * cumulative[-1], side="right")
            return rest[np.minimum(picks, rest.size - 1)]

        x, y, z = draw(SAMPLED), draw(SAMPLED_PAIRS), draw(SAMPLED_PAIRS)
        proposal = np.zeros(shares.shape[0])
        proposal[rest] = probability
        crossing = _similar(names.take(pa.array(x)).to_pylist(), head_names, threshold)
        pair_similar = (
            cpdist(
                names.take(pa.array(y)).to_pylist(),
                names.take(pa.array(z)).to_pylist(),
                scorer=JaroWinkler.normalized_similarity,
                score_cutoff=threshold,
                dtype=np.float64,
                workers=-1,
            )
            >= threshold
        )
        model.cache[cache_key] = (
            _similar(head_names, head_names, threshold),
            x,
            proposal[x],
            crossing,
            y,
            z,
            proposal[y] * proposal[z],
            pair_similar & (y != z),
        )
    similar, x, qx, crossing, y, z, qyz, pair_similar = model.cache[cache_key]
    head_shares, tail_shares = shares[top], shares[rest]
    matrix = head_shares.T @ (similar @ head_shares) + tail_shares.T @ tail_shares
    if x.size:
        tail_head = (shares[x] / qx[:, None]).T @ (crossing @ head_shares) / x.size
        tail_tail = (shares[y] * pair_similar[:, None] / qyz[:, None]).T @ shares[z] / y.size
        matrix = matrix + tail_head + tail_head.T + tail_tail
    # the variance's moments compare the head fuzzily and the tail exactly (the mass so approximated)
    if ("moments", *cache_key) not in model.cache:
        agreeing = np.vstack([similar @ head_shares, tail_shares])
        model.cache[("moments", *cache_key)] = _moments(np.vstack([head_shares, tail_shares]), agreeing)
    return matrix, tail_shares.sum(axis=0), model.cache[("moments", *cache_key)]


def dob_collision(dob: DobModel, comparison: Comparison) -> float:
    """Chance two random people's birth dates agree under the comparison."""
    weights, agreeing = _dob_agreement(dob, comparison)
    return float(weights @ agreeing)


def _dob_agreement(dob: DobModel, comparison: Comparison) -> tuple[np.ndarray, np.ndarray]:
    """Birth-date weights (per day, or per year for `year`) and, for each, the chance that a random
    person's birth date agrees with it under the comparison."""
    weights = dob.weights
    if comparison.method == "exact":
        return weights, weights
    if comparison.method == "within_days":
        days = int(comparison.days or 0)
        return weights, np.convolve(weights, np.ones(2 * days + 1), mode="same")
    dates = np.datetime64(dob.start, "D") + np.arange(weights.size)
    years = dates.astype("datetime64[Y]").astype(np.int64)
    if comparison.method == "year":
        by_year = np.bincount(years - years.min(), weights=weights)
        return by_year, by_year
    months = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    mday = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    swappable = (mday <= 12) & (mday != months)
    partner_dates = np.array(
        [
            f"{1970 + y:04d}-{d:02d}-{m:02d}"
            for y, m, d in zip(years[swappable], months[swappable], mday[swappable], strict=True)
        ],
        dtype="datetime64[D]",
    )
    partner = (partner_dates - np.datetime64(dob.start, "D")).astype(np.int64)
    agreeing = weights.copy()
    agreeing[swappable] += weights[partner]
    return weights, agreeing


def _moments(shares: np.ndarray, agreeing: np.ndarray) -> np.ndarray:
    """(groups x groups x groups) G[x, y, z] = sum_i shares_x(i) agreeing_y(i) agreeing_z(i): the chance that
    one person of group x agrees on this field with two independent people of groups y and z
    (`agreeing` = the agreement kernel applied to the shares; every kernel here is symmetric)."""
    return np.stack([(shares[:, [x]] * agreeing).T @ agreeing for x in range(shares.shape[1])])


@dataclass(frozen=True)
class AnalyticRisk:
    """Per-field and overall collision matrices (list group x population group) and expected wrongful pairs."""

    collision: np.ndarray
    fields: dict[str, np.ndarray]
    approximated: dict[str, np.ndarray]
    pairs: np.ndarray
    moments: np.ndarray  # G of `_moments`, multiplied over the fields: what `count_variance` needs


def analytic_risk(
    model: PopulationModel,
    rule: MatchRule,
    list_counts: ArrayLike,
    population_counts: ArrayLike,
    head: int = FUZZY_HEAD,
) -> AnalyticRisk:
    """Collision matrices of the rule over all GROUPS and the expected wrongful pairs M_a N_b C_ab."""
    size = len(GROUPS)
    collision = np.ones((size, size))
    moments = np.ones((size, size, size))
    fields: dict[str, np.ndarray] = {}
    approximated: dict[str, np.ndarray] = {}
    for comparison in rule.comparisons:
        if comparison.field == "dob":
            weights, agreeing = _dob_agreement(model.dob, comparison)
            matrix = np.full((size, size), float(weights @ agreeing))
            field_moments = np.full((size, size, size), float(weights @ agreeing**2))
        elif comparison.method == "jaro_winkler":
            matrix, approximated[comparison.field], field_moments = _fuzzy_collision(model, comparison, head)
        else:
            matrix, field_moments = _key_field(model, comparison.field, comparison.method)
        fields[comparison.field] = matrix
        collision = collision * matrix
        moments = moments * field_moments
    pairs = (
        np.asarray(list_counts, float)[:, None] * np.asarray(population_counts, float)[None, :] * collision
    )
    return AnalyticRisk(collision, fields, approximated, pairs, moments)


def count_variance(risk: AnalyticRisk, list_counts: ArrayLike, population_counts: ArrayLike) -> np.ndarray:
    """Variance of the realised count of wrongful pairs of each population group (row 0) and each list
    group (row 1), everyone drawn independently from the tables: pairs that share a record are matched
    together (a common name and birth date match many), so the count is overdispersed. Exact for key
    comparisons and every birth-date comparison; Jaro-Winkler's tail is taken as compared exactly."""
    c, g = risk.collision, risk.moments
    m, n = np.asarray(list_counts, float), np.asarray(population_counts, float)
    same = m[:, None] * n[None, :] * (c - c**2)
    # one list record (group a), two people of the population (groups b, b'); G[a, b, b']
    record = g - c[:, :, None] * c[:, None, :]
    # one person of the population (group b), two list records (groups a, a'); G[b, a, a']
    person = g - c.T[:, :, None] * c.T[:, None, :]
    by_population = (
        same.sum(axis=0)
        + n * (n - 1) * np.einsum("a,ab->b", m, np.einsum("abb->ab", record))
        + n * np.einsum("a,c,bac->b", m, m, person)
        - n * np.einsum("a,baa->b", m, person)
    )
    by_list = (
        same.sum(axis=1)
        + m * (m - 1) * np.einsum("b,ab->a", n, np.einsum("baa->ab", person))
        + m * np.einsum("b,c,abc->a", n, n, record)
        - m * np.einsum("b,abb->a", n, record)
    )
    return np.stack([by_population, by_list])


def count_prediction(expected: np.ndarray, variance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """95% prediction limits of a count around its expectation: the 2.5% and 97.5% quantiles of a Poisson
    law where the variance is at most the mean, else of the negative binomial with the count's mean and
    variance; the upper one raised to the next count where they coincide. That happens only for small
    expectations (a Poisson one at most -ln 0.975 = 0.0253, both quantiles 0); [0, 1] then holds the
    count with probability at least 0.975, so the interval is never zero-width."""
    mean = np.asarray(expected, float)
    spread = np.fmax(np.asarray(variance, float), mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        size = np.where(spread > mean, mean**2 / (spread - mean), np.inf)
        chance = np.where(spread > 0, mean / spread, 1.0)
    over = np.isfinite(size) & (mean > 0)
    low = np.where(
        over, stats.nbinom.ppf(0.025, np.where(over, size, 1.0), chance), stats.poisson.ppf(0.025, mean)
    )
    high = np.where(
        over, stats.nbinom.ppf(0.975, np.where(over, size, 1.0), chance), stats.poisson.ppf(0.975, mean)
    )
    return low, np.maximum(high, low + 1)
