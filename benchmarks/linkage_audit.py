"""misflag `linkage run` + `linkage audit` against bare Splink on the same DuckDB job, in one run.

Both sides link the same synthetic population (misflag's generator, size from --size) with the same
settings file and the same training recipe (u by random sampling, EM on each blocking rule). Bare Splink
stops at predict(); misflag also validates the inputs, writes nothing extra, and audits the pairs per
group against the ground truth. Prints both times and the ratio (target: at most 1.2x).

    python benchmarks/linkage_audit.py --size 1000000
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import pyarrow as pa

from misflag.linkage._audit import audit_linkage
from misflag.linkage._evaluate import LinkageAuditSpec
from misflag.linkage._splink_runner import EM_MAX_PAIRS, U_MAX_PAIRS, blocking_rule_sql, link, load_settings
from misflag.linkage._synthetic import synthetic_records

SETTINGS = Path(__file__).resolve().parents[1] / "src/misflag/linkage/settings/synthetic.json"


def bare_splink(records: pa.Table, threshold: float, seed: int) -> tuple[float, int]:
    """What a user would write with Splink alone: register, train, predict, fetch the pairs."""
    from splink import DuckDBAPI, Linker

    start = time.perf_counter()
    settings = load_settings(SETTINGS)
    api = DuckDBAPI()
    linker = Linker(
        api.register(records.drop_columns(["person_id", "error"])), settings, log_level=logging.WARNING
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=seed)
    for rule in blocking_rule_sql(settings):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule,
            populate_probability_two_random_records_match_from_trained_values=True,
            max_pairs=EM_MAX_PAIRS,
        )
    pairs = linker.inference.predict(threshold_match_probability=threshold).as_pyarrow_table()
    return time.perf_counter() - start, pairs.num_rows


def misflag_run_and_audit(records: pa.Table, threshold: float, seed: int) -> tuple[float, float, int]:
    """misflag's reference run, then the per-group audit against the ground truth."""
    start = time.perf_counter()
    run = link(SETTINGS, [records.drop_columns(["person_id", "error"])], threshold=threshold, seed=seed)
    linked = time.perf_counter()
    spec = LinkageAuditSpec(
        id_column="record_id",
        cluster_column="person_id",
        groups=('"group"',),
        thresholds=(0.9, threshold),
        blocking_rules=tuple(run.blocking_rules),
    )
    audit_linkage(run.pairs, records, spec=spec)
    return time.perf_counter() - start, time.perf_counter() - linked, run.pairs.num_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="records in the synthetic population")
    parser.add_argument("--threshold", type=float, default=0.5, help="keep pairs with probability >= this")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    records = synthetic_records(args.size, seed=args.seed)
    bare, bare_pairs = bare_splink(records, args.threshold, args.seed)
    total, audit_only, pairs = misflag_run_and_audit(records, args.threshold, args.seed)
    print(f"records: {args.size:,}; pairs at p >= {args.threshold}: Splink {bare_pairs:,}, misflag {pairs:,}")
    print(f"bare Splink (train + predict):       {bare:8.2f} s")
    print(f"misflag run + audit:                 {total:8.2f} s  (audit alone {audit_only:.2f} s)")
    print(f"ratio misflag / Splink:              {total / bare:8.2f}x  (target <= 1.2x)")


if __name__ == "__main__":
    main()
