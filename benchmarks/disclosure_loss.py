"""Benchmark: information loss of the cost-aware secondary suppression (MILP) against the greedy fallback.

The same intersected audits, run twice in process: as published (the MILP first) and with the optimiser
given no rounds (the greedy escalation, the fallback). Printed per design: groups and people withheld
whole, groups and people with a rate withheld, figures withheld (comparison rows aside), seconds.

    python benchmarks/disclosure_loss.py [compas] [anes]

COMPAS: race x sex x age band; ANES 1996 (statsmodels): education x income band x age band; --min-cell 10.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import duckdb
import pyarrow as pa

import misflag.decisions._protect as protect
from misflag import datasets
from misflag.decisions import audit_decisions


def compas() -> tuple[pa.Table, list[str]]:
    path = datasets.get("compas")
    return duckdb.sql(
        "SELECT race, sex, age_cat, two_year_recid AS truth, "
        f"CAST(score_text IN ('Medium', 'High') AS INTEGER) AS flag FROM read_csv_auto('{path}')"
    ).to_arrow_table(), ["race", "sex", "age_cat"]


def anes() -> tuple[pa.Table, list[str]]:
    from statsmodels.datasets import anes96

    frame = duckdb.from_df(anes96.load_pandas().data)
    return frame.query(
        "frame",
        "SELECT CAST(CAST(educ AS INTEGER) AS VARCHAR) AS educ, "
        "CASE WHEN income < 12 THEN 'low' WHEN income < 19 THEN 'middle' ELSE 'high' END AS income, "
        "CASE WHEN age < 35 THEN 'under 35' WHEN age < 60 THEN '35-59' ELSE '60+' END AS age, "
        "CAST(PID >= 4 AS INTEGER) AS truth, CAST(vote AS INTEGER) AS flag FROM frame",
    ).to_arrow_table(), ["educ", "income", "age"]


def loss(table: pa.Table, names: list[str], sizes: dict[Any, float]) -> str:
    started = time.perf_counter()
    result = audit_decisions(table, flag="flag", truth="truth", groups=names, intersect=True)
    seconds = time.perf_counter() - started
    rows = result.rows()
    whole = {(r["attribute"], r["group"]) for r in rows if r["metric"] == "n" and r["suppressed"]}
    rates = {(r["attribute"], r["group"]) for r in rows if r["metric"] != "n" and r["suppressed"]}
    figures = [r for r in rows if not r["metric"].endswith(("_ratio", "_diff"))]
    method = result.metadata["disclosure_audit"].auditor_only["secondary_suppression"]["method"]
    return (
        f"{method:6} groups withheld whole {len(whole)} ({sum(sizes[u] for u in whole):,.0f} people); "
        f"groups with a rate withheld {len(rates)} ({sum(sizes[u] for u in rates):,.0f} people); "
        f"figures withheld {sum(bool(r['suppressed']) for r in figures)} of {len(figures)}; {seconds:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("datasets", nargs="*", help="compas and/or anes (default: both)")
    args = parser.parse_args()
    for name in args.datasets or ["compas", "anes"]:
        if name not in ("compas", "anes"):
            parser.error(f"unknown data set {name!r}: compas or anes")
        table, names = {"compas": compas, "anes": anes}[name]()
        everything = audit_decisions(
            table, flag="flag", truth="truth", groups=names, intersect=True, min_cell=1
        )
        sizes = {
            (r["attribute"], r["group"]): float(r["value"]) for r in everything.rows() if r["metric"] == "n"
        }
        print(f"{name} ({table.num_rows:,} people, {len(sizes)} groups)")
        print("  " + loss(table, names, sizes))
        rounds, protect.OPTIMISER_ROUNDS = protect.OPTIMISER_ROUNDS, 0
        print("  " + loss(table, names, sizes))
        protect.OPTIMISER_ROUNDS = rounds
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
