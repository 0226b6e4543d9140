"""One-to-many search logs by group of the searched person (A) and of the returned candidate (B): each cell's
FPIR over the non-mated searches of A whose top candidate is of B, counted by numpy from the rows, with the
Wilson interval of statsmodels; searches returning no candidate in B's `(missing)` column and in no pairing."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from misflag.biometrics import audit_biometrics
from misflag.cli import main


def _search_log(seed: int) -> pd.DataFrame:
    """4,000 searches of 3 groups; a non-mated search's top candidate is of the searched person's group 60%
    of the time and then scores 0.5 higher; 10% of non-mated searches return no candidate."""
    rng = np.random.default_rng(seed)
    size = 4000
    mated = rng.random(size) < 0.4
    probe = rng.choice(["east", "north", "west"], size)
    candidate = np.where(rng.random(size) < 0.6, probe, rng.choice(["east", "north", "west"], size))
    score = np.where(mated, rng.normal(3, 1, size), rng.normal(0, 1, size) + 0.5 * (probe == candidate))
    none = ~mated & (rng.random(size) < 0.1)
    return pd.DataFrame(
        {
            "top": np.where(none, np.nan, score),
            "mated": mated.astype(int),
            "probe_region": probe,
            "candidate_region": pd.Series(candidate, dtype=object).where(~none, None),
        }
    )


def test_cross_group_fpir_of_a_search_log_is_counted_from_the_rows() -> None:
    log = _search_log(5)
    result = audit_biometrics(
        log,
        score="top",
        genuine="mated",
        group_a="probe_region",
        group_b="candidate_region",
        threshold=1.5,
        target_fmr=0.05,
        search=True,
    )
    non_mated = log[log["mated"] == 0]
    stages = [p["stage"] for p in result.metadata["operating_points"]]
    found = result.metadata["operating_points"][1]["order_statistic"]
    assert stages == ["score>=1.5", f"score>{found!r}"]
    # the found threshold allows at most 5% of all non-mated searches (NULL scores never match)
    assert (non_mated["top"] > found).sum() <= 0.05 * len(non_mated) < (non_mated["top"] >= found).sum()
    attribute = "probe_region × candidate_region"
    candidate = non_mated["candidate_region"].fillna("(missing)")
    cells = 0
    for stage, hits in zip(stages, (non_mated["top"] >= 1.5, non_mated["top"] > found), strict=True):
        for (a, b), rows in non_mated.groupby([non_mated["probe_region"], candidate]):
            errors, size = int(hits[rows.index].sum()), len(rows)
            row = result.select(attribute=attribute, group=f"{a} × {b}", stage=stage, metric="fpir")[0]
            assert row["denominator"] == size
            assert row["value"] == pytest.approx(errors / size, rel=1e-12)
            if b == "(missing)":  # no candidate returned: never a false positive, so no interval
                assert errors == 0 and row["value"] == 0 and rows["top"].isna().all()
                assert (row["ci_low"], row["ci_high"]) == (None, None)
                assert row["warning"] is not None and "0 by construction" in row["warning"]
            else:
                low, high = proportion_confint(errors, size, alpha=0.05, method="wilson")
                assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), rel=1e-9, abs=1e-12)
            cells += 1
        same = non_mated["probe_region"] == non_mated["candidate_region"]
        known = non_mated["candidate_region"].notna()
        for name, members in (("same group", same & known), ("different group", ~same & known)):
            row = result.select(attribute="impostor pairing", group=name, stage=stage, metric="fpir")[0]
            assert row["denominator"] == members.sum()
            assert row["value"] == pytest.approx(hits[members].sum() / members.sum(), rel=1e-12)
        missing = result.select(attribute="impostor pairing", group="(missing)", stage=stage, metric="fpir")
        assert missing[0]["denominator"] == (~known).sum() and missing[0]["value"] == 0
        assert (missing[0]["ci_low"], missing[0]["ci_high"]) == (None, None)
    assert cells == 2 * 12  # 3 probe regions x (3 candidate regions + no candidate), at two thresholds
    # the cells of a searched group partition its non-mated searches
    overall = result.select(attribute="overall", metric="nonmated_n")[0]["value"]
    assert sum(r["value"] for r in result.select(attribute=attribute, metric="nonmated_n")) == overall
    # same-group candidates score 0.5 higher, and the matrix shows it on its diagonal
    pairing = {
        r["group"]: r for r in result.select(attribute="impostor pairing", stage="score>=1.5", metric="fpir")
    }
    assert pairing["same group"]["ci_low"] > pairing["different group"]["ci_high"]


def test_cross_group_search_log_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "searches.parquet"
    _search_log(6).to_parquet(path)
    base = ["biometrics", "audit", str(path), "--score", "top", "--mated", "mated", "--threshold", "1.5"]
    code = main(
        [*base, "--search", "--group-a", "probe_region", "--group-b", "candidate_region", "--format", "csv"]
    )
    out = capsys.readouterr().out
    assert code == 0
    frame = pd.read_csv(io.StringIO(out))
    cells = frame[(frame["attribute"] == "probe_region × candidate_region") & (frame["metric"] == "fpir")]
    assert len(cells) == 12 and cells["value"].notna().all()
    no_candidate = cells["group"].str.endswith("× (missing)")
    assert no_candidate.sum() == 3 and (cells.loc[no_candidate, "value"] == 0).all()
    assert (
        cells.loc[no_candidate, ["ci_low", "ci_high"]].isna().all().all()
    )  # null limits, not [0, 3.84/(n+3.84)]
    assert cells.loc[~no_candidate, ["ci_low", "ci_high"]].notna().all().all()
    assert cells.loc[no_candidate, "warning"].str.contains("0 by construction").all()
    assert set(frame.loc[frame["attribute"] == "impostor pairing", "group"]) == {
        "same group",
        "different group",
        "(missing)",
    }
    assert {"eer", "fpir", "fnir"} <= set(frame["metric"])
    assert (
        main(
            [
                *base,
                "--search",
                "--group-a",
                "probe_region",
                "--group-b",
                "candidate_region",
                "--format",
                "json",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    empty = [r for r in rows if r["metric"] == "fpir" and r["group"].endswith("(missing)")]
    assert len(empty) == 4 and all(
        r["ci_low"] is None and r["ci_high"] is None for r in empty
    )  # 3 cells, 1 pairing


def test_a_scored_search_without_a_candidate_group_keeps_its_interval() -> None:
    """A candidate whose group is unknown (a score, NULL group B) can be a false positive: its cell is an
    estimate and keeps statsmodels' Wilson interval; the scoreless cell of the other group has none."""
    log = pd.DataFrame(
        {
            "top": [2.0, 0.5, 1.0] + [np.nan] * 4 + [3.0] * 4,
            "mated": [0] * 7 + [1] * 4,
            "probe_region": ["east"] * 3 + ["west"] * 4 + ["east", "east", "west", "west"],
            "candidate_region": [None, None, None, None, None, None, None, "east", "east", "west", "west"],
        }
    )
    result = audit_biometrics(
        log,
        score="top",
        genuine="mated",
        group_a="probe_region",
        group_b="candidate_region",
        threshold=1.5,
        search=True,
        min_cell=1,
    )
    attribute = "probe_region × candidate_region"
    east = result.select(attribute=attribute, group="east × (missing)", metric="fpir")[0]
    low, high = proportion_confint(1, 3, alpha=0.05, method="wilson")  # one of three scores >= 1.5
    assert east["value"] == pytest.approx(1 / 3, rel=1e-12)
    assert (east["ci_low"], east["ci_high"]) == pytest.approx((low, high), rel=1e-9)
    west = result.select(attribute=attribute, group="west × (missing)", metric="fpir")[0]
    assert (west["value"], west["ci_low"], west["ci_high"], west["denominator"]) == (0.0, None, None, 4.0)
    pairing = result.select(attribute="impostor pairing", group="(missing)", metric="fpir")[0]
    assert pairing["value"] == pytest.approx(1 / 7, rel=1e-12) and pairing["ci_low"] is not None


def _one_group_scoreless() -> pd.DataFrame:
    """Groups A, B, C, 40 non-mated and 40 mated searches each; no non-mated search of A returned a candidate."""
    rng = np.random.default_rng(0)
    parts = []
    for name in ("A", "B", "C"):
        nonmated = np.full(40, np.nan) if name == "A" else rng.normal(0, 1, 40)
        parts.append(
            pd.DataFrame(
                {
                    "top": np.r_[nonmated, rng.normal(3, 1, 40)],
                    "mated": np.r_[np.zeros(40, int), np.ones(40, int)],
                    "grp": name,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize("reference", ["B", "A"])
def test_a_scoreless_group_is_no_data_in_comparisons_and_summaries(reference: str) -> None:
    """A's FPIR is 0 by construction, not an estimate: its ratio and difference to the reference (and every
    group's, when A is the reference) carry no value and no interval, and the between-group summaries run
    over B and C only, equal to an audit of B and C alone (before, A fed Wilson limits [0, 0.088] into them)."""
    log = _one_group_scoreless()
    options = {"score": "top", "genuine": "mated", "group": "grp", "threshold": 1.0, "search": True}
    result = audit_biometrics(log, reference=reference, **options)
    for metric in ("fpir_ratio", "fpir_diff"):
        for row in result.select(metric=metric):
            if reference == "A" or row["group"] == "A":
                assert (row["value"], row["ci_low"], row["ci_high"]) == (None, None, None)
                assert "no data" in row["warning"]
            else:
                assert row["value"] is not None and row["ci_low"] is not None
    fnir_ratios = result.select(metric="fnir_ratio")
    assert all(r["value"] is not None for r in fnir_ratios)  # FNIR of A is an estimate: kept
    without_a = audit_biometrics(log[log["grp"] != "A"], reference="B", **options)
    for metric in ("fpir_gini", "fpir_max_min_ratio", "fnir_gini", "fdr"):
        (got,) = result.select(metric=metric)
        (alone,) = without_a.select(metric=metric)
        assert "over 2 groups (B, C)" in got["warning"] and "A left out" in got["warning"]
        assert (got["value"], got["ci_low"], got["ci_high"]) == (
            alone["value"],
            alone["ci_low"],
            alone["ci_high"],
        )


def test_the_default_reference_is_not_a_scoreless_group() -> None:
    """Every group has 40 non-mated searches; the first (A) would be the default reference, but its FPIR is
    no estimate, so B (the next with most) is chosen and A's FPIR ratio alone has no data."""
    log = _one_group_scoreless()
    result = audit_biometrics(log, score="top", genuine="mated", group="grp", threshold=1.0, search=True)
    ratios = {r["group"]: r for r in result.select(metric="fpir_ratio")}
    assert all(r["warning"].startswith("vs B") for r in ratios.values())
    assert ratios["A"]["value"] is None and ratios["B"]["value"] == 1.0 and ratios["C"]["value"] is not None
