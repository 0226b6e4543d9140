"""Coverage study: do misflag's 95% intervals cover COMPAS's full-data rates in 2,000-row subsamples?

The 7,214-row COMPAS file (ProPublica's compas-scores-two-years.csv, `misflag datasets get compas`) is
the population; each repetition audits 2,000 rows drawn i.i.d. from it (with replacement, so they are
independent draws with the file's rates, as the intervals assume; `--without-replacement` draws a
subsample instead, whose finite-population correction of 1 - 2,000/7,214 inflates coverage) by race x sex x age
band, intersected, with every cell reported (min_cell=1). A rate's interval covers when it contains
the population's rate for that group (computed here with pandas, independently of misflag); a ratio's
when it contains the ratio of population rates. Coverage is tabulated by the denominator behind each
figure, with cells whose sample rate is 0 or 1 counted in their own band as well.

    python benchmarks/coverage_compas.py [--repetitions 2000] [--seed 0] [--without-replacement]

Misses are also counted by side: the population's figure above the upper limit, or below the lower.
"""

from __future__ import annotations

import argparse
import itertools
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import stats

from misflag import datasets
from misflag.decisions import audit_decisions

GROUPS = ("race", "sex", "age_cat")
FLAG = "score_text IN ('Medium', 'High')"
SAMPLE = 2000
RATES = {  # metric -> (numerator mask, denominator mask) over rows, with flagged f and truth t
    "fpr": (lambda f, t: f & ~t, lambda f, t: ~t),
    "fnr": (lambda f, t: ~f & t, lambda f, t: t),
    "precision": (lambda f, t: f & t, lambda f, t: f),
    "npv": (lambda f, t: ~f & ~t, lambda f, t: ~f),
    "selection_rate": (lambda f, t: f, lambda f, t: f | ~f),
}
BANDS = ("1-9", "10-29", "30-99", "100+")


def population() -> pd.DataFrame:
    frame = pd.read_csv(datasets.get("compas"), usecols=[*GROUPS, "two_year_recid", "score_text"])
    frame["f"] = frame["score_text"].isin(["Medium", "High"])
    frame["t"] = frame["two_year_recid"] == 1
    return frame


def true_rates(frame: pd.DataFrame) -> dict[tuple[str, str, str], float]:
    """(attribute, group, metric) -> the population rate, for every attribute set and group."""
    out: dict[tuple[str, str, str], float] = {}
    for size in range(1, len(GROUPS) + 1):
        for members in itertools.combinations(GROUPS, size):
            attribute = " & ".join(members)
            for key, part in frame.groupby(list(members)):
                label = " & ".join(str(v) for v in (key if isinstance(key, tuple) else (key,)))
                for metric, (numerator, denominator) in RATES.items():
                    below = denominator(part["f"], part["t"]).sum()
                    if below:
                        out[(attribute, label, metric)] = numerator(part["f"], part["t"]).sum() / below
    return out


def band(denominator: float) -> str:
    return BANDS[int(np.searchsorted([10, 30, 100], denominator, side="right"))]


def figures(
    result: Any, truth: dict[tuple[str, str, str], float]
) -> Iterator[tuple[str, str, bool, tuple[str, str, str, str]]]:
    """(kind, band, covered, (attribute, group, metric, side missed)) for every reported rate and ratio of
    one audit (overall row excluded); the side is "above", "below" or "" where the interval covers."""
    rows = {(r["attribute"], r["group"], r["stage"], r["metric"]): r for r in result.rows()}
    references = result.metadata["references"]
    for (attribute, group, _, metric), row in rows.items():
        base = metric.removesuffix("_ratio")
        if attribute == "overall" or base not in RATES or row["value"] is None or row["ci_low"] is None:
            continue
        high = np.inf if row["ci_high"] is None else row["ci_high"]
        if metric == base:
            expected = truth.get((attribute, group, metric))
            sample_rate = row["value"]
        else:
            reference = references.get(attribute)
            if group == reference or (attribute, reference, base) not in truth:
                continue
            top, bottom = truth.get((attribute, group, base)), truth[(attribute, reference, base)]
            expected = None if top is None or bottom == 0 else top / bottom
            own = rows[(attribute, group, row["stage"], base)]
            sample_rate = own["value"]
            ref_row = rows[(attribute, reference, row["stage"], base)]
            row = {**row, "denominator": min(own["denominator"], ref_row["denominator"])}
        if expected is None:
            continue
        above, below = expected > high + 1e-12, expected < row["ci_low"] - 1e-12
        covered = not (above or below)
        kind = "rate" if metric == base else "ratio"
        side = "above" if above else "below" if below else ""
        yield kind, band(row["denominator"]), covered, (attribute, group, metric, side)
        if sample_rate in (0.0, 1.0):
            yield kind, "rate 0 or 1", covered, (attribute, group, metric, side)


def study(
    repetitions: int,
    seed: int,
    per_figure: dict[Any, list[int]] | None = None,
    replace: bool = True,
    sides: dict[tuple[str, str, str, str], int] | None = None,
) -> dict[tuple[str, str], list[int]]:
    """Tally (covered, total) per (kind, band); `per_figure` (if given) collects the same per
    figure, `sides` the misses per (kind, band, metric, side). `replace`: i.i.d. draws (the default)."""
    frame = population()
    truth = true_rates(frame)
    table = pa.Table.from_pandas(frame[[*GROUPS, "two_year_recid", "score_text"]], preserve_index=False)
    rng = np.random.default_rng(seed)
    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for _ in range(repetitions):
        sample = table.take(rng.choice(table.num_rows, SAMPLE, replace=replace))
        result = audit_decisions(
            sample, flag=FLAG, truth="two_year_recid", groups=list(GROUPS), intersect=True, min_cell=1
        )
        for kind, where, covered, (*figure, side) in figures(result, truth):
            tally[(kind, where)][0] += covered
            tally[(kind, where)][1] += 1
            if sides is not None:
                key = (kind, where, figure[2], side or "covered")
                sides[key] = sides.get(key, 0) + 1
            if per_figure is not None and where != "rate 0 or 1":
                per_figure.setdefault(tuple(figure), [0, 0])
                per_figure[tuple(figure)][0] += covered
                per_figure[tuple(figure)][1] += 1
    return tally


def lowest_acceptable(figures_count: int, level: float = 0.95, alpha: float = 0.001) -> float:
    """Coverage below this share rejects 95% at error rate alpha (binomial, treating figures as independent)."""
    return float(stats.binom.ppf(alpha, figures_count, level)) / figures_count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repetitions", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--without-replacement", action="store_true", help="subsamples, not i.i.d. draws")
    args = parser.parse_args()
    per_figure: dict[Any, list[int]] = {}
    sides: dict[tuple[str, str, str, str], int] = {}
    replace = not args.without_replacement
    tally = study(args.repetitions, args.seed, per_figure, replace=replace, sides=sides)
    how = "i.i.d. draws (with replacement)" if replace else "subsamples (without replacement)"
    print(f"{args.repetitions:,} {how} of {SAMPLE:,} COMPAS rows; race x sex x age band, intersected")
    print(f"{'figure':6} {'denominator':>12} {'intervals':>10} {'coverage':>9}  {'>= 93.5%':>8}")
    for kind in ("rate", "ratio"):
        for where in (*BANDS, "rate 0 or 1"):
            hits, total = tally.get((kind, where), [0, 0])
            if total:
                share = hits / total
                print(
                    f"{kind:6} {where:>12} {total:>10,} {100 * share:8.2f}%  {'yes' if share >= 0.935 else 'NO':>8}"
                )
    print("rates by metric: coverage, and misses with the population's rate above / below the interval")
    for metric in RATES:
        for where in (*BANDS, "rate 0 or 1"):
            counts = {
                side: sides.get(("rate", where, metric, side), 0) for side in ("covered", "above", "below")
            }
            total = sum(counts.values())
            if total:
                print(
                    f"  {metric:14} {where:>12} {total:>8,} {100 * counts['covered'] / total:7.2f}%  "
                    f"above {100 * counts['above'] / total:5.2f}%  below {100 * counts['below'] / total:5.2f}%"
                )
    often = {k: v for k, v in per_figure.items() if v[1] >= args.repetitions // 2}
    print("lowest coverage of single figures reported in at least half the subsamples:")
    for figure in sorted(often, key=lambda k: often[k][0] / often[k][1])[:5]:
        hits, total = often[figure]
        print(f"  {' / '.join(figure)}: {100 * hits / total:.1f}% of {total:,}")


if __name__ == "__main__":
    main()
