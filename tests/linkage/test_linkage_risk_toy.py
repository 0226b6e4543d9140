"""Hand-checkable cases: a toy population of four surnames and two first names, rates computed by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from misflag.linkage import GROUPS, PopulationModel, assess_rule_risk
from misflag.linkage._risk_analytic import analytic_risk, dob_collision
from misflag.linkage._rules import Comparison, load_rule
from tests.linkage._toy import name_table, toy_model


@pytest.fixture()
def toy(tmp_path: Path) -> PopulationModel:
    # White people: A 300, B 100 -> shares .75 .25.  Hispanic: B 100, C 300, D 100 -> .2 .6 .2.
    return toy_model(tmp_path, {2001: 1.0})


def test_toy_crosscheck_rates_by_hand(toy: PopulationModel) -> None:
    """Surname collisions: white .75^2+.25^2 = .625, Hispanic .2^2+.6^2+.2^2 = .44, white-Hispanic .25*.2 = .05;
    first names .5 everywhere; DOB 1/365. N = 1,000 and M = 100, both half white, half Hispanic:
    wrongful pairs on white people = 50*500*(.5*.625 + .5*.05)/365 = 23.116 -> 4,623.29 per 100k of 500;
    on Hispanic people = 50*500*(.5*.44 + .5*.05)/365 = 16.781 -> 3,356.16 per 100k.
    """
    assert toy.groups == ("white", "hispanic")
    mix = {"white": 0.5, "hispanic": 0.5}
    result = assess_rule_risk(
        "crosscheck",
        population_size=1000,
        list_size=100,
        prevalence=0.1,
        population_mix=mix,
        list_mix=mix,
        model=toy,
    )
    assert result.kind == "linkage-risk"
    assert result.value("wrongful_match_per_100k", "White", "group") == pytest.approx(
        8437.5 / 365 / 500 * 1e5
    )
    assert result.value("wrongful_match_per_100k", "Hispanic", "group") == pytest.approx(
        6125 / 365 / 500 * 1e5
    )
    assert result.value("ratio_to_min", "White", "group") == pytest.approx(8437.5 / 6125)
    assert result.value("ratio_to_min", "Hispanic", "group") == 1.0
    assert result.value("wrong_per_true_match", "White", "group") == pytest.approx(8437.5 / 365 / (0.1 * 50))
    assert result.value("collision_last_name", "White", "group") == pytest.approx(0.625)
    assert result.value("collision_last_name", "Hispanic", "group") == pytest.approx(0.44)
    assert result.value("same_group_collision", "Hispanic", "group") == pytest.approx(0.5 * 0.44 / 365)
    assert "independent" in result.summary and "White people are 1.4 times" in result.summary
    assert any("independent" in line for line in result.metadata["assumptions"])


def _simulated_spread(model: PopulationModel, replicates: int, seed: int) -> dict[int, float]:
    """A second implementation of the crosscheck Monte Carlo (numpy, not DuckDB): the standard deviation
    of one replicate's wrongful matches per 100k people of each population group."""
    mix = {"white": 0.5, "hispanic": 0.5}
    rates: dict[int, list[float]] = {GROUPS.index("white"): [], GROUPS.index("hispanic"): []}
    for replicate in range(replicates):
        population = model.draw_indices(20_000, seed + 2 * replicate, mix)
        listing = model.draw_indices(2_000, seed + 2 * replicate + 1, mix)

        def key(drawn: dict[str, np.ndarray]) -> np.ndarray:
            return (drawn["first_name"] * 1_000 + drawn["last_name"]) * 100_000 + drawn["dob"]

        listed_keys, listed_counts = np.unique(key(listing), return_counts=True)
        people = key(population)
        where = np.clip(np.searchsorted(listed_keys, people), 0, listed_keys.size - 1)
        matches = np.where(listed_keys[where] == people, listed_counts[where], 0)
        for group, values in rates.items():
            in_group = population["group"] == group
            values.append(matches[in_group].sum() / in_group.sum() * 1e5)
    return {group: float(np.std(values, ddof=1)) for group, values in rates.items()}


def test_toy_monte_carlo_matches_hand_figures(toy: PopulationModel) -> None:
    """Same toy simulated with DuckDB joins: 8 replicates of N = 20,000 and M = 2,000, half of each group.
    Expected white pairs per replicate 1,000 * 10,000 * .3375 / 365 = 9,247. The tolerance is 4 standard
    errors of an 8-replicate mean, the standard deviation coming from 300 replicates of a numpy
    re-implementation (not from the interval under test); the interval's half-width must be within a
    factor 2 of 1.96 of those standard errors."""
    mix = {"white": 0.5, "hispanic": 0.5}
    result = assess_rule_risk(
        "crosscheck",
        population_size=20_000,
        list_size=2_000,
        population_mix=mix,
        list_mix=mix,
        model=toy,
        method="montecarlo",
        replicates=8,
        seed=3,
    )
    spread = _simulated_spread(toy, replicates=300, seed=1_000)
    for group, pairs in (("White", 8437.5), ("Hispanic", 6125.0)):
        expected = pairs * 400 / 365 / 10_000 * 1e5  # 1,000 x 10,000 pairs per block instead of 50 x 500
        (row,) = result.select(
            metric="wrongful_match_per_100k", group=group, attribute="group", stage="montecarlo"
        )
        se = spread[GROUPS.index(group.lower())] / np.sqrt(8)
        assert abs(row["value"] - expected) < 4 * se, (group, row["value"], expected, se)
        half_width = (row["ci_high"] - row["ci_low"]) / 2
        assert 0.5 * 1.96 * se <= half_width <= 2 * 1.96 * se, (group, half_width, se)


def _near_pair_and_smith(tmp_path: Path, first_name: str, second_name: str) -> PopulationModel:
    """Surnames A, B, SMITH with White shares .25, .25, .5 (and one first name, one birth year)."""
    surnames = name_table(
        tmp_path / "s.parquet",
        [(first_name, 100, 100, 0), (second_name, 100, 100, 0), ("SMITH", 200, 100, 0)],
    )
    first = name_table(tmp_path / "f.parquet", [("ANN", 100, 100, 0)])
    return PopulationModel.from_census(surnames, first, birth_years={2001: 1.0})


def _white_last_name_collision(
    model: PopulationModel, comparison: dict[str, object], **options: int
) -> float:
    rule = load_rule({"compare": [{"field": "last_name", **comparison}]})
    counts = [0.0] * len(GROUPS)
    white = GROUPS.index("white")
    return float(analytic_risk(model, rule, counts, counts, **options).fields["last_name"][white, white])


@pytest.mark.parametrize(
    ("names", "method", "expected"),
    [
        # MARTHA / MARHTA: same Soundex M630 and initial, Metaphone MR0 / MRHT, primary Double Metaphone MR0 / MRT
        (("MARTHA", "MARHTA"), "exact", 0.375),
        (("MARTHA", "MARHTA"), "folded", 0.375),
        (("MARTHA", "MARHTA"), "soundex", 0.5),
        (("MARTHA", "MARHTA"), "initial", 0.5),
        (("MARTHA", "MARHTA"), "double_metaphone", 0.375),
        # KATHRYN / CATHERINE: Soundex K365 / C365, same Metaphone and primary Double Metaphone K0RN
        (("KATHRYN", "CATHERINE"), "soundex", 0.375),
        (("KATHRYN", "CATHERINE"), "metaphone", 0.5),
        (("KATHRYN", "CATHERINE"), "double_metaphone", 0.5),
    ],
)
def test_key_comparisons_by_hand(
    tmp_path: Path, names: tuple[str, str], method: str, expected: float
) -> None:
    """White shares .25 .25 .5: .25^2 + .25^2 + .5^2 = .375 where the pair stays apart, .5^2 + .5^2 = .5 where
    it merges into one key."""
    model = _near_pair_and_smith(tmp_path, *names)
    assert _white_last_name_collision(model, {"method": method}) == pytest.approx(expected)


def test_fuzzy_collisions_by_hand(tmp_path: Path) -> None:
    """MARTHA / MARHTA: Jaro-Winkler 0.961 (>= 0.95); SMITH differs: .5^2 + .5^2 = .5, exactly, by importance
    sampling, and by Monte Carlo."""
    model = _near_pair_and_smith(tmp_path, "MARTHA", "MARHTA")
    fuzzy = {"method": "jaro_winkler", "threshold": 0.95}
    assert _white_last_name_collision(model, fuzzy) == pytest.approx(0.5)
    # head of 1 name: the MARTHA/MARHTA pair is then estimated by importance sampling (200,000 pairs)
    assert _white_last_name_collision(model, fuzzy, head=1) == pytest.approx(0.5, rel=0.01)
    counts = [0.0] * len(GROUPS)
    rule = load_rule({"compare": [{"field": "last_name", **fuzzy}]})
    sampled = analytic_risk(model, rule, counts, counts, head=1)
    assert sampled.approximated["last_name"][GROUPS.index("white")] == pytest.approx(0.5)
    simulated = assess_rule_risk(
        rule,
        population_size=4000,
        list_size=400,
        population_mix={"white": 1.0},
        list_mix={"white": 1.0},
        model=model,
        method="montecarlo",
        replicates=4,
    )
    rate = simulated.value("wrongful_match_per_100k", "White", "group", stage="montecarlo")
    assert rate == pytest.approx(0.5 * 400 * 1e5, rel=0.03)  # 400 list records x .5 per population member


def test_dob_comparisons_by_hand() -> None:
    """One birth year (2001, 365 days): exact 1/365; year 1; within 1 day (3*365-2)/365^2; transposition adds
    the 132 days whose day of month is 1-12 and differs from the month: 1/365 + 132/365^2."""
    from misflag.linkage._population import DobModel

    dob = DobModel.from_birth_years({2001: 1.0})
    assert dob_collision(dob, Comparison("dob", "exact")) == pytest.approx(1 / 365)
    assert dob_collision(dob, Comparison("dob", "year")) == pytest.approx(1.0)
    assert dob_collision(dob, Comparison("dob", "within_days", days=1)) == pytest.approx(
        (3 * 365 - 2) / 365**2
    )
    assert dob_collision(dob, Comparison("dob", "transposition")) == pytest.approx(1 / 365 + 132 / 365**2)
