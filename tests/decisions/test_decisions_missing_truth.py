"""Missing truth (issue 23): hand-checked toy tables, the Imbens-Manski interval against a second library,
settings played by an adversary, and what the summary and the JSON say.

Toy table (closed forms below are worked by hand from the six counts, never read from the code):
group a: flagged TP 3, FP 2, unknown 5; not flagged FN 1, TN 4, unknown 5 (20 people)
group b: flagged TP 2, FP 4, unknown 2; not flagged FN 2, TN 6, unknown 4 (20 people)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from scipy.optimize import brentq
from scipy.stats import norm
from statsmodels.stats.proportion import proportion_confint

from misflag.cli import main
from misflag.decisions import DecisionSpec, audit_decisions
from misflag.errors import InputError

TOY = {
    "a": {"tp": 3, "fp": 2, "fu": 5, "fn": 1, "tn": 4, "cu": 5},
    "b": {"tp": 2, "fp": 4, "fu": 2, "fn": 2, "tn": 6, "cu": 4},
}
#: (flag, truth) of each count; None = truth unknown
CELLS = {"tp": (1, 1.0), "fp": (1, 0.0), "fu": (1, None), "fn": (0, 1.0), "tn": (0, 0.0), "cu": (0, None)}


def _toy_table() -> pa.Table:
    group, flag, truth = [], [], []
    for name, counts in TOY.items():
        for cell, number in counts.items():
            group += [name] * number
            flag += [CELLS[cell][0]] * number
            truth += [CELLS[cell][1]] * number
    return pa.table({"g": group, "f": flag, "t": pa.array(truth, pa.float64())})


def _audit(**options: object) -> object:
    return audit_decisions(
        _toy_table(), flag="f", truth="t", groups=["g"], reference="a", min_cell=1, **options
    )


def test_worst_case_bounds_match_the_closed_forms() -> None:
    result = _audit()
    expected = {  # lowest: unknown flagged all positive, unknown unflagged all negative; highest: the reverse
        ("a", "fpr"): (2 / (2 + 4 + 5), (2 + 5) / (2 + 5 + 4)),
        ("a", "fnr"): (1 / (1 + 3 + 5), (1 + 5) / (1 + 5 + 3)),
        ("b", "fpr"): (4 / (4 + 6 + 4), (4 + 2) / (4 + 2 + 6)),
        ("b", "fnr"): (2 / (2 + 2 + 2), (2 + 4) / (2 + 4 + 2)),
        ("a", "base_rate"): (4 / 20, 14 / 20),
        ("b", "base_rate"): (4 / 20, 10 / 20),
    }
    for (group, metric), (low, high) in expected.items():
        assert result.value(f"{metric}_lower", group, "g") == pytest.approx(low)
        assert result.value(f"{metric}_upper", group, "g") == pytest.approx(high)
        row = result.select(metric=metric, group=group, attribute="g")[0]
        assert row["value"] is None and row["ci_low"] <= low and row["ci_high"] >= high
    # a ratio's range takes each group at its own extreme: [L_b / U_a, U_b / L_a]
    fpr_a, fpr_b = expected[("a", "fpr")], expected[("b", "fpr")]
    assert result.value("fpr_ratio_lower", "b", "g") == pytest.approx(fpr_b[0] / fpr_a[1])
    assert result.value("fpr_ratio_upper", "b", "g") == pytest.approx(fpr_b[1] / fpr_a[0])
    assert result.value("fpr_diff_lower", "b", "g") == pytest.approx(fpr_b[0] - fpr_a[1])
    assert result.value("fpr_diff_upper", "b", "g") == pytest.approx(fpr_b[1] - fpr_a[0])
    # the outcome test is identified: precision among flagged people whose truth is known
    assert result.value("precision", "a", "g") == pytest.approx(3 / 5)


def test_sensitivity_delta_matches_the_closed_form() -> None:
    """delta 0.1: a's unknown flagged are 60% +- 10% positive (3 of 5 known), unflagged 20% +- 10% (1 of 5)."""
    result = _audit(missing_truth="sensitivity", delta=0.1)
    x_low, x_high, y_low, y_high = 5 * 0.5, 5 * 0.7, 5 * 0.1, 5 * 0.3
    fpr_low = (2 + 5 - x_high) / (2 + 5 - x_high + 4 + 5 - y_low)
    fpr_high = (2 + 5 - x_low) / (2 + 5 - x_low + 4 + 5 - y_high)
    fnr_low = (1 + y_low) / (1 + y_low + 3 + x_high)
    fnr_high = (1 + y_high) / (1 + y_high + 3 + x_low)
    assert result.value("fpr_lower", "a", "g") == pytest.approx(fpr_low)
    assert result.value("fpr_upper", "a", "g") == pytest.approx(fpr_high)
    assert result.value("fnr_lower", "a", "g") == pytest.approx(fnr_low)
    assert result.value("fnr_upper", "a", "g") == pytest.approx(fnr_high)
    assert result.value("base_rate_lower", "a", "g") == pytest.approx((4 + x_low + y_low) / 20)


def test_sensitivity_odds_ratio_matches_the_closed_form() -> None:
    """Odds ratio 2 around a known share p: p / (p + 2 (1 - p)) to 2p / (2p + 1 - p)."""
    result = _audit(missing_truth="sensitivity", odds_ratio=2.0)
    flagged = (0.6 / (0.6 + 2 * 0.4), 1.2 / (1.2 + 0.4))
    clear = (0.2 / (0.2 + 2 * 0.8), 0.4 / (0.4 + 0.8))
    x_high, y_low = 5 * flagged[1], 5 * clear[0]
    assert result.value("fpr_lower", "a", "g") == pytest.approx((7 - x_high) / (7 - x_high + 9 - y_low))


def _imbens_manski_wilson(low: tuple[int, int], high: tuple[int, int]) -> tuple[float, float]:
    """The documented interval, computed independently: c by brentq, Wilson limits by statsmodels."""
    p_low, p_high = low[0] / low[1], high[0] / high[1]
    sigma = max(math.sqrt(p_low * (1 - p_low) / low[1]), math.sqrt(p_high * (1 - p_high) / high[1]))
    spread = (p_high - p_low) / sigma
    c = brentq(lambda z: norm.cdf(z + spread) - norm.cdf(-z) - 0.95, 0.5, 3.0)
    alpha = 2 * (1 - norm.cdf(c))
    return (
        proportion_confint(low[0], low[1], alpha=alpha, method="wilson")[0],
        proportion_confint(high[0], high[1], alpha=alpha, method="wilson")[1],
    )


def test_interval_is_imbens_manski_with_wilson_limits() -> None:
    result = _audit()
    row = result.select(metric="fpr", group="a", attribute="g")[0]
    low, high = _imbens_manski_wilson((2, 11), (7, 11))
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))


def test_fully_labelled_audit_is_unchanged_by_the_option() -> None:
    """With every truth known the mode changes nothing: the point and Wilson interval as before."""
    table = _toy_table().filter(pa.compute.is_valid(_toy_table().column("t")))
    plain = audit_decisions(table, flag="f", truth="t", groups=["g"], min_cell=1)
    bounded = audit_decisions(table, flag="f", truth="t", groups=["g"], min_cell=1, missing_truth="bounds")
    assert plain.rows() == bounded.rows()
    assert "missing_truth" not in bounded.metadata


def test_coverage_and_selection_warning() -> None:
    result = _audit()
    coverage = {(c["group"]): c for c in result.metadata["missing_truth"]["coverage"]}
    assert coverage["a"]["known_share_flagged"] == pytest.approx(5 / 10)
    assert coverage["a"]["known_share_not_flagged"] == pytest.approx(5 / 10)
    assert coverage["a"]["warning"] is None  # half and half: the flag does not select the labels
    assert coverage["b"]["known_share_flagged"] == pytest.approx(6 / 8)
    assert coverage["b"]["known_share_not_flagged"] == pytest.approx(8 / 12)
    assert "the flag selects whose truth is known" in coverage["b"]["warning"]
    assert coverage["all"]["unknown"] == 16


def test_summary_never_states_a_bounded_ratio_as_a_point() -> None:
    result = _audit()
    assert "times as often as a (95% range)" in result.summary
    assert "between" in result.summary and "ranges, not points" in result.summary
    for row in result.select(metric="fpr_ratio"):
        assert row["value"] is None or row["warning"] == "reference group"


def test_cli_json_carries_mode_and_ends(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "toy.parquet"
    import pyarrow.parquet as pq

    pq.write_table(_toy_table(), path)
    args = ["decisions", "audit", str(path), "--flag", "f", "--truth", "t", "--group", "g", "--min-cell", "1"]
    assert main([*args, "--missing-truth", "sensitivity", "--delta", "0.1", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    lower = [r for r in rows if r["metric"] == "fpr_lower" and r["group"] == "a"]
    assert lower and lower[0]["warning"].startswith("sensitivity")
    saved = tmp_path / "audit.json"
    assert main([*args, "--save", str(saved)]) == 0
    bundle = json.loads(saved.read_text())
    assert bundle["metadata"]["missing_truth"]["mode"] == "bounds"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"missing_truth": "guess"}, "must be one of bounds, sensitivity, mar, prevalence"),
        ({"prevalence": ("a=0.3",)}, "{prevalence} is for {missing_truth} prevalence only"),
        ({"missing_truth": "prevalence"}, "needs {prevalence} GROUP=RATE[:LOW-HIGH]"),
        ({"missing_truth": "prevalence", "prevalence": ("a=1.2",)}, "needs 0 < LOW <= RATE <= HIGH < 1"),
        (
            {"missing_truth": "prevalence", "prevalence": ("a=0.3:0.4-0.5",)},
            "needs 0 < LOW <= RATE <= HIGH < 1",
        ),
        ({"missing_truth": "prevalence", "prevalence": ("a=nan",)}, "needs 0 < LOW <= RATE <= HIGH < 1"),
        (
            {"missing_truth": "prevalence", "prevalence": ("0.3",)},
            "must be GROUP=RATE or GROUP=RATE:LOW-HIGH",
        ),
        (
            {"missing_truth": "prevalence", "prevalence": ("a=x",)},
            "must be GROUP=RATE or GROUP=RATE:LOW-HIGH",
        ),
        ({"strata": ("s",)}, "{strata} is for {missing_truth} mar or sensitivity only"),
        ({"missing_truth": "mar", "strata": ("s", "s")}, "may be given only once"),
        ({"missing_truth": "mar", "groups": ("g",), "strata": ("g",)}, "groups are strata already"),
        ({"missing_truth": "sensitivity"}, "exactly one of {delta} or {odds_ratio}"),
        ({"missing_truth": "sensitivity", "delta": 0.1, "odds_ratio": 2.0}, "exactly one of"),
        ({"missing_truth": "sensitivity", "delta": 1.5}, "{delta} must be from 0 to 1"),
        ({"missing_truth": "sensitivity", "delta": -0.1}, "{delta} must be from 0 to 1"),
        ({"missing_truth": "sensitivity", "delta": float("nan")}, "finite number"),
        ({"missing_truth": "sensitivity", "odds_ratio": 0.5}, "{odds_ratio} must be at least 1"),
        ({"missing_truth": "sensitivity", "odds_ratio": float("inf")}, "finite number"),
        ({"delta": 0.1}, "{delta} is for {missing_truth} sensitivity only"),
        (
            {"missing_truth": "bounds", "weight": "w"},
            "{missing_truth} is for truths missing without a design",
        ),
    ],
)
def test_hostile_settings_are_one_line_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(InputError) as error:
        DecisionSpec(truth="t", flag="f", **options)  # type: ignore[arg-type]
    text = error.value.render(lambda name: "{" + name + "}")
    assert message in text and "\n" not in text


def test_settings_file_types_are_checked() -> None:
    with pytest.raises(InputError, match="'delta' must be a number or null"):
        DecisionSpec.from_dict({"truth": "t", "flag": "f", "missing_truth": "sensitivity", "delta": "0.1"})
    spec = DecisionSpec(truth="t", flag="f", missing_truth="sensitivity", delta=0.2)
    assert DecisionSpec.from_dict(json.loads(spec.to_json())) == spec


def test_worst_case_contains_every_completion() -> None:
    """The adversary fills in the 16 unknown truths every way a group allows: the FPR stays in the range."""
    result = _audit()
    rng = np.random.default_rng(23)
    for group, counts in TOY.items():
        low, high = result.value("fpr_lower", group, "g"), result.value("fpr_upper", group, "g")
        for _ in range(200):
            x, y = rng.integers(0, counts["fu"] + 1), rng.integers(0, counts["cu"] + 1)
            fp, tn = counts["fp"] + counts["fu"] - x, counts["tn"] + counts["cu"] - y
            assert low - 1e-12 <= fp / (fp + tn) <= high + 1e-12


def test_mar_standardises_within_group_and_flag() -> None:
    """a: flagged 3 of 5 known positive, so 3 of the 5 unknown; not flagged 1 of 5, so 1 of 5.
    FPR a = (2 + 5 - 3) / ((2 + 5 - 3) + (4 + 5 - 1)) = 4 / 12; b: x = 2/3, y = 1: (16/3) / (43/3) = 16 / 43;
    overall standardises within each group too: (4 + 16/3) / (12 + 43/3) = 28 / 79."""
    result = _audit(missing_truth="mar")
    assert result.value("fpr", "a", "g") == pytest.approx(4 / 12)
    assert result.value("fnr", "a", "g") == pytest.approx((1 + 1) / (1 + 1 + 3 + 3))
    assert result.value("fpr", "b", "g") == pytest.approx(16 / 43)
    assert result.value("fpr", "all") == pytest.approx(28 / 79)
    assert result.value("fpr_ratio", "b", "g") == pytest.approx((16 / 43) / (4 / 12))
    row = result.select(metric="fpr", group="a", attribute="g")[0]
    assert row["ci_low"] < 4 / 12 < row["ci_high"] and "whether truth is known" in row["warning"]
    assert "estimates under an assumption" in result.summary


def _strata_table() -> pa.Table:
    """One group; stratum s1: flagged TP 4 FP 1 unknown 10, not flagged FN 1 TN 4; s2: flagged TP 1 FP 4,
    not flagged TN 5."""
    cells = [("s1", 1, 1.0, 4), ("s1", 1, 0.0, 1), ("s1", 1, None, 10), ("s1", 0, 1.0, 1), ("s1", 0, 0.0, 4)]
    cells += [("s2", 1, 1.0, 1), ("s2", 1, 0.0, 4), ("s2", 0, 0.0, 5)]
    rows = [(s, f, t) for s, f, t, n in cells for _ in range(n)]
    return pa.table(
        {
            "s": [r[0] for r in rows],
            "f": [r[1] for r in rows],
            "t": pa.array([r[2] for r in rows], pa.float64()),
        }
    )


def test_sensitivity_with_strata_bounds_each_stratum_around_its_own_share() -> None:
    """delta 0.1. Given strata the 10 unknown (all in s1, known share 4/5) are 70-90% positive: x in [7, 9],
    FPR from (15 - 9) / (6 + 9) = 6/15 to (15 - 7) / (8 + 9) = 8/17 (FP 5, TN 9). Without strata they are
    compared with all 10 known flagged (share 1/2): x in [4, 6], FPR from 9/18 to 11/20."""
    options: dict[str, object] = {"flag": "f", "truth": "t", "min_cell": 1, "missing_truth": "sensitivity"}
    by_stratum = audit_decisions(_strata_table(), strata=["s"], delta=0.1, **options)
    assert by_stratum.value("fpr_lower", "all") == pytest.approx(6 / 15)
    assert by_stratum.value("fpr_upper", "all") == pytest.approx(8 / 17)
    pooled = audit_decisions(_strata_table(), delta=0.1, **options)
    assert pooled.value("fpr_lower", "all") == pytest.approx(9 / 18)
    assert pooled.value("fpr_upper", "all") == pytest.approx(11 / 20)


def test_a_group_with_no_known_truth_gets_the_worst_case_under_sensitivity() -> None:
    """Nothing to compare with: the unknown share may be 0 to 1 whatever delta says."""
    table = _toy_table()
    truth = [
        None if g == "b" else t
        for g, t in zip(table.column("g").to_pylist(), table.column("t").to_pylist(), strict=True)
    ]
    table = table.set_column(2, "t", pa.array(truth, pa.float64()))
    result = audit_decisions(
        table, flag="f", truth="t", groups=["g"], min_cell=1, missing_truth="sensitivity", delta=0.05
    )
    assert result.value("fpr_lower", "b", "g") == pytest.approx(0.0)  # 8 flagged, 12 not: all unknown
    assert result.value("fpr_upper", "b", "g") == pytest.approx(1.0)


def test_mar_strata_change_the_estimate_as_worked_by_hand() -> None:
    """One group; stratum s1: flagged TP 4 FP 1 unknown 10, not flagged FN 1 TN 4; s2: flagged TP 1 FP 4,
    not flagged TN 5. Given strata the 10 unknown are 80% positive: FP = 1 + 2 + 4 = 7, TN 9, FPR 7/16;
    without strata they are 50% positive (5 of 10 known): FP = 5 + 5 = 10, FPR 10/19."""
    table = _strata_table()
    options: dict[str, object] = {"flag": "f", "truth": "t", "min_cell": 1, "missing_truth": "mar"}
    assert audit_decisions(table, strata=["s"], **options).value("fpr", "all") == pytest.approx(7 / 16)
    assert audit_decisions(table, **options).value("fpr", "all") == pytest.approx(10 / 19)


def test_mar_refuses_what_it_cannot_identify() -> None:
    """Only flagged people have a known truth: no one stands for the unflagged, so MAR says nothing."""
    table = _toy_table()
    truth = [
        None if f == 0 else t
        for f, t in zip(table.column("f").to_pylist(), table.column("t").to_pylist(), strict=True)
    ]
    table = table.set_column(2, "t", pa.array(truth, pa.float64()))
    with pytest.raises(InputError, match="no one with a known truth of the same flag"):
        audit_decisions(table, flag="f", truth="t", groups=["g"], min_cell=1, missing_truth="mar")


COMPAS_FLAG = "score_text IN ('Medium','High')"
COMPAS_OPTIONS: dict[str, object] = {
    "flag": COMPAS_FLAG,
    "truth": f"CASE WHEN {COMPAS_FLAG} THEN two_year_recid END",  # only flagged people followed up
    "groups": ["race"],
    "where": "race IN ('African-American','Caucasian')",
    "reference": "Caucasian",
}


def test_compas_breakdown_value_is_where_the_sensitivity_range_reaches_one(compas_csv: Path) -> None:
    """docs/missing-truth.md: the FPR ratio's breakdown value is D = 0.135. Checked through the other road:
    the sensitivity audit at D = 0.134 still excludes 1, at D = 0.135 includes it."""
    worst = audit_decisions(compas_csv, **COMPAS_OPTIONS)  # type: ignore[arg-type]
    entry = next(b for b in worst.metadata["missing_truth"]["breakdown"] if b["metric"] == "fpr_ratio")
    assert entry["delta"] == pytest.approx(0.135)
    for delta, includes in ((0.134, False), (0.135, True)):
        result = audit_decisions(compas_csv, missing_truth="sensitivity", delta=delta, **COMPAS_OPTIONS)  # type: ignore[arg-type]
        row = result.select(metric="fpr_ratio", group="African-American", stage="decision")[0]
        assert (row["ci_low"] <= 1 <= row["ci_high"]) is includes, (delta, row)
    coverage = {c["group"]: c for c in worst.metadata["missing_truth"]["coverage"]}
    assert coverage["Caucasian"]["known_share_not_flagged"] == 0.0  # the selection the docs describe
    assert coverage["Caucasian"]["unknown"] == 1139 + 461  # ProPublica's unflagged: TN + FN


def test_prevalence_identifies_fpr_from_the_hit_rate() -> None:
    """a: 10 flagged, hit rate 3 / 5 known, 20 people, prevalence 0.4 (0.35-0.45): FPR = 10 x 0.4 / (20 x 0.6)
    = 1/3, FNR = 1 - 10 x 0.6 / (20 x 0.4) = 1/4. The 95% interval: the hit rate at its Wilson limits
    (statsmodels), the prevalence at the end of its range that moves the rate the same way."""
    result = _audit(missing_truth="prevalence", prevalence=("a=0.4:0.35-0.45", "b=0.3"))
    assert result.value("fpr", "a", "g") == pytest.approx(1 / 3)
    assert result.value("fnr", "a", "g") == pytest.approx(1 / 4)
    assert result.value("fpr", "b", "g") == pytest.approx(8 * (2 / 3) / (20 * 0.7))
    assert result.value("base_rate", "a", "g") == pytest.approx(0.4)
    hit_low, hit_high = proportion_confint(3, 5, alpha=0.05, method="wilson")
    row = result.select(metric="fpr", group="a", attribute="g")[0]
    assert row["ci_low"] == pytest.approx(10 * (1 - hit_high) / (20 * (1 - 0.35)))
    assert row["ci_high"] == pytest.approx(10 * (1 - hit_low) / (20 * (1 - 0.45)))
    assert "external prevalence" in row["warning"]
    ratio = result.select(metric="fpr_ratio", group="b", attribute="g")[0]
    assert ratio["value"] == pytest.approx((8 * (2 / 3) / 14) / (1 / 3))
    assert result.select(metric="fpr", group="all")[0]["value"] is None  # overall: still a range


def test_prevalence_refuses_what_it_cannot_use() -> None:
    with pytest.raises(InputError, match="every group of g once: missing b"):
        _audit(missing_truth="prevalence", prevalence=("a=0.4",))
    with pytest.raises(InputError, match="no group c"):
        _audit(missing_truth="prevalence", prevalence=("a=0.4", "b=0.3", "c=0.2"))
    with pytest.raises(InputError, match="gives group 'a' twice"):
        _audit(missing_truth="prevalence", prevalence=("a=0.4", "a=0.3", "b=0.3"))


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ([], "shown as ranges, not single figures"),
        (["--missing-truth", "mar"], "estimates that rest on an assumption"),
    ],
)
def test_report_section_says_what_the_figures_are(tmp_path: Path, options: list[str], says: str) -> None:
    import pyarrow.parquet as pq

    path, report = tmp_path / "toy.parquet", tmp_path / "report.html"
    pq.write_table(_toy_table(), path)
    args = ["decisions", "audit", str(path), "--flag", "f", "--truth", "t", "--group", "g", "--min-cell", "1"]
    assert main([*args, *options, "--report", str(report)]) == 0
    html = report.read_text()
    assert "When the truth is known only for some people" in html and says in html
    assert "Who has a known truth" in html
    if not options:  # the group tables show a bounded rate as its 95% range, never as "undefined"
        assert "range 6.21% – 82.49%" in html  # group a's FPR: the Imbens-Manski range checked above


def test_withheld_groups_get_no_ranges_coverage_or_breakdown() -> None:
    """A group of 3 people under --min-cell 5 is withheld: none of its ranges, ends, coverage or breakdown
    values are published (the suppression result is applied, never bypassed)."""
    small = pa.table({"g": ["c"] * 3, "f": [1, 0, 1], "t": pa.array([1.0, None, None], pa.float64())})
    table = pa.concat_tables([_toy_table()] * 3 + [small])
    result = audit_decisions(table, flag="f", truth="t", groups=["g"], min_cell=5)
    withheld = {r["group"] for r in result.rows() if r["metric"] == "n" and r["suppressed"]}
    assert "c" in withheld
    for group in withheld:  # c, and any group withheld so that c cannot be recovered by subtraction
        rows = [r for r in result.rows() if r["group"] == group and r["attribute"] == "g"]
        assert all(r["suppressed"] for r in rows)
        assert not [r for r in rows if r["metric"].endswith(("_lower", "_upper"))]
        info = result.metadata["missing_truth"]
        for part in ("coverage", "bounds", "breakdown"):
            assert all(entry["group"] != group for entry in info[part]), part


def _gap_table() -> pa.Table:
    """Group b wrongly flagged about five times as often as a; 3% of truths unknown, at random."""
    rng = np.random.default_rng(3)
    group = rng.choice(np.array(["a", "b"]), 4000)
    truth = (rng.random(4000) < 0.4).astype(float)
    flag = np.where(truth == 1, rng.random(4000) < 0.7, rng.random(4000) < np.where(group == "a", 0.1, 0.5))
    truth[rng.random(4000) < 0.03] = np.nan
    return pa.table({"g": group, "f": flag.astype(int), "t": pa.array(truth, from_pandas=True)})


def test_lead_finding_states_a_gap_only_as_a_range() -> None:
    """The lead (first line of terminal, report and page) never says 'no group ... more than chance' when the
    ratio's whole 95% range is above 1, and never gives the ratio as a point."""
    from misflag.report._lead import lead_finding

    gap = audit_decisions(_gap_table(), flag="f", truth="t", groups=["g"], reference="a")
    row = gap.select(metric="fpr_ratio", group="b", stage="decision")[0]
    assert row["value"] is None and row["ci_low"] > 1  # b's FPR range lies wholly above a's
    expected = (
        f"b people who should not have been flagged were flagged {row['ci_low']:.1f} to {row['ci_high']:.1f} "
        "times as often as a people, whatever the unknown truths are."
    )
    assert lead_finding(gap) == expected
    assert lead_finding(_audit()) == (
        "The truth is unknown for some people, so the data cannot tell who is wrongly flagged more often."
    )
