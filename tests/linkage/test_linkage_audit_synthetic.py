"""The synthetic US population: seeded, with ground truth and each documented error type."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from misflag.errors import InputError
from misflag.linkage._synthetic import NICKNAMES, synthetic_records, typo


@pytest.fixture(scope="module")
def population() -> pd.DataFrame:
    return synthetic_records(50_000, seed=11, duplicate_rate=0.3).to_pandas()


def test_seeded_sizes_and_truth(population: pd.DataFrame) -> None:
    assert len(population) == 50_000
    assert population.record_id.is_unique
    assert (population.error == "original").sum() == 35_000
    assert population[population.error == "original"].person_id.is_unique
    again = synthetic_records(50_000, seed=11, duplicate_rate=0.3).to_pandas()
    pd.testing.assert_frame_equal(population, again)
    shares = population[population.error == "original"].group.value_counts(normalize=True)
    assert shares["white"] == pytest.approx(0.58, abs=0.01) and shares["hispanic"] == pytest.approx(
        0.19, abs=0.01
    )


def test_each_error_is_what_it_says(population: pd.DataFrame) -> None:
    original = population[population.error == "original"].set_index("person_id")
    dup = population[population.error != "original"].join(original, on="person_id", rsuffix="_o")
    assert set(dup.error) == {
        "typo",
        "nickname",
        "day_month_swap",
        "missing_field",
        "surname_parts",
        "transliteration",
    }
    swap = dup[dup.error == "day_month_swap"]
    assert (swap.dob.str[:4] == swap.dob_o.str[:4]).all()
    assert ((swap.dob.str[5:7] == swap.dob_o.str[8:10]) & (swap.dob.str[8:10] == swap.dob_o.str[5:7])).all()
    nick = dup[dup.error == "nickname"]
    assert (nick.first_name == nick.first_name_o.map(NICKNAMES)).all()
    missing = dup[dup.error == "missing_field"]
    assert (missing.first_name.isna() ^ missing.dob.isna()).all()
    parts = dup[dup.error == "surname_parts"]
    assert parts.last_name_o.str.contains("[ -]").all() and (parts.last_name != parts.last_name_o).all()
    assert (parts.group == "hispanic").mean() > 0.95
    for kind in ("typo", "transliteration"):
        changed = dup[dup.error == kind]
        assert (
            changed.first_name.fillna("") + changed.last_name != changed.first_name_o + changed.last_name_o
        ).mean() > 0.95


def test_typo_changes_exactly_one_edit() -> None:
    import jellyfish

    names = np.array(["GARCIA", "NGUYEN", "SMITH", "O"] * 250, dtype=object)
    out = typo(names, np.random.default_rng(0))
    distances = [jellyfish.damerau_levenshtein_distance(a, b) for a, b in zip(names, out, strict=True)]
    longer = np.asarray([len(n) > 1 for n in names])
    # a one-letter name can only be substituted; a substitution may redraw the same letter (1 in 26)
    assert max(distances) <= 1 and np.mean(np.asarray(distances)[longer]) > 0.95


def test_bad_arguments() -> None:
    with pytest.raises(InputError, match="duplicate_rate must be"):
        synthetic_records(10, duplicate_rate=1.5)
    with pytest.raises(InputError, match="unknown group"):
        synthetic_records(10, group_mix={"martian": 1.0})
