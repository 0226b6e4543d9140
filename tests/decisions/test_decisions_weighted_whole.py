"""Weighted mode has one target, the process's rate (as unweighted): a log audited whole at weight 1 adds no
audit-sampling variance, so its every interval (rates, ratios, differences, transitions, every group and
intersection) is the unweighted audit's, bit for bit; and no weighted design publishes a zero-width interval.

The adversary: the unweighted audit of the same rows (its Wilson and MOVER limits are checked against
statsmodels and Newcombe's examples elsewhere), and hypothesis over logs and audit-sample designs with
certainty strata, thin strata, rates of 0 and 1 and groups the sample misses.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from misflag.decisions import audit_decisions

KEY = ("attribute", "group", "stage", "metric")
PUBLISHED = ("value", "ci_low", "ci_high", "denominator")
#: Shares of a flag stratum audited: 1.0 is a certainty stratum (weight 1).
SHARES = (1.0, 0.5, 0.2, 0.1)


def _by_key(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    keyed = {tuple(r[k] for k in KEY): r for r in rows}
    assert len(keyed) == len(rows)
    return keyed


def _assert_same_intervals(
    weighted: list[dict[str, Any]], unweighted: list[dict[str, Any]], same_suppression: bool = True
) -> int:
    """Every row of one output is in the other; each published in both has the same value, limits and
    denominator (and, `same_suppression`, every row is withheld in both or neither). Returns rows compared.

    Without `same_suppression`, an attribute's ratios and differences exist only in an output that publishes
    its reference group: the only rows one output may lack are those of an attribute it has none of."""
    left, right = _by_key(weighted), _by_key(unweighted)
    if same_suppression:
        assert left.keys() == right.keys()
    for one, other in ((left, right), (right, left)):
        for key in other.keys() - one.keys():
            assert key[3].endswith(("_ratio", "_diff")), key
            assert not any(k[0] == key[0] and k[3].endswith(("_ratio", "_diff")) for k in one), key
    compared = 0
    for key, row in left.items():
        if key not in right:
            continue
        other = right[key]
        if same_suppression:
            assert row["suppressed"] == other["suppressed"], (key, row, other)
        if not (row["suppressed"] or other["suppressed"]):
            assert tuple(row[k] for k in PUBLISHED) == tuple(other[k] for k in PUBLISHED), (key, row, other)
            compared += 1
    return compared


def _assert_no_zero_width(rows: list[dict[str, Any]]) -> int:
    """Every published interval has width; returns how many intervals were checked."""
    checked = 0
    for row in rows:
        if row["value"] is None or row["ci_low"] is None:
            continue
        high = math.inf if row["ci_high"] is None else row["ci_high"]
        assert high > row["ci_low"], row
        assert row["ci_low"] - 1e-9 <= row["value"] <= high + 1e-9, row
        checked += 1
    return checked


def test_compas_audited_whole_at_weight_one_is_the_unweighted_audit(compas_csv: Path) -> None:
    """All 7,214 COMPAS rows with --weight 1, race x sex intersected, default suppression: every row equal."""
    options: dict[str, Any] = {
        "flag": "score_text in ('Medium', 'High')",
        "truth": "two_year_recid",
        "groups": ["race", "sex"],
        "intersect": True,
    }
    weighted = audit_decisions(str(compas_csv), weight="1", **options)
    unweighted = audit_decisions(str(compas_csv), **options)
    assert _assert_same_intervals(weighted.rows(), unweighted.rows()) > 300
    fpr = weighted.select(metric="fpr", group="African-American", attribute="race", stage="decision")[0]
    assert (fpr["value"], fpr["denominator"]) == (805 / 1795, 1795)  # ProPublica's FP 805, TN 990
    assert 0 < fpr["ci_high"] - fpr["ci_low"] < 0.05
    assert weighted.metadata["interval_methods"]["fpr"] == "wilson-design"
    assert _assert_no_zero_width(weighted.rows()) > 100


@st.composite
def logs(draw: st.DrawFn) -> pd.DataFrame:
    """Small two-stage logs with skewed groups: rates of 0 and 1, empty cells and tiny groups are common."""
    size = draw(st.integers(5, 150))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    groups = draw(st.integers(1, 3))
    share = rng.dirichlet(np.full(groups, 0.5))
    p_truth, p_flag_pos, p_flag_neg = (draw(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0])) for _ in range(3))
    truth = (rng.random(size) < p_truth).astype(int)
    flag = np.where(truth == 1, rng.random(size) < p_flag_pos, rng.random(size) < p_flag_neg).astype(int)
    return pd.DataFrame(
        {
            "grp": rng.choice([f"g{i}" for i in range(groups)], size=size, p=share),
            "sex": rng.choice(["f", "m"], size=size),
            "truth": pd.array(truth, dtype="Int64"),
            "flag": flag,
            "review": np.where(flag == 1, rng.random(size) < 0.7, 0).astype(int),
        }
    )


def _audit(frame: pd.DataFrame, min_cell: int, weight: str | None) -> list[dict[str, Any]]:
    return audit_decisions(
        frame,
        stages=[("flag", "flag"), ("review", "review")],
        truth="truth",
        groups=["grp", "sex"],
        intersect=True,
        weight=weight,
        min_cell=min_cell,
        replicates=100,
    ).rows()


@given(frame=logs(), min_cell=st.sampled_from([1, 3, 10]))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_log_audited_whole_at_weight_one_gives_the_unweighted_intervals(
    frame: pd.DataFrame, min_cell: int
) -> None:
    """Suppression may differ: the disclosure audit reads weighted rates as estimates, not ratios of
    counts (misflag.decisions._protect), so it may withhold less; every row both publish must agree."""
    weighted = _audit(frame.assign(w=1.0), min_cell, "w")
    _assert_same_intervals(weighted, _audit(frame, min_cell, None), same_suppression=False)
    _assert_no_zero_width(weighted)


@given(
    frame=logs(),
    shares=st.tuples(st.sampled_from(SHARES), st.sampled_from(SHARES)),
    seed=st.integers(0, 2**32 - 1),
    min_cell=st.sampled_from([1, 3]),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_no_weighted_design_publishes_a_zero_width_interval(
    frame: pd.DataFrame, shares: tuple[float, float], seed: int, min_cell: int
) -> None:
    """Stratified by the flag (flagged, cleared), each stratum audited at one of SHARES: weight = stratum
    size / sample size, truth and weight NULL outside the sample."""
    rng = np.random.default_rng(seed)
    flag = frame["flag"].to_numpy()
    audited, weight = np.zeros(len(frame), dtype=bool), np.full(len(frame), np.nan)
    for value, share in zip((1, 0), shares, strict=True):
        members = np.nonzero(flag == value)[0]
        if members.size:
            taken = max(1, round(share * members.size))
            audited[rng.choice(members, taken, replace=False)] = True
            weight[members] = members.size / taken
    sample = frame.assign(truth=frame["truth"].where(audited), w=np.where(audited, weight, np.nan))
    _assert_no_zero_width(_audit(sample, min_cell, "w"))


#: (group, sex, truth, flag, review, rows): a log hypothesis found where the weighted and unweighted audits
#: withhold different reference groups (sex's in one, each intersection's in the other).
DIFFERENT_REFERENCES = [
    ("g0", "f", 1, 1, 1, 2), ("g0", "m", 0, 1, 1, 1), ("g0", "m", 1, 1, 0, 1), ("g1", "f", 1, 1, 0, 1),
    ("g1", "m", 0, 1, 1, 1), ("g1", "m", 1, 0, 0, 1), ("g1", "m", 1, 1, 1, 1), ("g2", "f", 0, 1, 0, 1),
    ("g2", "f", 0, 1, 1, 4), ("g2", "f", 1, 0, 0, 3), ("g2", "f", 1, 1, 0, 11), ("g2", "f", 1, 1, 1, 23),
    ("g2", "m", 0, 1, 0, 3), ("g2", "m", 0, 1, 1, 3), ("g2", "m", 1, 0, 0, 2), ("g2", "m", 1, 1, 0, 12),
    ("g2", "m", 1, 1, 1, 26),
]  # fmt: skip


def test_outputs_withholding_different_references_agree_on_every_row_both_publish() -> None:
    """The log above at min_cell 3: the unweighted audit publishes sex and withholds every intersection,
    the weighted one the reverse, so each lacks the other's ratios and differences; the rows both publish
    (overall and grp, 4 + 4 + 88 people) agree, and more than the group sizes are compared."""
    rows = [(g, s, t, f, r) for g, s, t, f, r, count in DIFFERENT_REFERENCES for _ in range(count)]
    frame = pd.DataFrame(rows, columns=["grp", "sex", "truth", "flag", "review"]).astype({"truth": "Int64"})
    assert len(frame) == 96
    weighted, unweighted = _audit(frame.assign(w=1.0), 3, "w"), _audit(frame, 3, None)
    assert {k for k in _by_key(unweighted)} != {k for k in _by_key(weighted)}
    assert _assert_same_intervals(weighted, unweighted, same_suppression=False) > 20
