"""No published linkage interval is zero-width: property tests over random small graphs, labelled samples and
rule-risk settings.

Expectations are computed here, independently of the code: counts from Python sets, Wilson limits at 0 and 1
from their closed forms (z^2 / (n + z^2) and n / (n + z^2)), Poisson quantiles by summing the probability
mass function.
"""

from __future__ import annotations

import math
from itertools import combinations
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from misflag.linkage import LinkageAuditSpec, PopulationModel, assess_rule_risk, audit_linkage
from misflag.linkage._clerical import estimate_precision
from tests.linkage._toy import toy_model

Z2 = NormalDist().inv_cdf(0.975) ** 2
LOW, HIGH = 0.5, 0.9  # the audited thresholds; scores are drawn from 0.2 (below both), 0.7 and 0.95


def _check_intervals(rows: list[dict[str, Any]]) -> None:
    """Every defined value has a proper interval around it: ci_low < ci_high, value inside."""
    for row in rows:
        low, high, value = row["ci_low"], row["ci_high"], row["value"]
        if value is None or low is None or high is None or math.isnan(low) or math.isnan(high):
            continue
        assert low < high, row
        assert low <= value <= high, row


@st.composite
def graphs(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Records of 1-7 people with 1-3 records each in groups a/b, and scored pairs: random, or a matcher that
    links exactly the true pairs (precision, recall and F1 of 1), or one that links only false pairs (0)."""
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=7))
    ids = [f"{p}_{k}" for p, size in enumerate(sizes) for k in range(size)]
    person = {i: i.split("_")[0] for i in ids}
    groups = draw(st.lists(st.sampled_from("ab"), min_size=len(ids), max_size=len(ids)))
    mode = draw(st.sampled_from(["random", "perfect", "wrong"]))
    pairs = []
    for a, b in combinations(ids, 2):
        same = person[a] == person[b]
        if mode == "perfect":
            score = 0.95 if same else None
        elif mode == "wrong":
            score = None if same else 0.95
        else:
            score = draw(st.sampled_from([None, 0.2, 0.7, 0.95]))
        if score is not None:
            pairs.append((a, b, score))
    if not pairs:  # a pairs file lists at least one pair
        pairs.append((ids[0], ids[-1], 0.2) if len(ids) > 1 else (ids[0], "extra", 0.2))
        if len(ids) == 1:
            ids.append("extra")
            groups.append("b")
            person["extra"] = "extra"
    records = pd.DataFrame({"id": ids, "person": [person[i] for i in ids], "grp": groups})
    return records, pd.DataFrame(pairs, columns=["id_l", "id_r", "score"])


def _expected(
    records: pd.DataFrame, pairs: pd.DataFrame, group: str | None, t: float
) -> tuple[int, int, int]:
    """TP, FP, FN at threshold t among pairs touching the group (all pairs for None), from Python sets."""
    person = dict(zip(records.id, records.person, strict=True))
    grp = dict(zip(records.id, records.grp, strict=True))
    touches = lambda a, b: group is None or group in (grp[a], grp[b])  # noqa: E731
    linked = {frozenset((a, b)) for a, b, s in pairs.itertuples(index=False) if s >= t and touches(a, b)}
    true = {frozenset(p) for p in combinations(records.id, 2) if person[p[0]] == person[p[1]] and touches(*p)}
    return len(linked & true), len(linked - true), len(true - linked)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_linkage_audit_intervals_never_collapse(graph: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    records, pairs = graph
    spec = LinkageAuditSpec(
        cluster_column="person",
        groups=("grp",),
        thresholds=(LOW, HIGH),
        min_cell=1,
        blocking_rules=("l.grp = r.grp",),
    )
    result = audit_linkage(pairs, records, spec=spec)
    rows = result.table.to_pylist()
    _check_intervals(rows)
    for row in rows:
        if row["metric"] not in {"f1", "precision", "recall"}:
            continue
        group = None if row["attribute"] == "overall" else row["group"]
        tp, fp, fn = _expected(records, pairs, group, float(row["stage"].removeprefix("p>=")))
        n = {"f1": tp + fp + fn, "precision": tp + fp, "recall": tp + fn}[row["metric"]]
        if n == 0:
            assert row["value"] is None
            continue
        j = tp / n  # the proportion behind the row: J = TP / (TP + FP + FN) for F1
        f = (lambda x: 2 * x / (1 + x)) if row["metric"] == "f1" else (lambda x: x)
        assert row["value"] == pytest.approx(f(j)) and row["denominator"] == n
        # at 0 and 1 there is no between-cluster variance: Wilson at the count, in closed form
        if tp == 0:
            assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.0, f(Z2 / (n + Z2))))
        if tp == n:
            assert (row["ci_low"], row["ci_high"]) == pytest.approx((f(n / (n + Z2)), 1.0))


# The toy population of test_linkage_risk_toy: white surnames A .75, B .25; Hispanic B .2, C .6, D .2; two
# first names at .5 in both groups; one birth year. Crosscheck collision chances (first x last x DOB):
C_WW, C_WH, C_HH = 0.5 * 0.625 / 365, 0.5 * 0.05 / 365, 0.5 * 0.44 / 365


def _key_probabilities(surnames: list[float]) -> np.ndarray:
    """Each (first name, surname, birth date) key's probability for a group with these surname shares."""
    return np.kron(np.kron([0.5, 0.5], surnames), np.full(365, 1 / 365))


KEYS = {"White": _key_probabilities([0.75, 0.25, 0, 0]), "Hispanic": _key_probabilities([0, 0.2, 0.6, 0.2])}


def _count_variance(listed: tuple[float, float], people: float, group: np.ndarray) -> float:
    """Variance of the count of key-sharing pairs between a list (White, Hispanic records as given) and
    `people` of one group, everyone's key drawn independently: C = L'P with L and P independent sums of
    multinomials over the keys, so Var C = E[L]' Cov(P) E[L] + E[P]' Cov(L) E[P] + tr(Cov(L) Cov(P)),
    Cov of a multinomial being n (diag p - p p'), written out without forming the matrices."""
    parts = list(zip(listed, (KEYS["White"], KEYS["Hispanic"]), strict=True))
    mean_list = sum(m * p for m, p in parts)
    first = people * (mean_list**2 @ group - (mean_list @ group) ** 2)
    second = people**2 * sum(m * (p @ group**2 - (p @ group) ** 2) for m, p in parts)
    trace = people * sum(m * (p @ group - p @ group**2 - p**2 @ group + (p @ group) ** 2) for m, p in parts)
    return float(first + second + trace)


def _negative_binomial_quantile(mu: float, variance: float, q: float) -> int:
    """Smallest k with P(X <= k) >= q for the negative binomial of this mean and variance, by summing its
    mass function: P(0) = p^r, P(k) = P(k - 1) (k - 1 + r) (1 - p) / k with p = mu / var, r = mu^2 / (var - mu)."""
    chance, size = mu / variance, mu**2 / (variance - mu)
    k, term = 0, chance**size
    assert term > 0
    total = term
    while total < q:
        k += 1
        term *= (k - 1 + size) * (1 - chance) / k
        total += term
    return k


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> PopulationModel:
    return toy_model(tmp_path_factory.mktemp("toy"), {2001: 1.0})


def _poisson_quantile(mu: float, q: float) -> int:
    """Smallest k with P(X <= k) >= q for X ~ Poisson(mu), by summing the mass function (e^-mu > 0 needs
    mu below about 700)."""
    assert mu < 700
    k, term = 0, math.exp(-mu)
    total = term
    while total < q:
        k += 1
        term *= mu / k
        total += term
    return k


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    population=st.integers(1, 20_000),  # expected counts up to 20,000 x 30 x C_WW = 514
    listed=st.integers(1, 30),
    white_population=st.sampled_from([0.1, 0.5, 0.9]),
    white_list=st.sampled_from([0.1, 0.5, 0.9]),
)
def test_rule_risk_intervals_never_collapse(
    toy: PopulationModel, population: int, listed: int, white_population: float, white_list: float
) -> None:
    pop_mix = {"white": white_population, "hispanic": 1 - white_population}
    list_mix = {"white": white_list, "hispanic": 1 - white_list}
    result = assess_rule_risk(
        "crosscheck",
        population_size=population,
        list_size=listed,
        prevalence=0.1,
        population_mix=pop_mix,
        list_mix=list_mix,
        model=toy,
    )
    _check_intervals(result.table.to_pylist())
    m_w, m_h = listed * white_list, listed * (1 - white_list)
    n_w, n_h = population * white_population, population * (1 - white_population)
    for label, mu, size in (
        ("White", n_w * (m_w * C_WW + m_h * C_WH), n_w),
        ("Hispanic", n_h * (m_w * C_WH + m_h * C_HH), n_h),
    ):
        (row,) = result.select(
            metric="wrongful_match_per_100k", group=label, attribute="group", stage="analytic"
        )
        variance = _count_variance((m_w, m_h), size, KEYS[label])
        if variance > mu * (1 + 1e-9):  # overdispersed: people who share a key are matched together
            low = _negative_binomial_quantile(mu, variance, 0.025)
            high = max(_negative_binomial_quantile(mu, variance, 0.975), low + 1)
        else:
            low = _poisson_quantile(mu, 0.025)
            high = max(_poisson_quantile(mu, 0.975), low + 1)  # [0, 1] person where both quantiles are 0
        assert row["value"] == pytest.approx(mu / size * 1e5)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low / size * 1e5, high / size * 1e5))


def test_tiny_expected_count_and_zero_simulated_matches(toy: PopulationModel) -> None:
    """One white list record against 10 white people: the expected count 10 C_WW = 0.0086 is below
    -ln 0.975 = 0.0253, so the 95% prediction interval of the count is {0} and [0, 1] person (0 to 10,000
    per 100k) is published. Monte Carlo of the same finds no match in 3 replicates: the upper limits are the
    Garwood limit of a zero count, -ln 0.025, over the 3 x 10 simulated people, per 100k."""
    white = {"white": 1.0}
    result = assess_rule_risk(
        "crosscheck",
        population_size=10,
        list_size=1,
        population_mix=white,
        list_mix=white,
        model=toy,
        method="both",
        replicates=3,
        seed=0,  # a seed whose 3 replicates find no match (each has a 1 - (1 - C_WW)^10 = 0.86% chance of one)
    )
    _check_intervals(result.table.to_pylist())

    def pick(metric: str, stage: str) -> dict[str, Any]:
        (row,) = result.select(metric=metric, group="White", attribute="group", stage=stage)
        return row

    mu = 10 * C_WW
    assert mu < -math.log(0.975)
    row = pick("wrongful_match_per_100k", "analytic")
    assert (row["value"], row["ci_low"], row["ci_high"]) == pytest.approx((mu / 10 * 1e5, 0.0, 1 / 10 * 1e5))
    garwood = -math.log(0.025) / 30 * 1e5
    for metric in ("wrongful_match_per_100k", "people_wrongly_matched_per_100k"):
        row = pick(metric, "montecarlo")
        assert (row["value"], row["ci_low"], row["ci_high"]) == pytest.approx((0.0, 0.0, garwood))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([0.0, 1.0, math.nan]), st.integers(0, 2), st.booleans()),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from(["random", "all true", "all false"]),
)
def test_clerical_precision_interval_never_collapses(
    sample: list[tuple[float, int, bool]], mode: str
) -> None:
    """Weighted precision from a stratified labelled sample (strata of 50, 80 and 200 pairs): a proper interval
    whenever a labelled pair is in the domain; with every label equal, Wilson at the labelled count."""
    labels = np.array([{"all true": 1.0, "all false": 0.0}.get(mode, label) for label, _, _ in sample])
    strata = np.array([stratum for _, stratum, _ in sample])
    domain = np.array([inside for _, _, inside in sample])
    estimate = estimate_precision(labels, strata, np.array([50.0, 80.0, 200.0])[strata], domain)
    n = int((domain & ~np.isnan(labels)).sum())
    if n == 0:
        assert math.isnan(estimate.value)
        return
    assert estimate.ci_low < estimate.ci_high and estimate.ci_low <= estimate.value <= estimate.ci_high
    if mode == "all true":
        assert (estimate.value, estimate.ci_low, estimate.ci_high) == pytest.approx((1.0, n / (n + Z2), 1.0))
    if mode == "all false":
        assert (estimate.value, estimate.ci_low, estimate.ci_high) == pytest.approx((0.0, 0.0, Z2 / (n + Z2)))
