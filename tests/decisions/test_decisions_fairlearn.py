"""Every point metric equals Fairlearn's MetricFrame (an independent implementation) to 1e-12."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_negative_rate,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, precision_score

from misflag.decisions import audit_decisions


def _npv(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    negatives_predicted = y_pred == 0
    return float((y_true[negatives_predicted] == 0).mean()) if negatives_predicted.any() else float("nan")


def _denominator_rows(frame: pd.DataFrame, grp: str, sex: str, metric: str) -> pd.DataFrame:
    part = frame[(frame["grp"] == grp) & (frame["sex"] == sex)]
    return {
        "fpr": part[part["truth"] == 0],
        "fnr": part[part["truth"] == 1],
        "precision": part[part["flag"] == 1],
        "npv": part[part["flag"] == 0],
        "selection_rate": part,
        "accuracy": part,
    }[metric]


@st.composite
def decision_logs(draw: st.DrawFn) -> pd.DataFrame:
    size = draw(st.integers(min_value=40, max_value=400))
    seed = draw(st.integers(min_value=0, max_value=2**31 - 1))
    rng = np.random.default_rng(seed)
    groups = draw(st.integers(min_value=2, max_value=4))
    frame = pd.DataFrame(
        {
            "grp": rng.choice([f"g{i}" for i in range(groups)], size=size),
            "sex": rng.choice(["f", "m"], size=size),
            "truth": rng.integers(0, 2, size=size),
        }
    )
    frame["flag"] = np.where(rng.random(size) < 0.7, frame["truth"], 1 - frame["truth"])
    # every group needs both outcomes and both decisions for all rates to be defined in both tools
    for g in frame["grp"].unique():
        index = frame.index[frame["grp"] == g]
        if len(index) < 4:
            frame = frame[frame["grp"] != g]
            continue
        frame.loc[index[:4], ["truth", "flag"]] = [[0, 0], [0, 1], [1, 0], [1, 1]]
    return frame.reset_index(drop=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(decision_logs())
def test_point_metrics_equal_metricframe(frame: pd.DataFrame) -> None:
    result = audit_decisions(
        frame,
        flag="flag",
        truth="truth",
        groups=["grp", "sex"],
        intersect=True,
        min_cell=1,
        replicates=100,
        strict=False,
    )
    metrics = {
        "fpr": false_positive_rate,
        "fnr": false_negative_rate,
        "selection_rate": selection_rate,
        "accuracy": accuracy_score,
        "precision": lambda t, p: precision_score(t, p, zero_division=np.nan),
        "npv": _npv,
        "tnr": true_negative_rate,
    }
    frame_metrics = MetricFrame(
        metrics=metrics, y_true=frame["truth"], y_pred=frame["flag"], sensitive_features=frame[["grp", "sex"]]
    )
    for (grp, sex), expected in frame_metrics.by_group.iterrows():
        label = f"{grp} & {sex}"
        if not ((frame["grp"] == grp) & (frame["sex"] == sex)).any():  # MetricFrame lists empty combinations
            (absent,) = result.select(metric="n", group=label, attribute="grp & sex")
            assert absent["value"] == 0 and absent["warning"].startswith("absent")
            continue
        for name in ("fpr", "fnr", "selection_rate", "accuracy", "precision", "npv"):
            rows = result.select(metric=name, group=label, attribute="grp & sex", stage="decision")
            assert len(rows) == 1
            got = rows[0]["value"]
            if got is None:  # undefined: nobody in the denominator, checked directly on the rows
                assert rows[0]["denominator"] == 0
                assert len(_denominator_rows(frame, grp, sex, name)) == 0
            else:
                assert got == pytest.approx(expected[name], abs=1e-12), (label, name)
        fdr = result.select(metric="fdr", group=label, attribute="grp & sex", stage="decision")[0]["value"]
        if fdr is not None:
            assert fdr == pytest.approx(1 - expected["precision"], abs=1e-12)
    marginal = MetricFrame(
        metrics={"fpr": false_positive_rate},
        y_true=frame["truth"],
        y_pred=frame["flag"],
        sensitive_features=frame["grp"],
    )
    for grp, value in marginal.by_group["fpr"].items():
        assert result.value("fpr", str(grp), attribute="grp", stage="decision") == pytest.approx(
            value, abs=1e-12
        )
