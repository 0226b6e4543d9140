"""Analytic vs Monte Carlo on the real Census tables, for the three presets; and the direction of the gaps.

Birth dates are narrowed to one birth year (366 days of 1980) so that modest simulated sizes give hundreds
of wrongful matches per replicate; the arithmetic being checked (names x dates x groups) is the same.
"""

from __future__ import annotations

import pytest

from misflag.linkage import PopulationModel, assess_rule_risk

SIZES = {
    "crosscheck": (2_000_000, 200_000, 5),
    "last-dob": (400_000, 40_000, 12),
    "fuzzy-name-dob": (300_000, 60_000, 4),
}


@pytest.fixture(scope="module")
def one_year(census_surnames, census_first_names) -> PopulationModel:
    return PopulationModel.from_census(census_surnames, census_first_names, birth_years={1980: 1.0})


@pytest.mark.slow
@pytest.mark.parametrize("preset", list(SIZES))
def test_analytic_and_monte_carlo_agree_within_three_standard_errors(
    one_year: PopulationModel, preset: str
) -> None:
    """Every group with at least 30 expected wrongful matches per replicate, and the list-group view.

    SE = the Monte Carlo row's own: the larger of the replicate standard error and the Poisson standard error
    of the pooled count (with 4-12 replicates the replicate spread alone can understate the error).
    """
    population, listed, replicates = SIZES[preset]
    result = assess_rule_risk(
        preset,
        population_size=population,
        list_size=listed,
        model=one_year,
        method="both",
        replicates=replicates,
        seed=1,
    )
    checked = 0
    for attribute in ("group", "list group"):
        for row in result.select(metric="wrongful_match_per_100k", attribute=attribute, stage="analytic"):
            count = result.value("wrongful_match_count", row["group"], attribute, "analytic")
            if count < 30:
                continue
            (mc,) = result.select(
                metric="wrongful_match_per_100k", attribute=attribute, group=row["group"], stage="montecarlo"
            )
            se = (mc["ci_high"] - mc["value"]) / 1.96
            assert abs(mc["value"] - row["value"]) < 3 * se, (
                preset,
                attribute,
                row["group"],
                row["value"],
                mc["value"],
                se,
            )
            checked += 1
    assert checked >= 4


def test_crosscheck_direction_from_the_real_tables(census_surnames, census_first_names) -> None:
    """US adults (N = 258.3M), a list of 1M with the tables' own group mix.

    Hispanic people are wrongly matched more often than white people, both per 100k and per same-group
    pair (surnames and first names both concentrate). Asian/Pacific Islander people are NOT: API surnames
    concentrate (NGUYEN 2.9%) but API first names in the 2020 table are the most diverse of any group
    (sum of squared shares 3.4e-4 vs 2.5e-3 for white), and API people are 4.9% of the list. The issue
    expected the API rate above white; the tables say otherwise under this rule, while under `last-dob`
    the API same-group collision is 6.5x the white one.
    """
    model = PopulationModel.from_census(census_surnames, census_first_names)
    cross = assess_rule_risk("crosscheck", population_size=258_300_000, list_size=1_000_000, model=model)
    rate = lambda g: cross.value("wrongful_match_per_100k", g, "group", "analytic")  # noqa: E731
    pair = lambda r, g: r.value("same_group_collision", g, "group", "analytic")  # noqa: E731
    assert rate("Hispanic") / rate("White") == pytest.approx(1.78, abs=0.01)
    assert pair(cross, "Hispanic") / pair(cross, "White") == pytest.approx(8.2, abs=0.1)
    assert rate("Asian/Pacific Islander") < rate("White")
    surname_only = assess_rule_risk("last-dob", population_size=258_300_000, list_size=1_000_000, model=model)
    assert pair(surname_only, "Asian/Pacific Islander") / pair(surname_only, "White") == pytest.approx(
        6.5, abs=0.1
    )
