"""Population model built from the Census name tables and a birth-date model.

Within each census group a person's first name, last name and date of birth are drawn independently:
the surname from the 2010 Census surname table, the first name from the 2020 first-name table, the birth
year from a birth-year table and the day uniformly within the year. The tables' "ALL OTHER NAMES" line
(people whose name is too rare to be listed) is modelled, not dropped: it becomes many synthetic names,
each as common as half the rarest listed name, so it holds its share of people but adds almost nothing to
the chance that two people share a name.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from misflag.errors import DatasetError, InputError
from misflag.io import read_data_file

GROUPS: tuple[str, ...] = ("white", "black", "api", "aian", "2prace", "hispanic")
GROUP_LABELS: dict[str, str] = {
    "white": "White",
    "black": "Black",
    "api": "Asian/Pacific Islander",
    "aian": "American Indian/Alaska Native",
    "2prace": "Two or more races",
    "hispanic": "Hispanic",
}
REMAINDER_NAME = "ALL OTHER NAMES"
DEFAULT_BIRTH_YEARS = "birth_years_us_adults_2020.json"
_SYLLABLES = np.array([c + v for c in "BCDFGHJKLMNPRSTVWXZY" for v in "AEIOU"])
_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class NameDistribution:
    """One name table: every name (listed, then modelled remainder) and each group's share of each name."""

    field: str
    names: pa.Array
    shares: np.ndarray  # (names, groups); each group's column sums to 1 (or is all zero)
    group_people: np.ndarray  # people of each group in the table
    listed: int
    remainder_people: float
    cumulative: np.ndarray = dataclass_field(
        repr=False
    )  # (groups, names) running sums of shares, for sampling

    @property
    def remainder_names(self) -> int:
        """How many synthetic names model the table's remainder line."""
        return len(self.names) - self.listed

    def within_group_collision(self, listed_only: bool = False) -> np.ndarray:
        """Chance two random people of the same group share this name exactly (sum of squared shares).

        `listed_only` renormalises over the listed names, as published figures computed from the table do.
        """
        shares = self.shares[: self.listed] if listed_only else self.shares
        mass = shares.sum(axis=0)
        return np.einsum("ng,ng->g", shares, shares) / np.where(mass > 0, mass * mass, 1.0)


def _synthetic_names(count: int, salt: int, taken: pa.Array) -> pa.Array:
    """`count` distinct four-syllable names (e.g. "BAKOMIRU") absent from `taken`, deterministic.

    i -> i * 7_919_993 mod 10^8 is a bijection on [0, 10^8), so the integers, and their base-100
    syllable spellings, are distinct; names that happen to be listed names are skipped.
    """
    wanted = count + 1024
    codes = (np.arange(wanted, dtype=np.int64) * 7_919_993 + salt) % 100_000_000
    parts = [pa.array(_SYLLABLES[(codes // 100**k) % 100]) for k in range(4)]
    names = pc.binary_join_element_wise(*parts, "")
    names = names.filter(pc.invert(pc.is_in(names, value_set=taken)))
    if len(names) < count:
        raise DatasetError("could not build enough synthetic remainder names")
    return names.slice(0, count)


def load_name_table(path: str | Path, field_name: str, salt: int = 0) -> NameDistribution:
    """Read a Census name table (name, count, pct<group> columns) and model its remainder line."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as error:
        raise DatasetError(f"cannot read name table {path}: {error}") from None
    missing = [c for c in ("name", "count", *(f"pct{g}" for g in GROUPS)) if c not in table.column_names]
    if missing:
        raise DatasetError(f"name table {path} lacks column(s) {', '.join(missing)}")
    is_remainder = pc.equal(table["name"], REMAINDER_NAME).to_numpy(zero_copy_only=False)
    counts = table["count"].to_numpy().astype(float)
    pct = np.column_stack([table[f"pct{g}"].to_numpy().astype(float) for g in GROUPS])
    pct = np.nan_to_num(pct, nan=0.0)
    row_total = pct.sum(axis=1, keepdims=True)
    pct = np.divide(pct, row_total, out=np.zeros_like(pct), where=row_total > 0)
    people = counts[:, None] * pct  # people of each group bearing each name
    listed_people, listed_names = people[~is_remainder], table["name"].filter(pa.array(~is_remainder))
    remainder_people = float(counts[is_remainder].sum())
    names: pa.Array = listed_names.combine_chunks()
    if remainder_people > 0:
        per_name = max(1.0, float(counts[~is_remainder].min()) // 2)
        n_synthetic = int(np.ceil(remainder_people / per_name))
        synthetic = _synthetic_names(n_synthetic, salt, names)
        remainder_by_group = people[is_remainder].sum(axis=0)
        spread = np.broadcast_to(remainder_by_group / n_synthetic, (n_synthetic, len(GROUPS)))
        people = np.vstack([listed_people, spread])
        names = pa.concat_arrays([names.cast(pa.string()), synthetic.cast(pa.string())])
    else:
        people = listed_people
    group_people = people.sum(axis=0)
    shares = np.divide(people, group_people, out=np.zeros_like(people), where=group_people > 0)
    return NameDistribution(
        field=field_name,
        names=names.cast(pa.string()),
        shares=shares,
        group_people=group_people,
        listed=len(listed_names),
        remainder_people=remainder_people,
        cumulative=np.cumsum(shares, axis=0).T.copy(),
    )


@dataclass(frozen=True)
class DobModel:
    """Dates of birth: a weight for every day from `start`, built from a birth-year table, day uniform."""

    start: dt.date
    weights: np.ndarray  # per day, sums to 1
    source: str

    @classmethod
    def from_birth_years(cls, years: Mapping[Any, float], source: str = "user table") -> DobModel:
        """Spread each birth year's weight evenly over its calendar days (365 or 366)."""
        try:
            table = {int(year): float(weight) for year, weight in years.items()}
        except (TypeError, ValueError):
            raise InputError("birth-year table must map years to numbers") from None
        if not table or any(w < 0 or not np.isfinite(w) for w in table.values()) or sum(table.values()) <= 0:
            raise InputError("birth-year table needs non-negative weights with a positive total")
        if min(table) < 1800 or max(table) > 2200:
            raise InputError("birth-year table has years outside 1800-2200")
        first, last = min(table), max(table)
        start = dt.date(first, 1, 1)
        days = (dt.date(last + 1, 1, 1) - start).days
        weights = np.zeros(days)
        for year in range(first, last + 1):
            lo = (dt.date(year, 1, 1) - start).days
            hi = (dt.date(year + 1, 1, 1) - start).days
            weights[lo:hi] = table.get(year, 0.0) / (hi - lo)
        return cls(start=start, weights=weights / weights.sum(), source=source)

    @classmethod
    def from_file(cls, path: str | Path) -> DobModel:
        """A JSON file {"birth_years": {year: weight}} (or a plain {year: weight} mapping)."""
        data = read_data_file(path, "birth-year table")
        years = data.get("birth_years", data) if isinstance(data, dict) else None
        if not isinstance(years, dict):
            raise InputError(f"birth-year table {path} must be a JSON object of year: weight")
        return cls.from_birth_years(years, source=str(path))

    @classmethod
    def default(cls) -> DobModel:
        """misflag's documented default: US adults by birth year from the 2020 Census age bands."""
        text = resources.files("misflag.linkage").joinpath("data", DEFAULT_BIRTH_YEARS).read_text("utf-8")
        return cls.from_birth_years(
            json.loads(text)["birth_years"], source=f"misflag default {DEFAULT_BIRTH_YEARS}"
        )

    def collision(self) -> float:
        """Chance two random people share a full date of birth."""
        return float(np.dot(self.weights, self.weights))

    def day_offset(self) -> int:
        """Days from 1970-01-01 to `start` (date32 encoding)."""
        return (self.start - _EPOCH).days


def _draw(cumulative: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Inverse-CDF draws of indices from a running-sum vector."""
    return np.minimum(
        np.searchsorted(cumulative, rng.random(n) * cumulative[-1], side="right"), len(cumulative) - 1
    )


class PopulationModel:
    """Names by group from the Census tables plus a birth-date model; samples synthetic people."""

    def __init__(self, first: NameDistribution, last: NameDistribution, dob: DobModel) -> None:
        self.first = first
        self.last = last
        self.dob = dob
        self.cache: dict[tuple[Any, ...], Any] = {}
        self.groups: tuple[str, ...] = tuple(
            g for i, g in enumerate(GROUPS) if first.group_people[i] > 0 and last.group_people[i] > 0
        )

    @classmethod
    def from_census(
        cls,
        surnames_path: str | Path | None = None,
        first_names_path: str | Path | None = None,
        birth_years: Mapping[Any, float] | str | Path | DobModel | None = None,
    ) -> PopulationModel:
        """The model from the Census tables (fetched with misflag.datasets when no path is given)."""
        from misflag import datasets

        surnames = surnames_path or datasets.get("census-surnames-2010")
        first_names = first_names_path or datasets.get("census-first-names-2020")
        if birth_years is None:
            dob = DobModel.default()
        elif isinstance(birth_years, DobModel):
            dob = birth_years
        elif isinstance(birth_years, str | Path):
            dob = DobModel.from_file(birth_years)
        else:
            dob = DobModel.from_birth_years(birth_years)
        return cls(
            load_name_table(first_names, "first_name", salt=1), load_name_table(surnames, "last_name"), dob
        )

    def field(self, name: str) -> NameDistribution:
        """The name distribution of `first_name` or `last_name`."""
        return self.first if name == "first_name" else self.last

    def default_mix(self) -> dict[str, float]:
        """Group shares of the surname table (listed names plus remainder): the default population mix."""
        people = {g: float(self.last.group_people[GROUPS.index(g)]) for g in self.groups}
        total = sum(people.values())
        return {g: v / total for g, v in people.items()}

    def check_mix(self, mix: Mapping[str, float] | None, what: str) -> dict[str, float]:
        """A validated group mix: known groups, non-negative shares summing to 1; default when None."""
        if mix is None:
            return self.default_mix()
        unknown = [g for g in mix if g not in GROUPS]
        if unknown:
            raise InputError(
                f"{what} names unknown group(s) {', '.join(map(str, unknown))}; known: {', '.join(GROUPS)}"
            )
        try:
            values = {g: float(v) for g, v in mix.items()}
        except (TypeError, ValueError):
            raise InputError(f"{what} shares must be numbers") from None
        if any(v < 0 or not np.isfinite(v) for v in values.values()):
            raise InputError(f"{what} shares must be non-negative numbers")
        if abs(sum(values.values()) - 1.0) > 1e-6:
            raise InputError(f"{what} shares sum to {sum(values.values()):.6g}, not 1")
        absent = [g for g, v in values.items() if v > 0 and g not in self.groups]
        if absent:
            raise InputError(
                f"{what} gives people to group(s) {', '.join(absent)} absent from the name tables"
            )
        return {g: values.get(g, 0.0) for g in self.groups}

    def draw_indices(
        self, n: int, seed: int, group_mix: Mapping[str, float] | None = None
    ) -> dict[str, np.ndarray]:
        """Index arrays of n synthetic people: group (into GROUPS), first, last (into names), day (into dob)."""
        if n < 0:
            raise InputError("sample size must be non-negative")
        mix = self.check_mix(group_mix, "group mix")
        rng = np.random.default_rng(seed)
        probabilities = np.array([mix.get(g, 0.0) for g in GROUPS])
        group = np.repeat(np.arange(len(GROUPS), dtype=np.int8), rng.multinomial(n, probabilities))
        rng.shuffle(group)
        first, last = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        for g in range(len(GROUPS)):
            where = np.flatnonzero(group == g)
            if where.size:
                first[where] = _draw(self.first.cumulative[g], where.size, rng)
                last[where] = _draw(self.last.cumulative[g], where.size, rng)
        day = _draw(np.cumsum(self.dob.weights), n, rng)
        return {"group": group, "first_name": first, "last_name": last, "dob": day}

    def sample(self, n: int, seed: int, group_mix: dict[str, float] | None = None) -> pa.Table:
        """n synthetic people: person_id, group, first_name, last_name, dob (date32); seeded and vectorised."""
        drawn = self.draw_indices(n, seed, group_mix)
        return pa.table(
            {
                "person_id": pa.array(np.arange(n, dtype=np.int64)),
                "group": pa.array(np.array(GROUPS, dtype=object)[drawn["group"]], pa.string()),
                "first_name": self.first.names.take(pa.array(drawn["first_name"])),
                "last_name": self.last.names.take(pa.array(drawn["last_name"])),
                "dob": pa.array((drawn["dob"] + self.dob.day_offset()).astype(np.int32), pa.int32()).cast(
                    pa.date32()
                ),
            }
        )
