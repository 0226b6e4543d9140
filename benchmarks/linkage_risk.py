"""Benchmark: analytic wrongful-match risk at US scale, and a 10M-person Monte Carlo.

1. Analytic risk for N = 330M people and a list of M = 10M under each preset (tables loaded first; the
   fuzzy preset's similarity classes are built on its first call and cached, both times printed).
2. Monte Carlo of the crosscheck rule with 10M synthetic people and a 1M-record list (one replicate:
   drawing both, then the DuckDB join), against the tool a user would otherwise pick for the join step:
   a pandas merge of the same two tables on first name, last name and date of birth.

    python benchmarks/linkage_risk.py [--people 10000000] [--list 1000000]
"""

from __future__ import annotations

import argparse
import time

from misflag.linkage import PopulationModel, assess_rule_risk
from misflag.linkage._risk_montecarlo import simulate
from misflag.linkage._rules import load_rule


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000_000)
    parser.add_argument("--list", type=int, default=1_000_000, dest="list_size")
    args = parser.parse_args()

    start = time.perf_counter()
    model = PopulationModel.from_census()
    print(f"load Census tables and DOB model: {time.perf_counter() - start:.2f} s")
    for preset in ("crosscheck", "last-dob", "fuzzy-name-dob"):
        times = []
        for _ in range(2):
            start = time.perf_counter()
            assess_rule_risk(preset, population_size=330_000_000, list_size=10_000_000, model=model)
            times.append(time.perf_counter() - start)
        print(
            f"analytic {preset:15s} N=330M M=10M: first call {times[0]:.2f} s, again {times[1]:.2f} s (target < 1 s)"
        )

    mix = model.default_mix()
    start = time.perf_counter()
    mc = simulate(
        model,
        load_rule("crosscheck"),
        population_size=args.people,
        list_size=args.list_size,
        population_mix=mix,
        list_mix=mix,
        seed=0,
        replicates=1,
    )
    misflag_time = time.perf_counter() - start
    print(
        f"Monte Carlo crosscheck, {args.people:,} people x {args.list_size:,} list records, 1 replicate: "
        f"{misflag_time:.2f} s (target < 60 s), {mc.pairs.sum():.0f} wrongful pairs"
    )

    start = time.perf_counter()
    population = model.sample(args.people, seed=0, group_mix=mix).to_pandas()
    listing = model.sample(args.list_size, seed=1, group_mix=mix).to_pandas()
    drawn = time.perf_counter() - start
    start = time.perf_counter()
    merged = listing.merge(population, on=["first_name", "last_name", "dob"])
    pandas_join = time.perf_counter() - start
    print(
        f"pandas: draw as frames {drawn:.2f} s + merge {pandas_join:.2f} s = {drawn + pandas_join:.2f} s "
        f"({len(merged):,} pairs); misflag / pandas = {misflag_time / (drawn + pandas_join):.2f}"
    )


if __name__ == "__main__":
    main()
