"""Monte Carlo check of a rule's wrongful matches: synthetic population and list, matched by DuckDB joins.

Each replicate draws a population and a list independently from the same PopulationModel (so every match
found is wrongful), writes the fields the rule compares, joins them in DuckDB with the rule as the join
condition, and counts pairs by (list group, population group) and distinct people matched by group.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from misflag.engine import DuckDBEngine
from misflag.linkage._population import GROUPS, PopulationModel
from misflag.linkage._risk_analytic import key_codes
from misflag.linkage._rules import Comparison, MatchRule


@dataclass(frozen=True)
class MonteCarloRisk:
    """Counts from every replicate; sizes are the simulated ones."""

    pairs: np.ndarray  # (replicates, groups, groups): wrongful pairs by list group x population group
    people: np.ndarray  # (replicates, groups): distinct population members wrongly matched
    list_counts: np.ndarray  # (replicates, groups)
    population_counts: np.ndarray  # (replicates, groups)
    population_size: int
    list_size: int


def _dob_parts(model: PopulationModel) -> dict[str, np.ndarray]:
    """Year, month and day of month of every day index of the DOB model."""
    dates = np.datetime64(model.dob.start, "D") + np.arange(model.dob.weights.size)
    months = dates.astype("datetime64[M]")
    return {
        "y": dates.astype("datetime64[Y]").astype(np.int32) + 1970,
        "mo": (months.astype(np.int64) % 12 + 1).astype(np.int8),
        "dd": ((dates - months).astype(np.int64) + 1).astype(np.int8),
    }


def _columns(model: PopulationModel, rule: MatchRule, drawn: dict[str, np.ndarray]) -> pa.Table:
    """The drawn people with only the columns the rule compares."""
    columns: dict[str, pa.Array] = {
        "pid": pa.array(np.arange(drawn["group"].size, dtype=np.int64)),
        "g": pa.array(drawn["group"]),
    }
    for number, comparison in enumerate(rule.comparisons):
        if comparison.field == "dob":
            columns["d"] = pa.array(drawn["dob"].astype(np.int32))
            if comparison.method in {"year", "transposition"}:
                for name, lookup in _dob_parts(model).items():
                    columns[name] = pa.array(lookup[drawn["dob"]])
            continue
        if comparison.method == "jaro_winkler":  # compared as text
            columns[f"c{number}"] = model.field(comparison.field).names.take(
                pa.array(drawn[comparison.field])
            )
        else:  # a key compared for equality: its whole-number code joins faster than its text
            columns[f"c{number}"] = pa.array(
                key_codes(model, comparison.field, comparison.method)[drawn[comparison.field]]
            )
    return pa.table(columns)


def join_condition(rule: MatchRule) -> str:
    """The rule as a DuckDB join condition between list `l` and population `p`."""
    parts = []
    for number, comparison in enumerate(rule.comparisons):
        parts.append(_condition(comparison, f"c{number}"))
    return " AND ".join(parts)


def _condition(comparison: Comparison, column: str) -> str:
    """One comparison in SQL."""
    if comparison.field == "dob":
        if comparison.method == "exact":
            return "l.d = p.d"
        if comparison.method == "year":
            return "l.y = p.y"
        if comparison.method == "transposition":
            return "l.y = p.y AND (l.d = p.d OR (l.mo = p.dd AND l.dd = p.mo))"
        return f"abs(l.d - p.d) <= {int(comparison.days or 0)}"
    if comparison.method == "jaro_winkler":
        return f"jaro_winkler_similarity(l.{column}, p.{column}) >= {float(comparison.threshold or 0.0)!r}"
    return f"l.{column} = p.{column}"


def simulate(
    model: PopulationModel,
    rule: MatchRule,
    *,
    population_size: int,
    list_size: int,
    population_mix: Mapping[str, float],
    list_mix: Mapping[str, float],
    seed: int,
    replicates: int,
    progress: Callable[[int], None] | None = None,
) -> MonteCarloRisk:
    """Run the replicates; `progress(done)` is called after each one."""
    size = len(GROUPS)
    pairs = np.zeros((replicates, size, size))
    people = np.zeros((replicates, size))
    list_counts = np.zeros((replicates, size))
    population_counts = np.zeros((replicates, size))
    engine = DuckDBEngine()
    condition = join_condition(rule)
    try:
        for replicate in range(replicates):
            seeds = np.random.SeedSequence([seed, replicate]).generate_state(2)
            population = model.draw_indices(population_size, int(seeds[0]), population_mix)
            listing = model.draw_indices(list_size, int(seeds[1]), list_mix)
            population_counts[replicate] = np.bincount(population["group"], minlength=size)
            list_counts[replicate] = np.bincount(listing["group"], minlength=size)
            engine.register_arrow("pop", _columns(model, rule, population))
            engine.register_arrow("lst", _columns(model, rule, listing))
            engine.execute(
                "CREATE OR REPLACE TEMP TABLE matches AS "
                f"SELECT l.g AS lg, p.g AS pg, p.pid AS pid FROM lst l JOIN pop p ON {condition}"
            )
            by_pair = engine.sql("SELECT lg, pg, count(*) AS n FROM matches GROUP BY lg, pg").to_pydict()
            pairs[replicate][by_pair["lg"], by_pair["pg"]] = by_pair["n"]
            by_group = engine.sql("SELECT pg, count(DISTINCT pid) AS n FROM matches GROUP BY pg").to_pydict()
            people[replicate][by_group["pg"]] = by_group["n"]
            if progress:
                progress(replicate + 1)
    finally:
        engine.close()
    return MonteCarloRisk(
        pairs=pairs,
        people=people,
        list_counts=list_counts,
        population_counts=population_counts,
        population_size=population_size,
        list_size=list_size,
    )
