"""Population model from the real Census tables: reference figures, remainder modelling, sampling, birthdays."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from misflag.linkage import GROUPS, PopulationModel
from misflag.linkage._population import DobModel


@pytest.fixture(scope="module")
def model(census_surnames, census_first_names) -> PopulationModel:
    return PopulationModel.from_census(census_surnames, census_first_names)


def test_surname_collision_reproduces_published_within_group_figures(model: PopulationModel) -> None:
    """shared/references.md: sum of squared surname shares within group, 2010 table, listed names only.

    Printed figures have two significant digits: white 5.8e-4, Black 3.2e-3, API 4.3e-3, Hispanic 4.7e-3.
    """
    collision = dict(zip(GROUPS, model.last.within_group_collision(listed_only=True), strict=True))
    assert f"{collision['white']:.1e}" == "5.8e-04"
    assert f"{collision['black']:.1e}" == "3.2e-03"
    assert f"{collision['api']:.1e}" == "4.3e-03"
    assert f"{collision['hispanic']:.1e}" == "4.7e-03"
    assert collision["hispanic"] / collision["white"] == pytest.approx(8.2, abs=0.1)


def test_remainder_line_is_modelled_with_its_people_and_almost_no_collisions(
    model: PopulationModel, census_surnames
) -> None:
    """The 'ALL OTHER NAMES' line (29,312,001 people in the 2010 table) keeps its people as rare names."""
    raw = pq.read_table(census_surnames).to_pandas()
    remainder = raw.loc[raw["name"] == "ALL OTHER NAMES", "count"]
    assert remainder.tolist() == [29_312_001]
    assert int(raw["count"].sum()) == 294_972_059
    assert model.last.remainder_people == 29_312_001
    assert model.last.group_people.sum() == pytest.approx(294_972_059, rel=1e-6)
    # every modelled remainder name holds at most half the rarest listed name's count (100 -> 50)
    per_name = model.last.group_people @ model.last.shares[model.last.listed :].T
    assert per_name.max() <= 50.0 + 1e-6
    # API people are 7.97% of the remainder: their surname share outside the listed names is large
    api = GROUPS.index("api")
    expected = 29_312_001 * 0.0797 / model.last.group_people[api]
    assert model.last.shares[model.last.listed :, api].sum() == pytest.approx(expected, rel=1e-3)
    # but the remainder adds a negligible part to the exact-match collision of every group
    tail = (model.last.shares[model.last.listed :] ** 2).sum(axis=0)
    assert np.all(tail / (model.last.shares**2).sum(axis=0) < 1e-3)
    assert np.allclose(model.last.shares.sum(axis=0), 1.0)
    assert np.allclose(model.first.shares.sum(axis=0), 1.0)
    assert model.first.remainder_people == 18_794_703


def test_sample_is_seeded_vectorised_and_follows_the_tables(model: PopulationModel) -> None:
    people = model.sample(200_000, seed=5, group_mix={"white": 0.5, "hispanic": 0.5})
    assert people.column_names == ["person_id", "group", "first_name", "last_name", "dob"]
    assert str(people.schema.field("dob").type) == "date32[day]"
    assert people.equals(model.sample(200_000, seed=5, group_mix={"white": 0.5, "hispanic": 0.5}))
    frame = people.to_pandas()
    hispanic = frame[frame["group"] == "hispanic"]
    assert abs(len(hispanic) - 100_000) < 4 * math.sqrt(200_000 * 0.25)
    # GARCIA's share among Hispanic people: 2010 table count x pcthispanic over the group's people
    share = float(model.last.shares[model.last.names.to_pylist().index("GARCIA"), GROUPS.index("hispanic")])
    observed = float((hispanic["last_name"] == "GARCIA").mean())
    assert abs(observed - share) < 4 * math.sqrt(share * (1 - share) / len(hispanic))
    assert set(frame["group"]) == {"white", "hispanic"}
    assert frame["dob"].min().year >= 1920 and frame["dob"].max().year <= 2001


def test_birthday_figures_of_mcdonald_and_levitt(model: PopulationModel) -> None:
    """McDonald & Levitt (Election Law Journal 7:111, 2008): among ~180 voting-age people a 50% chance that
    two share a full date of birth, among ~460 a 99% chance.

    Tolerance: the crossing points must lie within 5% of 180 and 460. Their figures are rounded ("about")
    and come from a different year's age distribution; misflag's default is the 2020 adult population with
    day of year uniform (real birthdays are slightly non-uniform, which lowers the crossing points a little).
    The analytic probability 1 - exp(-C(n,2) sum p^2) is checked against a direct simulation (20,000 groups).
    """
    collision = model.dob.collision()
    probability = lambda n: 1 - math.exp(-n * (n - 1) / 2 * collision)  # noqa: E731
    n50 = next(n for n in range(2, 2000) if probability(n) >= 0.5)
    n99 = next(n for n in range(2, 2000) if probability(n) >= 0.99)
    assert abs(n50 - 180) <= 0.05 * 180, n50
    assert abs(n99 - 460) <= 0.05 * 460, n99
    trials = 20_000
    for n in (180, 460):
        days = model.draw_indices(trials * n, seed=n, group_mix={"white": 1.0})["dob"].reshape(trials, n)
        days.sort(axis=1)
        shared = float(np.mean(np.any(days[:, 1:] == days[:, :-1], axis=1)))
        assert abs(shared - probability(n)) < 4 * math.sqrt(0.25 / trials) + 0.005


def test_birth_year_table_spreads_each_year_over_its_days() -> None:
    dob = DobModel.from_birth_years({2000: 1.0, 2001: 3.0})
    assert dob.weights.size == 366 + 365
    assert dob.weights[0] == pytest.approx(0.25 / 366)
    assert dob.weights[-1] == pytest.approx(0.75 / 365)
    assert dob.collision() == pytest.approx(0.25**2 / 366 + 0.75**2 / 365)
