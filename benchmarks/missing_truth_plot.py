"""The docs' plot of issue 23: how often sensitivity ranges hold the full-label FPR, against D / D0.

Truths are hidden with a selection of known strength D0 (positives keep their truth with probability 0.6,
negatives 0.4, in every group and flag: `select_with_strength` of benchmarks/missing_truth_coverage.py), on
COMPAS and ANES 1996. At D = m x D0 each sample's sensitivity range either holds its own full-label FPR or
not; the plot shows the share that does (both groups), and the share whose 95% range covers the
population FPR. At m >= 1 the range always holds it; below, it may not.

    python benchmarks/missing_truth_plot.py              # R = 1,000; writes docs/missing-truth-sensitivity.svg

The chart is made with altair; the SVG needs vl-convert-python (in the `test` extra). The table printed
is the chart's data.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import altair as alt
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "missing-truth-sensitivity.svg"
MULTIPLES = tuple(round(0.1 * step, 1) for step in range(21))  # D / D0 from 0 to 2


def _coverage() -> ModuleType:
    """benchmarks/missing_truth_coverage.py, whose selections and populations this plot uses."""
    path = Path(__file__).with_name("missing_truth_coverage.py")
    spec = importlib.util.spec_from_file_location("missing_truth_coverage", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def coverage_frame(replications: int) -> pd.DataFrame:
    """One row per data set, D / D0 and measure: the share of the R samples (seed 2024, as the benchmark)."""
    bench = _coverage()
    rows = []
    for population in (bench.COMPAS, bench.anes()):
        for multiple, held, covered in bench.sensitivity_table(replications, 2024, MULTIPLES, population):
            for measure, share in (
                ("range holds the sample's full-label FPR", held),
                ("95% range covers the population FPR", covered),
            ):
                rows.append({"data": population.name, "D / D0": multiple, "measure": measure, "share": share})
    return pd.DataFrame(rows)


def chart(frame: pd.DataFrame) -> alt.FacetChart:
    """Share against D / D0, one line per measure, one panel per data set; rules at D = D0 and at 95%."""
    lines = (
        alt.Chart()
        .mark_line()
        .encode(
            x=alt.X("D / D0:Q", title="D / D0 (assumed / real selection)"),
            y=alt.Y("share:Q", title="share of 1,000 samples", axis=alt.Axis(format="%")),
            color=alt.Color("measure:N", legend=alt.Legend(orient="bottom", title=None, labelLimit=400)),
        )
    )
    real = alt.Chart().mark_rule(strokeDash=[4, 4]).encode(x=alt.datum(1.0))
    level = alt.Chart().mark_rule(color="gray").encode(y=alt.datum(0.95))
    return (
        alt.layer(lines, real, level, data=frame)
        .properties(width=260, height=180)
        .facet(column=alt.Column("data:N", title=None, sort=["COMPAS", "ANES 1996"]))
    )


def main(replications: int = 1000) -> None:
    frame = coverage_frame(replications)
    print(frame.pivot_table(index="D / D0", columns=["data", "measure"], values="share").to_string())
    chart(frame).save(OUTPUT)
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({OUTPUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
