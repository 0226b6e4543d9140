"""Coverage of `linkage risk`'s intervals (docs/linkage-risk.md, "Computation").

The attack draws a toy population and list with a second implementation (numpy multinomials over the
keys, not misflag's sampler or its DuckDB join) whose expectation is known by hand: surnames ALVAREZ,
BROWN, CRUZ, DIAZ with White shares .75, .25, 0, 0 and Hispanic 0, .2, .6, .2; two first names of .5
each in both groups; a birth date uniform over 30 days; population and list half White, half Hispanic.

Monte Carlo: the interval claims 95% for the expected wrongful matches per 100,000. Replicates drawn here
are fed to the interval code (`montecarlo_rows`). With 5 replicates (the default) the replicate spread
has 4 degrees of freedom: mean +- 1.96 SE, the rule before this test, covered 1,762 to 1,770 of 2,000
trials (88%, as Student's t with 4 degrees of freedom predicts: 87.8%) for both groups' pairs and people;
the binomial acceptance region starts at 1,869. Student's quantile (2.78) covers 1,888 to 1,921.

Analytic: the interval claims 95% for the realised count of a drawn population. misflag's analytic rows of
the same toy (its own tables and model) against 2,000 drawn counts: the Poisson interval, the rule before,
held 747 and 720 (the count is overdispersed: people who share a key are matched together); the
interval from the count's exact variance holds 1,887 and 1,900.

Each control puts the rule before back (monkeypatched) and must fall below the region: the tests can fail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pytest
from scipy.stats import binom

from misflag.linkage import GROUPS, PopulationModel, _risk_rows
from misflag.linkage._population import GROUP_LABELS, DobModel
from misflag.linkage._risk_analytic import analytic_risk
from misflag.linkage._risk_montecarlo import MonteCarloRisk
from misflag.linkage._risk_rows import RiskRows, analytic_rows, montecarlo_rows
from misflag.linkage._rules import load_rule
from tests.linkage._toy import toy_model

WHITE, HISPANIC = GROUPS.index("white"), GROUPS.index("hispanic")
SURNAMES = {WHITE: np.array([0.75, 0.25, 0.0, 0.0]), HISPANIC: np.array([0.0, 0.2, 0.6, 0.2])}
FIRST = np.array([0.5, 0.5])
DAYS = 30
POPULATION, LISTED, REPLICATES, TRIALS = 20_000, 200, 5, 2_000
KEYS = len(FIRST) * 4 * DAYS
#: Coverage below this count of TRIALS is evidence (P < 0.001) that it is under 95%.
FLOOR = int(binom.ppf(0.001, TRIALS, 0.95))
CEILING = int(binom.ppf(0.999, TRIALS, 0.95))  # far wider than 95% would cover more: the region's top


def _key_shares(group: int) -> np.ndarray:
    """Each (first name, surname, day) key's probability for one group, as a flat array."""
    return np.einsum("f,s,d->fsd", FIRST, SURNAMES[group], np.full(DAYS, 1 / DAYS)).ravel()


def _expected() -> dict[tuple[str, str], float]:
    """Hand values per 100,000 population members: pairs, and people matched at least once."""
    in_list = 0.5 * _key_shares(WHITE) + 0.5 * _key_shares(HISPANIC)  # a list record's key
    found = {}
    for group in (WHITE, HISPANIC):
        shares, label = _key_shares(group), GROUP_LABELS[GROUPS[group]]
        found[(label, "wrongful_match_per_100k")] = float(1e5 * LISTED * shares @ in_list)
        missed = (1 - in_list) ** LISTED  # no list record shares the person's key
        found[(label, "people_wrongly_matched_per_100k")] = float(1e5 * shares @ (1 - missed))
    return found


def _draw(rng: np.random.Generator, runs: int, size: int, halves: bool = False) -> np.ndarray:
    """`runs` draws of `size` people: how many hold each key, per run and group (White, Hispanic); each
    group half of them, or (`halves`) exactly half."""
    white = np.full(runs, size // 2) if halves else rng.binomial(size, 0.5, size=runs)
    return np.stack(
        [
            rng.multinomial(white, _key_shares(WHITE)),
            rng.multinomial(size - white, _key_shares(HISPANIC)),
        ],
        axis=1,
    ).astype(float)


def _in_groups(values: np.ndarray) -> np.ndarray:
    """Arrays over (White, Hispanic) on their last axis (or last two) placed at their GROUPS positions."""
    placed = np.zeros((*values.shape[:-1], len(GROUPS)))
    placed[..., [WHITE, HISPANIC]] = values
    return placed


def _trials(seed: int, batch: int = 100) -> Iterator[MonteCarloRisk]:
    """TRIALS Monte Carlo runs of REPLICATES replicates each, with their pair and people counts."""
    rng = np.random.default_rng(seed)
    for _ in range(TRIALS // batch):
        listing = _draw(rng, batch * REPLICATES, LISTED).reshape(batch, REPLICATES, 2, KEYS)
        drawn = _draw(rng, batch * REPLICATES, POPULATION).reshape(batch, REPLICATES, 2, KEYS)
        pairs = np.einsum("trak,trbk->trab", listing, drawn)  # list group x population group
        people = np.einsum("trbk,trk->trb", drawn, (listing.sum(axis=2) > 0).astype(float))
        for t in range(batch):
            square = np.zeros((REPLICATES, len(GROUPS), len(GROUPS)))
            square[np.ix_(range(REPLICATES), [WHITE, HISPANIC], [WHITE, HISPANIC])] = pairs[t]
            yield MonteCarloRisk(
                square,
                _in_groups(people[t]),
                _in_groups(listing[t].sum(axis=2)),
                _in_groups(drawn[t].sum(axis=2)),
                POPULATION,
                LISTED,
            )


def _covered(seed: int) -> dict[tuple[str, str], int]:
    """How many trials' intervals hold each hand value (population groups' rows)."""
    expected = _expected()
    covered = dict.fromkeys(expected, 0)
    sizes = np.zeros(len(GROUPS))
    sizes[[WHITE, HISPANIC]] = [POPULATION / 2, POPULATION / 2]
    for mc in _trials(seed):
        out = RiskRows([WHITE, HISPANIC], None)
        montecarlo_rows(out, mc, POPULATION, LISTED, sizes * LISTED / POPULATION, sizes)
        for row in out.rows:
            key = (row["group"], row["metric"])
            if row["attribute"] == "group" and key in expected:
                covered[key] += row["ci_low"] <= expected[key] <= row["ci_high"]
    return covered


def test_the_hand_values_are_what_the_simulation_averages() -> None:
    """The targets themselves, against the second implementation's mean over 400 replicates (4 SE)."""
    expected = _expected()
    assert expected[("White", "wrongful_match_per_100k")] == pytest.approx(1e5 * LISTED * 0.16875 / DAYS)
    assert expected[("Hispanic", "wrongful_match_per_100k")] == pytest.approx(1e5 * LISTED * 0.1225 / DAYS)
    rng = np.random.default_rng(5)
    listing, drawn = _draw(rng, 400, LISTED), _draw(rng, 400, POPULATION)
    rates = np.einsum("rk,rbk->rb", listing.sum(axis=1), drawn) / drawn.sum(axis=2) * 1e5
    mean, se = np.mean(rates, axis=0), np.std(rates, axis=0, ddof=1) / np.sqrt(len(rates))
    for index, label in enumerate(("White", "Hispanic")):
        assert abs(mean[index] - expected[(label, "wrongful_match_per_100k")]) < 4 * se[index]


def test_monte_carlo_intervals_cover_at_the_default_five_replicates() -> None:
    covered = _covered(seed=11)
    assert min(covered.values()) >= FLOOR and max(covered.values()) <= CEILING, (covered, FLOOR, CEILING)


def test_control_the_normal_quantile_falls_short(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule before: mean +- 1.96 replicate standard errors (t / z monkeypatched to 1)."""
    monkeypatch.setattr(_risk_rows, "_t_over_z", lambda replicates: np.ones(np.shape(replicates)))
    covered = _covered(seed=11)
    assert max(covered.values()) < FLOOR, (covered, FLOOR)


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> PopulationModel:
    """The toy as misflag's model: Census-shaped name tables and 30 equally likely birth dates."""
    dob = DobModel(start=dt.date(2001, 1, 1), weights=np.full(DAYS, 1 / DAYS), source="toy")
    return toy_model(tmp_path_factory.mktemp("toy"), dob)


def _analytic_limits(toy: PopulationModel) -> dict[str, tuple[float, float]]:
    """The analytic rows' interval per 100,000 of each population group (each list and population group
    exactly half), and a check of their expectation against the hand values."""
    listed, population = _in_groups(np.full(2, LISTED / 2)), _in_groups(np.full(2, POPULATION / 2))
    out = RiskRows([WHITE, HISPANIC], None)
    analytic_rows(out, analytic_risk(toy, load_rule("crosscheck"), listed, population), listed, population)
    rows = [r for r in out.rows if r["attribute"] == "group" and r["metric"] == "wrongful_match_per_100k"]
    expected = _expected()
    assert [r["value"] for r in rows] == pytest.approx(
        [expected[(r["group"], "wrongful_match_per_100k")] for r in rows], rel=1e-12
    )
    return {row["group"]: (row["ci_low"], row["ci_high"]) for row in rows}


def _realised_covered(toy: PopulationModel) -> list[int]:
    """How many of TRIALS realised counts per 100,000 (drawn populations and lists, each group exactly
    half) lie in the analytic interval, for White and Hispanic."""
    rng = np.random.default_rng(23)
    listing = _draw(rng, TRIALS, LISTED, halves=True)
    drawn = _draw(rng, TRIALS, POPULATION, halves=True)
    realised = np.einsum("rk,rbk->rb", listing.sum(axis=1), drawn) / (POPULATION / 2) * 1e5
    limits = _analytic_limits(toy)
    return [
        int(((low <= realised[:, index]) & (realised[:, index] <= high)).sum())
        for index, (low, high) in enumerate(limits[label] for label in ("White", "Hispanic"))
    ]


def test_the_analytic_interval_holds_the_realised_count_of_a_drawn_population(toy: PopulationModel) -> None:
    """The analytic interval is a 95% prediction interval of the count of wrongful pairs in a population
    and a list drawn from the tables: 1,887 and 1,900 of 2,000 drawn counts (numpy, not misflag's
    sampler) lie in it, each group exactly half."""
    covered = _realised_covered(toy)
    assert min(covered) >= FLOOR and max(covered) <= CEILING, (covered, FLOOR, CEILING)


def test_control_a_poisson_interval_misses_the_overdispersed_count(
    toy: PopulationModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rule before: the Poisson prediction interval (the variance monkeypatched to the mean). People
    who share a key are matched together, so the count varies far more than a Poisson count: it held
    747 and 720 of the same 2,000 counts."""
    monkeypatch.setattr(
        _risk_rows,
        "count_variance",
        lambda risk, m, n: np.stack([risk.pairs.sum(axis=0), risk.pairs.sum(axis=1)]),
    )
    assert max(_realised_covered(toy)) < FLOOR
