"""Held-out checks of the missing-truth ranges on COMPAS and ANES 1996 (the small run of benchmarks/missing_truth_coverage.py).

Truths are hidden by selections the test controls; the full-label truth is known. A 95% range passes when
the number of replications it covers is not below the 0.1% quantile of Binomial(R, 0.95): ranges may
over-cover (the worst case usually does), never under-cover. The adversarial scheme puts the truth exactly
at the range's end, where Imbens & Manski's interval is one-sided and coverage is close to 95%.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

REPLICATIONS = 400


def _benchmark(name: str = "missing_truth_coverage") -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_population_is_propublicas_table() -> None:
    """FPR 805 / 1795 and 349 / 1488 (tests/decisions/test_decisions_compas.py checks the same counts)."""
    bench = _benchmark()
    assert pytest.approx([805 / 1795, 349 / 1488]) == bench.COMPAS.true_fpr


@pytest.mark.parametrize("scheme", ["flagged-only", "by-group-and-flag", "adversarial"])
def test_worst_case_ranges_cover_the_full_label_truth(scheme: str) -> None:
    bench = _benchmark()
    rng = np.random.default_rng({"flagged-only": 1, "by-group-and-flag": 2, "adversarial": 3}[scheme])
    counts = bench.hide(bench.draw(rng, REPLICATIONS), scheme, rng)
    bound = bench.bound_rates(counts, bench.Shift())["fpr"]
    hits = {name: int(hit.sum()) for name, hit in bench.covers(bound).items()}
    assert all(count >= bench.region(REPLICATIONS) for count in hits.values()), hits


def test_adversarial_truth_sits_at_the_end_of_the_range() -> None:
    """The adversary's hidden truths make the sample FPR exactly the lower end (group 0), upper end (group 1)."""
    bench = _benchmark()
    rng = np.random.default_rng(4)
    full = bench.draw(rng, 50)
    bound = bench.bound_rates(bench.hide(full, "adversarial", rng), bench.Shift())["fpr"]
    sample = full[1] / (full[1] + full[3])
    assert bound.lower[:, 0] == pytest.approx(sample[:, 0]) and bound.upper[:, 1] == pytest.approx(
        sample[:, 1]
    )


def test_sensitivity_holds_at_the_selection_strength_and_may_fail_below() -> None:
    bench = _benchmark()
    table = {m: (held, covered) for m, held, covered in bench.sensitivity_table(200, 5, (0.0, 1.0, 1.5))}
    assert table[1.0][0] == 1.0 and table[1.5][0] == 1.0  # delta >= D0: the range holds the truth, always
    assert table[0.0][0] < 0.5  # delta = 0 (no selection assumed) misses it: selection is real here
    assert min(table[1.0][1], table[1.5][1]) * 200 >= bench.region(200)


def test_mar_estimates_are_unbiased_when_selection_is_mar() -> None:
    """Truths hidden with a probability that depends on group and flag only: the standardised estimates
    average to the full-label FPR within 4 Monte Carlo standard errors."""
    bench = _benchmark()
    estimates = bench.mar_estimates(REPLICATIONS, 6)
    error = estimates.std(axis=0, ddof=1) / np.sqrt(REPLICATIONS)
    assert np.all(np.abs(estimates.mean(axis=0) - bench.COMPAS.true_fpr) < 4 * error), (
        estimates.mean(axis=0),
        error,
    )


@pytest.mark.parametrize("band", [0.0, 0.02])
def test_prevalence_intervals_cover_the_full_label_rates(band: float) -> None:
    """Everyone of ProPublica's table audited, a random tenth of the flagged keep their truth, the prevalence
    the table's own (exact, or within +-0.02): the 95% intervals of FPR and FNR cover the full-label rates."""
    bench = _benchmark()
    hits = bench.prevalence_coverage(REPLICATIONS, 7, band=band)
    assert all(count >= bench.region(REPLICATIONS) for count in hits.values()), hits


def test_mar_bootstrap_intervals_cover_when_selection_is_mar() -> None:
    """The interval the audit publishes (MarAudit, 1,000 bootstrap replicates) over 200 samples."""
    bench = _benchmark()
    hits = bench.mar_interval_coverage(200, 8)
    assert all(count >= bench.region(200) for count in hits.values()), hits


def test_anes_population_is_the_statsmodels_table() -> None:
    """ANES 1996 (statsmodels): flag = voted Dole, truth = PID >= 4, by college degree (educ >= 5); the
    counts as pandas' crosstab gives them: FPR 16 / 233 and 16 / 292."""
    from statsmodels.datasets import anes96

    data = anes96.load_pandas().data
    table = pd.crosstab([data["educ"] >= 5, data["vote"]], data["PID"] >= 4)
    bench = _benchmark()
    anes = bench.anes()
    for degree, name in ((True, "college degree"), (False, "no college degree")):
        tp, fp = table.loc[(degree, 1.0), True], table.loc[(degree, 1.0), False]
        fn, tn = table.loc[(degree, 0.0), True], table.loc[(degree, 0.0), False]
        assert anes.cells[name] == (tp, fp, fn, tn)
    assert anes.cells == {"college degree": (184, 16, 27, 217), "no college degree": (177, 16, 31, 276)}
    assert pytest.approx([16 / 233, 16 / 292]) == anes.true_fpr


ANES_REPLICATIONS = 300


@pytest.mark.parametrize("scheme", ["flagged-only", "by-group-and-flag", "adversarial"])
def test_anes_worst_case_ranges_cover_the_full_label_truth(scheme: str) -> None:
    """A second real data set, small groups (16 wrongly flagged in each): the worst-case 95% ranges still
    cover the full-label FPR and FPR ratio inside the binomial acceptance region."""
    bench = _benchmark()
    anes = bench.anes()
    rng = np.random.default_rng({"flagged-only": 11, "by-group-and-flag": 12, "adversarial": 13}[scheme])
    counts = bench.hide(bench.draw(rng, ANES_REPLICATIONS, anes), scheme, rng)
    bound = bench.bound_rates(counts, bench.Shift())["fpr"]
    hits = {name: int(hit.sum()) for name, hit in bench.covers(bound, anes).items()}
    assert all(count >= bench.region(ANES_REPLICATIONS) for count in hits.values()), hits


def test_anes_sensitivity_holds_at_the_selection_strength_and_mar_is_unbiased() -> None:
    bench = _benchmark()
    anes = bench.anes()
    table = {m: (held, covered) for m, held, covered in bench.sensitivity_table(200, 14, (0.0, 1.0), anes)}
    assert table[1.0][0] == 1.0 and table[1.0][1] * 200 >= bench.region(200)
    assert table[0.0][0] < 0.5
    estimates = bench.mar_estimates(ANES_REPLICATIONS, 15, anes)
    error = estimates.std(axis=0, ddof=1) / np.sqrt(ANES_REPLICATIONS)
    assert np.all(np.abs(estimates.mean(axis=0) - anes.true_fpr) < 4 * error)


def test_docs_plot_data_holds_from_d0_on() -> None:
    """benchmarks/missing_truth_plot.py's data (100 samples): from D = D0 on every range holds the sample's
    full-label FPR on both data sets, at D = 0 none does; the chart has one panel per data set."""
    plot = _benchmark("missing_truth_plot")
    frame = plot.coverage_frame(100)
    held = frame[frame["measure"].str.startswith("range holds")]
    assert set(held["data"]) == {"COMPAS", "ANES 1996"} and len(held) == 2 * len(plot.MULTIPLES)
    assert (held[held["D / D0"] >= 1]["share"] == 1.0).all()
    assert (held[held["D / D0"] == 0]["share"] == 0.0).all()
    assert plot.chart(frame).to_dict()["facet"]["column"]["field"] == "data"
