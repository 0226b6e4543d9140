"""Multi-stage hand-offs, audit-sample weights, suppression and score thresholds, checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from misflag.decisions import DecisionSpec, audit_decisions


def _rows(spec: list[tuple[str, int, int, int, int]]) -> pd.DataFrame:
    records = [(g, t, a, r) for g, t, a, r, times in spec for _ in range(times)]
    return pd.DataFrame(records, columns=["grp", "truth", "algo", "review"])


def test_review_stage_hand_offs_by_hand() -> None:
    frame = _rows(
        [
            ("a", 0, 1, 0, 6),
            ("a", 0, 1, 1, 4),
            ("a", 0, 0, 0, 10),
            ("a", 0, 0, 1, 2),
            ("a", 1, 1, 1, 8),
            ("a", 1, 1, 0, 2),
            ("a", 1, 0, 0, 3),
            ("b", 0, 1, 0, 1),
            ("b", 0, 1, 1, 9),
            ("b", 0, 0, 0, 10),
            ("b", 1, 1, 1, 10),
        ]
    )
    result = audit_decisions(
        frame,
        truth="truth",
        stages=[("algorithm", "algo"), ("review", "review")],
        groups=["grp"],
        replicates=200,
        strict=False,
    )
    step = "algorithm->review"
    assert result.value("cleared_false_flags", "a", stage=step) == pytest.approx(6 / 10)
    assert result.value("cleared_false_flags", "b", stage=step) == pytest.approx(1 / 10)
    assert result.value("cleared_true_flags", "a", stage=step) == pytest.approx(2 / 10)
    assert result.value("new_false_flags", "a", stage=step) == pytest.approx(2 / 12)
    assert result.value("override_clear_rate", "a", stage=step) == pytest.approx(8 / 20)
    assert result.value("override_flag_rate", "a", stage=step) == pytest.approx(2 / 15)
    assert result.value("fpr", "a", stage="algorithm") == pytest.approx(10 / 22)
    assert result.value("fpr", "a", stage="review") == pytest.approx(6 / 22)
    ratio = result.select(metric="cleared_false_flags_ratio", group="b", stage=step)[0]
    assert ratio["value"] == pytest.approx((1 / 10) / (6 / 10))  # a (35 people) is the larger group
    assert (
        "Of the algorithm stage's false flags, the review stage cleared: a 60.0%, b 10.0%." in result.summary
    )


def test_audit_sample_weights_by_hand() -> None:
    labelled = [("a", 0, 1, 2.0)] * 3 + [("a", 0, 0, 4.0)] * 5 + [("a", 1, 1, 1.0)] * 4
    unlabelled = [("a", None, 1, None)] * 10 + [("a", None, 0, None)] * 10
    frame = pd.DataFrame(labelled + unlabelled, columns=["grp", "truth", "flag", "w"])
    frame["truth"] = frame["truth"].astype("Int64")
    result = audit_decisions(
        frame, flag="flag", truth="truth", weight="w", groups=["grp"], replicates=200, min_cell=1
    )
    fpr = result.select(metric="fpr", group="a", attribute="grp", stage="decision")[0]
    assert fpr["value"] == pytest.approx(3 * 2 / (3 * 2 + 5 * 4))
    assert fpr["denominator"] == 8
    assert result.value("selection_rate", "a", attribute="grp", stage="decision") == pytest.approx(17 / 32)
    assert result.value("base_rate", "a", attribute="grp", stage="all") == pytest.approx(4 / (4 + 26))


def test_suppression_and_absent_intersections() -> None:
    frame = pd.DataFrame(
        {
            "grp": ["big"] * 40 + ["tiny"] * 5,
            "sex": ["f"] * 20 + ["m"] * 20 + ["f"] * 5,
            "truth": [0, 1] * 22 + [0],
            "flag": [1, 0, 0, 1] * 11 + [1],
        }
    )
    result = audit_decisions(
        frame, flag="flag", truth="truth", groups=["grp", "sex"], intersect=True, replicates=200
    )
    tiny = result.select(group="tiny", attribute="grp")
    assert tiny and all(r["suppressed"] and r["value"] is None for r in tiny)
    absent = result.select(group="tiny & m", attribute="grp & sex")
    assert len(absent) == 1 and absent[0]["value"] == 0 and absent[0]["warning"].startswith("absent")
    assert not result.select(group="tiny & m", metric="fpr")


def test_score_thresholds_match_a_hand_count() -> None:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"grp": rng.choice(["a", "b"], 600), "truth": rng.integers(0, 2, 600)})
    frame["score"] = rng.integers(1, 11, 600) + 2 * frame["truth"] + (frame["grp"] == "b")
    result = audit_decisions(
        frame, flag="score >= 8", truth="truth", groups=["grp"], score="score", threshold=8, replicates=200
    )
    for group in ("a", "b"):
        part = frame[frame["grp"] == group]
        negatives = part[part["truth"] == 0]
        expected = (negatives["score"] >= 8).mean()
        assert result.value("fpr", group, attribute="grp", stage="score>=8") == pytest.approx(
            expected, abs=1e-12
        )
        curve = result.extras["threshold_curves"].to_pandas()
        row = curve[(curve["group"] == group) & (curve["threshold"] == 5)].iloc[0]
        assert row["fpr"] == pytest.approx((negatives["score"] >= 5).mean(), abs=1e-12)
        positives = part[part["truth"] == 1]
        assert row["fnr"] == pytest.approx((positives["score"] < 5).mean(), abs=1e-12)
    ratio = result.select(metric="fpr_max_min_ratio")[0]
    rates = [result.value("fpr", g, attribute="grp", stage="score>=8") for g in ("a", "b")]
    assert ratio["value"] == pytest.approx(max(rates) / min(rates))


def test_global_threshold_meets_target_fpr_on_all_negatives() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"grp": rng.choice(["a", "b"], 2000), "truth": rng.integers(0, 2, 2000)})
    frame["score"] = rng.random(2000) + frame["truth"] * 0.5
    result = audit_decisions(
        frame,
        flag="score > 0.9",
        truth="truth",
        groups=["grp"],
        score="score",
        target_fpr=0.1,
        replicates=200,
    )
    chosen = result.metadata["global_threshold"]
    negatives = frame[frame["truth"] == 0]["score"]
    assert (negatives >= chosen).mean() <= 0.1
    assert result.value("fpr", "all", stage=f"score>={chosen:g}") <= 0.1


def test_spec_round_trips_as_json() -> None:
    spec = DecisionSpec(
        truth="t",
        stages=(("algorithm", "a"), ("review", "r")),
        groups=("race", "sex"),
        intersect=True,
        weight="w",
        seed=3,
    )
    assert DecisionSpec.from_dict(__import__("json").loads(spec.to_json())) == spec


def test_design_based_interval_matches_a_row_level_computation() -> None:
    """Weighted FPR interval against the stratified linearisation variance written out row by row, plus
    the binomial variance of the log's rate around the process's (the target, as unweighted)."""
    proportion = pytest.importorskip("statsmodels.stats.proportion")
    rng = np.random.default_rng(11)
    size = 3000
    stratum = rng.integers(0, 3, size)  # weights 1 (certainty), 4 and 20
    weight = np.array([1.0, 4.0, 20.0])[stratum]
    audited = (stratum == 0) | (rng.random(size) < 1 / weight)
    truth = (rng.random(size) < 0.3).astype(float)
    flag = np.where(truth == 1, rng.random(size) < 0.8, rng.random(size) < 0.2).astype(int)
    grp = rng.choice(["a", "b"], size)
    frame = pd.DataFrame(
        {
            "grp": grp,
            "flag": flag,
            "truth": pd.array(np.where(audited, truth, np.nan), dtype="Float64").astype("Int64"),
            "w": np.where(audited, weight, np.nan),
        }
    )
    result = audit_decisions(frame, flag="flag", truth="truth", weight="w", groups=["grp"])
    row = result.select(metric="fpr", group="a", attribute="grp", stage="decision")[0]
    # by hand, over audited rows
    w, t, f, g = weight[audited], truth[audited], flag[audited], grp[audited]
    x = ((g == "a") & (t == 0)).astype(float)
    y = x * f
    ratio = (w * y).sum() / (w * x).sum()
    u = w * (y - ratio * x) / (w * x).sum()
    variance = 0.0
    for h in np.unique(w):
        part = u[w == h]
        variance += (1 - 1 / h) * part.size / (part.size - 1) * ((part - part.mean()) ** 2).sum()
    # the process's variance of the log's rate (1 / weighted negatives) plus the audit's sampling variance
    effective = 1 / ((w * x).sum() ** -1 + variance / (ratio * (1 - ratio)))
    expected = proportion.proportion_confint(ratio * effective, effective, method="wilson")
    assert row["value"] == pytest.approx(ratio, rel=1e-12)
    assert row["denominator"] == x.sum()
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(expected, rel=1e-9)
    assert result.metadata["interval_methods"]["fpr"] == "wilson-design"


def test_weighted_rates_warn_and_suppress_by_audited_rows() -> None:
    # 200 rows in group a, but only 6 audited negatives: its FPR is withheld though the group is large
    labelled = [("a", 0, 1, 30.0)] * 2 + [("a", 0, 0, 30.0)] * 4 + [("a", 1, 1, 30.0)] * 40
    labelled += [("b", 0, 1, 2.0)] * 30 + [("b", 0, 0, 2.0)] * 30 + [("b", 1, 1, 2.0)] * 30
    unlabelled = [("a", None, 1, None)] * 154 + [("b", None, 0, None)] * 110
    frame = pd.DataFrame(labelled + unlabelled, columns=["grp", "truth", "flag", "w"])
    frame["truth"] = frame["truth"].astype("Int64")
    result = audit_decisions(frame, flag="flag", truth="truth", weight="w", groups=["grp"])
    assert result.value("n", "a", attribute="grp") == 200
    fpr = result.select(metric="fpr", group="a", attribute="grp", stage="decision")[0]
    assert fpr["suppressed"]
    # the published reason does not say which rule (docs/disclosure.md); audited rows, not weights, decide:
    # a's 4 audited cleared people (weight 120) are its thinnest denominator (for, npv), so every rate of a
    # is withheld at min_cell 5 and published at 4, where the FPR rests on its 6 audited negatives
    for min_cell, withheld in ((5, True), (4, False)):
        again = audit_decisions(
            frame, flag="flag", truth="truth", weight="w", groups=["grp"], min_cell=min_cell
        )
        row = again.select(metric="fpr", group="a", attribute="grp", stage="decision")[0]
        assert row["suppressed"] is withheld
        assert withheld or row["denominator"] == 6
    fnr = result.select(metric="fnr", group="a", attribute="grp", stage="decision")[0]
    assert fnr["suppressed"]  # same confusion matrix: published, it would give the FPR back
