"""Analytic collision probabilities of a matching rule, and the expected wrongful matches they imply.

For list group a and population group b, the chance that a random list record and a random population
member agree on every compared field is the product of per-field chances (fields are independent within
a group): for a name compared through a key (exact, folded, phonetic, initial) it is sum_k A_a(k) A_b(k)
over keys k, A_g(k) being group g's share of names with key k; for Jaro-Winkler it is A_a' S A_b over the
most frequent names (S = pairs at or above the threshold, from rapidfuzz's cdist), the other names being
compared exactly, and the mass so approximated is reported. `poisson_prediction` gives 95% prediction
limits of a Poisson count around the expectation: Poisson variation only, since in a population drawn
from the tables people who share a key are matched together and the realised count varies more
(docs/linkage-risk.md, tests/linkage/test_linkage_risk_coverage.py).
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


def _key_collision(distribution: NameDistribution, keys: pa.Array) -> np.ndarray:
    """(groups x groups) chance two names share a key: A' A over the key-aggregated shares."""
    codes = pc.dictionary_encode(keys).indices.to_numpy()
    size = int(codes.max()) + 1 if codes.size else 0
    aggregated = np.column_stack(
        [np.bincount(codes, weights=distribution.shares[:, g], minlength=size) for g in range(len(GROUPS))]
    )
    return aggregated.T @ aggregated


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
) -> tuple[np.ndarray, np.ndarray]:
    """Jaro-Winkler collision matrix: exact over the `head` most common names, sampled beyond.

    Head x head pairs are enumerated with cdist. Pairs involving the other ("tail") names are estimated
    by importance sampling: SAMPLED tail names (drawn from the groups' pooled tail, fixed seed) against
    the head, and SAMPLED_PAIRS random tail pairs against each other; identical tail names are counted exactly.
    Returns the matrix and each group's tail mass (the share estimated by sampling).
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
    return matrix, tail_shares.sum(axis=0)


def dob_collision(dob: DobModel, comparison: Comparison) -> float:
    """Chance two random people's birth dates agree under the comparison."""
    weights = dob.weights
    if comparison.method == "exact":
        return float(weights @ weights)
    if comparison.method == "within_days":
        days = int(comparison.days or 0)
        window = np.convolve(weights, np.ones(2 * days + 1), mode="same")
        return float(weights @ window)
    dates = np.datetime64(dob.start, "D") + np.arange(weights.size)
    years = dates.astype("datetime64[Y]").astype(np.int64)
    if comparison.method == "year":
        by_year = np.bincount(years - years.min(), weights=weights)
        return float(by_year @ by_year)
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
    return float(weights @ weights + weights[swappable] @ weights[partner])


@dataclass(frozen=True)
class AnalyticRisk:
    """Per-field and overall collision matrices (list group x population group) and expected wrongful pairs."""

    collision: np.ndarray
    fields: dict[str, np.ndarray]
    approximated: dict[str, np.ndarray]
    pairs: np.ndarray


def analytic_risk(
    model: PopulationModel,
    rule: MatchRule,
    list_counts: np.ndarray,
    population_counts: np.ndarray,
    head: int = FUZZY_HEAD,
) -> AnalyticRisk:
    """Collision matrices of the rule over all GROUPS and the expected wrongful pairs M_a N_b C_ab."""
    size = len(GROUPS)
    collision = np.ones((size, size))
    fields: dict[str, np.ndarray] = {}
    approximated: dict[str, np.ndarray] = {}
    for comparison in rule.comparisons:
        if comparison.field == "dob":
            matrix = np.full((size, size), dob_collision(model.dob, comparison))
        elif comparison.method == "jaro_winkler":
            matrix, approximated[comparison.field] = _fuzzy_collision(model, comparison, head)
        else:
            keys = name_keys(model, comparison.field, comparison.method)
            matrix = _key_collision(model.field(comparison.field), keys)
        fields[comparison.field] = matrix
        collision = collision * matrix
    pairs = (
        np.asarray(list_counts, float)[:, None] * np.asarray(population_counts, float)[None, :] * collision
    )
    return AnalyticRisk(collision=collision, fields=fields, approximated=approximated, pairs=pairs)


def poisson_prediction(expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """95% prediction limits of a Poisson count around its expectation: the 2.5% and 97.5% quantiles, the
    upper one raised to the next count where they coincide. That happens only when the expectation is at
    most -ln 0.975 = 0.0253 (both quantiles 0); [0, 1] then holds the count with probability
    e^-mu (1 + mu) >= 0.9997, so the interval is never zero-width and never below 95%."""
    low = stats.poisson.ppf(0.025, expected)
    return low, np.maximum(stats.poisson.ppf(0.975, expected), low + 1)
