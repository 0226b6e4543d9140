"""Benchmark: the decision audit with the disclosure audit by linear programming on, against the same
audit with it off, in one run (issue 21's speed goal: within 1.2x).

A 10M-row Parquet log, race (7) x sex (2) x age band (3) intersected: the log of benchmarks/decisions.py
with two rare races (about 10 and 50 people), so that intersections are small and cells ARE withheld.
"Off" is the same tree with the LP audit taken out in the child process (`misflag.decisions._protect`
replaced by a module that publishes once: primary suppression and hypercubes, no LP, no HiGHS or
scipy import): the same data, the same audit, minus the disclosure audit. Each run is `audit_decisions`
in a fresh process (imports inside the call count, as a user pays them); on and off alternate `--repeat`
times so a busy machine slows both alike; the medians of the call's CPU time (user + system of the
process, DuckDB's threads included) and wall time, their ratios and the load average are printed.
`--baseline SRC` adds a third tree (e.g. an older commit's src folder) with its LP audit on. Each of
`--seeds` logs draws truth and flag with its own seed: how many rounds secondary suppression needs
depends on the few people in the rare cells (1 to 15 rounds over seeds 0-7), so one log is no sample.
`--split` then prints, per log, where the LP audit's CPU goes: one process per log, `audit_decisions`
three times after a warm-up, `time.process_time()` around each step (publications, model builds and
matrices, LP solves, the alternative cuts' passes, the probes beside the audit's model, MILP solves),
means per audit. `--rounds` prints, per log, one warm audit round by round (each round's MILP, publication,
model build, probe, random and own LPs, alternative-cut passes, and the LPs each solved).

    python benchmarks/disclosure.py [--rows 10000000] [--repeat 5] [--seeds 4] [--baseline OLD/src] [--split] [--rounds]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

RUN = """
import os, sys, time, types
if sys.argv[2] == "off":
    off = types.ModuleType("misflag.decisions._protect")

    class Reader:
        def __init__(self, *args):
            pass

    class NoAudit:
        def summary(self):
            return {}

    def protect(publish, reader, min_cell):
        rows, _, metadata = publish({"n": set(), "detail": set()})
        return rows, metadata, NoAudit()

    off.Reader, off.protect = Reader, protect
    sys.modules["misflag.decisions._protect"] = off
from misflag.decisions import audit_decisions
cpu, wall = time.process_time(), time.perf_counter()
result = audit_decisions(sys.argv[1], flag="flag", truth="truth", groups=["race", "sex", "age"], intersect=True)
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
withheld = sum(bool(row["suppressed"]) for row in result.rows())
summary = result.metadata.get("disclosure_audit")  # the auditor's diagnostics: never written
secondary = getattr(summary, "auditor_only", {}).get("secondary_suppression", {})
print(cpu, wall, withheld, secondary.get("method", "none"), secondary.get("rounds", 0))
"""

CLOCK = """
import sys, time
from collections import defaultdict
import misflag.decisions._protect as protect
import misflag.disclosure._audit as audit
import misflag.disclosure._kept as kept
import misflag.disclosure._lp as lp
from misflag.decisions import audit_decisions

spent = defaultdict(lambda: [0, 0.0])

def clocked(inner, label):
    def step(*args, **kwargs):
        started = time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[label][0] += 1
            spent[label][1] += time.process_time() - started
    return step

def timed(owner, name, label):
    setattr(owner, name, clocked(getattr(owner, name), label))

rounds = protect._Rounds.__init__
def init(self, publish, *args):
    rounds(self, clocked(publish, "publications (off pays one)"), *args)
protect._Rounds.__init__ = init

def run():
    return audit_decisions(sys.argv[1], flag="flag", truth="truth", groups=["race", "sex", "age"], intersect=True)
"""

SPLIT = (
    CLOCK
    + """
order = ["publications (off pays one)", "audits, in all", "  model builds",
         "  model matrices (asked; built once per model)", "  LP solves, HiGHS set-up included",
         "    of them in alternative-cut passes", "  probes (their solves included)", "MILP solves"]
timed(protect, "audit_outputs", "audits, in all")
timed(kept.Kept, "__init__", "  model builds")
timed(kept.Kept, "matrices", "  model matrices (asked; built once per model)")
timed(lp.Problem, "solve", "  LP solves, HiGHS set-up included")
timed(audit, "_alternatives", "    of them in alternative-cut passes")
timed(audit, "probe", "  probes (their solves included)")
timed(protect, "cheapest", "MILP solves")
run()
spent.clear()
started = time.process_time()
for _ in range(3):
    run()
print(f"  audit_decisions {(time.process_time() - started) / 3 * 1000:.0f} ms CPU; per audit:")
for label in sorted(spent, key=order.index):
    calls, seconds = spent[label]
    print(f"    {label:46} {calls / 3:5.1f} calls {seconds / 3 * 1000:7.1f} ms")
"""
)

ROUNDS = (
    CLOCK
    + """
# per audit (a round of secondary suppression, or the full audit of the last pattern): the MILP that
# chose its pattern, its publication and each step of its audit, and the LPs each step solved
steps = [("cheapest", protect, "MILP"), ("__init__", kept.Kept, "build"), ("probe", audit, "probe"),
         ("start", audit, "random LPs"), ("own", audit, "own LPs"), ("_alternatives", audit, "alternatives")]
where = []
def entered(inner, label):
    def step(*args, **kwargs):
        where.append(label)
        try:
            return inner(*args, **kwargs)
        finally:
            where.pop()
    return step
for name, owner, label in steps:
    timed(owner, name, label)
    if owner is audit:
        setattr(owner, name, entered(getattr(owner, name), label))
solve = lp.Problem.solve
def counted(self, objective):
    spent["LPs in " + where[-1]][0] += 1
    return solve(self, objective)
lp.Problem.solve = counted
audited, table = protect._Rounds.run, []
def one(self, forced, settled=None, more=None):
    out = audited(self, forced, settled, more)
    table.append(("round" if settled is not None else "full audit", len(out[3].exposed), dict(spent)))
    spent.clear()
    return out
protect._Rounds.run = one
run()
table.clear()
spent.clear()
run()
for k, (kind, exposed, clock) in enumerate(table, 1):
    shown = [f"{label} {seconds * 1000:.1f} ms" for label, (calls, seconds) in clock.items() if seconds]
    lps = [f"{calls} {label}" for label, (calls, _) in clock.items() if label.startswith("LPs")]
    print(f"  {k} ({kind}, {exposed} exposed): {', '.join(shown)}; {', '.join(lps) or 'no LPs'}")
"""
)


def make_log(path: Path, rows: int, seed: int) -> None:
    """Synthetic log: race (5 common, 'Native' 1 in 200,000, 'Pacific' 1 in 1,000,000), sex, age band;
    truth and flag from hashes of the row number, so that every run audits the same log (with random()
    the small cells, and with them the rounds of secondary suppression, changed from run to run)."""
    duckdb.sql(f"""
        COPY (
            SELECT
                CASE WHEN hash(i) % 1000000 = 7 THEN 'Pacific' WHEN hash(i) % 200000 = 3 THEN 'Native'
                     ELSE ['White', 'Black', 'Hispanic', 'Asian', 'Other'][1 + (hash(i) % 5)::INT] END AS race,
                ['F', 'M'][1 + (hash(i + 1) % 2)::INT] AS sex,
                ['<25', '25-45', '>45'][1 + (hash(i + 2) % 3)::INT] AS age,
                (hash(i, {seed}, 'truth') % 100 < 35)::INT AS truth,
                CASE WHEN hash(i, {seed}, 'stratum') % 10 < 7 THEN (hash(i, {seed}, 'flag') % 10 < 4)::INT
                     ELSE (hash(i, {seed}, 'flag') % 10 < 2)::INT END AS flag
            FROM range({rows}) t(i)
        ) TO '{path}' (FORMAT parquet)
    """)


def timed(path: Path, mode: str, source: str | None) -> tuple[float, float, str]:
    """CPU seconds, wall seconds, and "ROWS withheld (secondary suppression: METHOD, N rounds)" of one
    fresh run."""
    env = {**os.environ, **({"PYTHONPATH": source} if source else {})}
    out = subprocess.run(
        [sys.executable, "-c", RUN, str(path), mode], check=True, capture_output=True, text=True, env=env
    )
    cpu, wall, withheld, method, rounds = out.stdout.split()
    return (
        float(cpu),
        float(wall),
        f"{withheld} rows withheld (secondary suppression: {method}, {rounds} rounds)",
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--seeds", type=int, default=4, help="logs audited: truth and flag drawn with seeds 0..N-1"
    )
    parser.add_argument("--baseline", help="the src folder of another tree, run with its LP audit on")
    parser.add_argument("--split", action="store_true", help="then where the audit's CPU goes, per log")
    parser.add_argument(
        "--rounds", action="store_true", help="then the same per round of secondary suppression"
    )
    args = parser.parse_args()
    runs = [("off", "off", None), ("on", "on", None)]
    runs += [("baseline", "on", args.baseline)] if args.baseline else []
    print(f"load average before: {os.getloadavg()}")
    print(
        f"rows {args.rows:,}; {args.repeat} runs each, in rotating order; medians of CPU (and wall) seconds"
    )
    totals: dict[str, float] = {name: 0.0 for name, _, _ in runs}
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(args.seeds):
            path = Path(folder) / f"log{seed}.parquet"
            make_log(path, args.rows, seed)
            times: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in runs}
            what: dict[str, str] = {}
            for turn in range(args.repeat):  # the order rotates each turn: no run always goes first
                for name, mode, source in runs[turn % len(runs) :] + runs[: turn % len(runs)]:
                    cpu, wall, what[name] = timed(path, mode, source)
                    times[name].append((cpu, wall))
            cpu = {name: statistics.median(c for c, _ in values) for name, values in times.items()}
            wall = {name: statistics.median(w for _, w in values) for name, values in times.items()}
            print(f"seed {seed}:")
            for name, _, _ in runs:
                totals[name] += cpu[name]
                ratio = f" (ratio {cpu[name] / cpu['off']:.2f})" if name != "off" else ""
                print(
                    f"  LP audit {name}: CPU {cpu[name]:.2f} s{ratio}, wall {wall[name]:.2f} s; {what[name]}"
                )
            for script in [SPLIT] * args.split + [ROUNDS] * args.rounds:
                out = subprocess.run(
                    [sys.executable, "-c", script, str(path)], check=True, capture_output=True, text=True
                )
                print(out.stdout, end="")
    for name in [n for n, _, _ in runs if n != "off"]:
        print(
            f"all seeds, sum of medians: {name} / off CPU {totals[name]:.2f} / {totals['off']:.2f} s "
            f"= {totals[name] / totals['off']:.2f}"
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
