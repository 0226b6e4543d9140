"""Analytic vs Monte Carlo on the real Census tables, for the three presets; and the direction of the gaps.

Birth dates are narrowed to one birth year (366 days of 1980) so that modest simulated sizes give hundreds
of wrongful matches per replicate; the arithmetic being checked (names x dates x groups) is the same.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from misflag.linkage import GROUP_LABELS, GROUPS, PopulationModel, assess_rule_risk
from misflag.linkage._population import DobModel
from misflag.linkage._risk_montecarlo import simulate
from misflag.linkage._rules import load_rule

SIZES = {
    "crosscheck": (2_000_000, 200_000, 5),
    "last-dob": (400_000, 40_000, 12),
    "fuzzy-name-dob": (300_000, 60_000, 4),
}


@pytest.fixture(scope="module")
def census(census_surnames, census_first_names) -> PopulationModel:
    """The Census name tables with the default birth years, loaded once for the module."""
    return PopulationModel.from_census(census_surnames, census_first_names)


@pytest.fixture(scope="module")
def one_year(census: PopulationModel) -> PopulationModel:
    """The same name tables, everyone born in 1980 (what from_census builds with birth_years={1980: 1.0})."""
    return PopulationModel(census.first, census.last, DobModel.from_birth_years({1980: 1.0}))


@pytest.mark.slow
@pytest.mark.parametrize("preset", list(SIZES))
def test_analytic_and_monte_carlo_agree(one_year: PopulationModel, preset: str) -> None:
    """Every group with at least 30 expected wrongful matches per replicate, and the list-group view.

    The Monte Carlo replicates are taken from `simulate` and summarised here: the standard error is the
    larger of the replicate standard error and the Poisson standard error of the pooled count (pair
    counts are at least Poisson-dispersed), computed from the raw counts, never read from an interval
    under test. Tolerance: 4 standard errors (about 15 comparisons at a family-wise 0.1%).
    """
    population, listed, replicates = SIZES[preset]
    result = assess_rule_risk(preset, population_size=population, list_size=listed, model=one_year)
    mc = simulate(
        one_year,
        load_rule(preset),
        population_size=population,
        list_size=listed,
        population_mix=one_year.check_mix(None, "population mix"),
        list_mix=one_year.check_mix(None, "list mix"),
        seed=1,
        replicates=replicates,
    )
    checked = 0
    for attribute, raw, sizes in (
        ("group", mc.pairs.sum(axis=1), mc.population_counts),
        ("list group", mc.pairs.sum(axis=2), mc.list_counts),
    ):
        for index, group in enumerate(GROUPS):
            label = GROUP_LABELS[group]
            found = result.select(
                metric="wrongful_match_count", attribute=attribute, group=label, stage="analytic"
            )
            if not found or found[0]["value"] < 30:
                continue
            analytic = result.value("wrongful_match_per_100k", label, attribute, "analytic")
            per = raw[:, index] / sizes[:, index] * 1e5
            mean = per.mean()
            se = max(per.std(ddof=1) / np.sqrt(replicates), mean / np.sqrt(raw[:, index].sum()))
            assert abs(mean - analytic) < 4 * se, (preset, attribute, label, analytic, mean, se)
            checked += 1
    assert checked >= 4


def _name_shares(path) -> pd.DataFrame:
    """Each group's share of each name, straight from a Census table with pandas (a second reading of the
    table: the remainder line spread evenly over synthetic names of half the smallest listed count)."""
    table = pd.read_parquet(path)
    pct = table[[f"pct{g}" for g in GROUPS]].astype(float).fillna(0.0).to_numpy()
    pct = pct / np.where(pct.sum(axis=1, keepdims=True) > 0, pct.sum(axis=1, keepdims=True), 1.0)
    people = table["count"].to_numpy(dtype=float)[:, None] * pct
    remainder = (table["name"] == "ALL OTHER NAMES").to_numpy()
    listed = people[~remainder]
    if remainder.any():
        per_name = max(1.0, float(table["count"][~remainder].min()) // 2)
        synthetic = int(np.ceil(table["count"][remainder].sum() / per_name))
        spread = np.repeat(people[remainder].sum(axis=0, keepdims=True) / synthetic, synthetic, axis=0)
        listed = np.vstack([listed, spread])
    return pd.DataFrame(listed / listed.sum(axis=0), columns=list(GROUPS))


def test_crosscheck_direction_from_the_real_tables(
    census: PopulationModel, census_surnames, census_first_names
) -> None:
    """US adults (N = 258.3M), a list of 1M with the tables' own group mix.

    Hispanic people are wrongly matched more often than white people, both per 100k and per same-group
    pair (surnames and first names both concentrate). Asian/Pacific Islander people are NOT: API surnames
    concentrate (NGUYEN 2.9%) but API first names in the 2020 table are the most diverse of any group.
    The expected ratios are closed forms over the tables (the date-of-birth factor cancels): a group g's
    wrongful matches per person are sum over list groups l of m_l * C_first(l, g) * C_last(l, g), with
    C(l, g) = sum over names of share_l * share_g; a same-group collision is C(g, g).
    """
    first, last = _name_shares(census_first_names), _name_shares(census_surnames)
    collide = {
        (a, b): float((first[a] * first[b]).sum() * (last[a] * last[b]).sum()) for a in GROUPS for b in GROUPS
    }
    mix = census.check_mix(None, "list mix")
    per_person = {g: sum(mix.get(a, 0.0) * collide[(a, g)] for a in GROUPS) for g in GROUPS}
    surname_pair = {g: float((last[g] ** 2).sum()) for g in GROUPS}

    cross = assess_rule_risk("crosscheck", population_size=258_300_000, list_size=1_000_000, model=census)
    rate = lambda g: cross.value("wrongful_match_per_100k", g, "group", "analytic")  # noqa: E731
    pair = lambda r, g: r.value("same_group_collision", g, "group", "analytic")  # noqa: E731
    assert rate("Hispanic") / rate("White") == pytest.approx(
        per_person["hispanic"] / per_person["white"], rel=1e-6
    )
    assert rate("Hispanic") > rate("White")
    assert pair(cross, "Hispanic") / pair(cross, "White") == pytest.approx(
        collide[("hispanic", "hispanic")] / collide[("white", "white")], rel=1e-6
    )
    assert rate("Asian/Pacific Islander") < rate("White")
    surname_only = assess_rule_risk(
        "last-dob", population_size=258_300_000, list_size=1_000_000, model=census
    )
    assert pair(surname_only, "Asian/Pacific Islander") / pair(surname_only, "White") == pytest.approx(
        surname_pair["api"] / surname_pair["white"], rel=1e-6
    )
