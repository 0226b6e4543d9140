"""Coverage of the Monte Carlo interval of `linkage risk` (docs/linkage-risk.md, "Monte Carlo").

The interval claims 95% for the expected wrongful matches per 100,000. The attack feeds the interval code
(`montecarlo_rows`) replicates drawn by a second implementation (numpy here, not misflag's sampler or its
DuckDB join) of a toy population whose expectation is known by hand: surnames ALVAREZ, BROWN, CRUZ, DIAZ
with White shares .75, .25, 0, 0 and Hispanic 0, .2, .6, .2; two first names of .5 each in both groups; a
birth date uniform over 30 days; population and list half White, half Hispanic.

With 5 replicates (the default) the replicate spread has 4 degrees of freedom: mean +- 1.96 SE, the rule
before this test, covered 1,762 to 1,770 of 2,000 trials (88%, as Student's t with 4 degrees of freedom
predicts: 87.8%) for both groups' pairs and people; the binomial acceptance region starts at 1,869.
Student's quantile (2.78) covers 1,888 to 1,921. The control keeps the normal quantile (monkeypatched
in) and must fall below the region: the test can fail.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from scipy.stats import binom

from misflag.linkage import GROUPS, _risk_rows
from misflag.linkage._population import GROUP_LABELS
from misflag.linkage._risk_analytic import AnalyticRisk
from misflag.linkage._risk_montecarlo import MonteCarloRisk
from misflag.linkage._risk_rows import RiskRows, analytic_rows, montecarlo_rows

WHITE, HISPANIC = GROUPS.index("white"), GROUPS.index("hispanic")
SURNAMES = {WHITE: np.array([0.75, 0.25, 0.0, 0.0]), HISPANIC: np.array([0.0, 0.2, 0.6, 0.2])}
FIRST = np.array([0.5, 0.5])
DAYS = 30
POPULATION, LISTED, REPLICATES, TRIALS = 20_000, 200, 5, 2_000
KEYS = len(FIRST) * 4 * DAYS
#: Coverage below this count of TRIALS is evidence (P < 0.001) that it is under 95%.
FLOOR = int(binom.ppf(0.001, TRIALS, 0.95))


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
    assert min(covered.values()) >= FLOOR, (covered, FLOOR)


def test_control_the_normal_quantile_falls_short(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule before: mean +- 1.96 replicate standard errors (t / z monkeypatched to 1)."""
    monkeypatch.setattr(_risk_rows, "_t_over_z", lambda replicates: np.ones(np.shape(replicates)))
    covered = _covered(seed=11)
    assert max(covered.values()) < FLOOR, (covered, FLOOR)


def _analytic_limits() -> dict[str, tuple[float, float]]:
    """The analytic rows' interval per 100,000 of each population group, from the hand collision matrix
    (each list and population group exactly half)."""
    shares = {group: _key_shares(group) for group in (WHITE, HISPANIC)}
    collision = np.zeros((len(GROUPS), len(GROUPS)))
    for a, b in np.ndindex(2, 2):
        pair = ((WHITE, HISPANIC)[a], (WHITE, HISPANIC)[b])
        collision[pair] = shares[pair[0]] @ shares[pair[1]]
    listed, population = _in_groups(np.full(2, LISTED / 2)), _in_groups(np.full(2, POPULATION / 2))
    pairs = listed[:, None] * population[None, :] * collision
    out = RiskRows([WHITE, HISPANIC], None)
    analytic_rows(out, AnalyticRisk(collision, {}, {}, pairs), listed, population)
    return {
        row["group"]: (row["ci_low"], row["ci_high"])
        for row in out.rows
        if row["attribute"] == "group" and row["metric"] == "wrongful_match_per_100k"
    }


def _realised_covered(realised: np.ndarray) -> list[int]:
    """How many realised rates per 100,000 (runs x (White, Hispanic)) lie in the analytic interval."""
    limits = _analytic_limits()
    return [
        int(((low <= realised[:, index]) & (realised[:, index] <= high)).sum())
        for index, (low, high) in enumerate(limits[label] for label in ("White", "Hispanic"))
    ]


@pytest.mark.xfail(
    strict=True,
    reason="docs/linkage-risk.md: the analytic interval is Poisson; a drawn population's count is overdispersed",
)
def test_the_analytic_interval_holds_the_realised_count_of_a_drawn_population() -> None:
    """The analytic interval is said to hold the realised count of wrongful pairs with 95%. Drawn from
    the toy (2,000 populations and lists, each group exactly half), people who share a key match
    together, so the count varies far more than a Poisson count: the interval holds 747 and 720 of
    2,000 (strict xfail: this test fails the day the interval accounts for it, and the docs change)."""
    rng = np.random.default_rng(23)
    listing = _draw(rng, TRIALS, LISTED, halves=True)
    drawn = _draw(rng, TRIALS, POPULATION, halves=True)
    realised = np.einsum("rk,rbk->rb", listing.sum(axis=1), drawn) / (POPULATION / 2) * 1e5
    assert min(_realised_covered(realised)) >= FLOOR


def test_control_the_analytic_interval_holds_a_poisson_count() -> None:
    """The same check passes where its assumption holds: Poisson counts around the hand expectation."""
    expected = _expected()
    means = [
        expected[(label, "wrongful_match_per_100k")] * POPULATION / 2 / 1e5 for label in ("White", "Hispanic")
    ]
    counts = np.random.default_rng(29).poisson(means, size=(TRIALS, 2))
    assert min(_realised_covered(counts / (POPULATION / 2) * 1e5)) >= FLOOR
