"""Properties over random logs: no zero-width interval, the summary never fails, missing values stay apart."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from misflag.decisions import DecisionSpec, audit_decisions
from misflag.errors import InputError


@st.composite
def logs(draw: st.DrawFn) -> pd.DataFrame:
    """Small logs with skewed groups, so rates of 0 and 1, empty cells and tiny groups are common."""
    size = draw(st.integers(5, 120))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    groups = draw(st.integers(1, 4))
    share = rng.dirichlet(np.full(groups, 0.5))
    p_truth, p_flag_pos, p_flag_neg = (draw(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0])) for _ in range(3))
    truth = (rng.random(size) < p_truth).astype(int)
    flag = np.where(truth == 1, rng.random(size) < p_flag_pos, rng.random(size) < p_flag_neg).astype(int)
    review = np.where(flag == 1, rng.random(size) < 0.7, 0).astype(int)
    return pd.DataFrame(
        {
            "grp": rng.choice([f"g{i}" for i in range(groups)], size=size, p=share),
            "sex": rng.choice(["f", "m"], size=size),
            "truth": truth,
            "flag": flag,
            "review": review,
        }
    )


def _assert_no_zero_width(rows: list[dict]) -> None:
    for row in rows:
        if row["value"] is None or row["ci_low"] is None:
            continue
        high = math.inf if row["ci_high"] is None else row["ci_high"]
        assert high > row["ci_low"], row
        assert row["ci_low"] - 1e-9 <= row["value"] <= high + 1e-9, row


@given(frame=logs(), min_cell=st.sampled_from([1, 3, 10]))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_no_published_rate_or_comparison_has_a_zero_width_interval(
    frame: pd.DataFrame, min_cell: int
) -> None:
    result = audit_decisions(
        frame,
        stages=[("flag", "flag"), ("review", "review")],
        truth="truth",
        groups=["grp", "sex"],
        intersect=True,
        min_cell=min_cell,
        replicates=100,
    )
    rows = result.rows()
    _assert_no_zero_width(rows)
    if len(frame) >= min_cell:
        assert result.value("n", "all", attribute="overall") == len(frame)
    assert isinstance(result.summary, str)  # the summary never divides by zero


@given(frame=logs(), reference=st.sampled_from([None, "g0", "g1"]))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_summary_fuzz(frame: pd.DataFrame, reference: str | None) -> None:
    if reference is not None and reference not in set(frame["grp"]):
        reference = None
    try:
        result = audit_decisions(
            frame, flag="flag", truth="truth", groups=["grp"], reference=reference, min_cell=1, replicates=100
        )
    except InputError as error:  # only a reference that the data leave undefined may be refused
        assert "reference" in str(error)
        return
    assert (
        result.summary.startswith(f"{len(frame):,} people audited") or "people audited" not in result.summary
    )


def test_summary_when_the_least_affected_group_has_rate_zero() -> None:
    # the crash of issue 12: FNR is 0 for the group the flag always catches
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"race": rng.choice(["Black", "White"], 400), "truth": rng.integers(0, 2, 400)})
    frame["score"] = (rng.random(400) < 0.5).astype(int)
    result = audit_decisions(
        frame, flag="CASE WHEN race = 'Black' THEN 1 ELSE score END", truth="truth", groups=["race"]
    )
    assert result.value("fnr", "Black", attribute="race", stage="decision") == 0.0
    assert "of White (race) were missed vs 0.0% of Black (difference" in result.summary


def test_missing_group_values_never_merge_with_a_real_value() -> None:
    frame = pa.table(
        {
            "grp": ["(missing)"] * 12 + [None] * 12 + ["NA"] * 12 + ["x"] * 12,
            "truth": [0, 1] * 24,
            "flag": [0, 0, 1, 1] * 12,
        }
    )
    result = audit_decisions(frame, flag="flag", truth="truth", groups=["grp"], min_cell=1)
    sizes = {r["group"]: r["value"] for r in result.select(metric="n", attribute="grp")}
    assert sizes == {"(missing)": 12, None: 12, "NA": 12, "x": 12}
    assert result.metadata["missing_group_label"] == "((missing))"
    assert json.loads(result.to_json())[0]["group"] == "all"
    assert any(r["group"] is None for r in json.loads(result.to_json()))
    read_as_missing = audit_decisions(
        frame, flag="flag", truth="truth", groups=["grp"], min_cell=1, missing_values=["NA"]
    )
    sizes = {r["group"]: r["value"] for r in read_as_missing.select(metric="n", attribute="grp")}
    assert sizes == {"(missing)": 12, None: 24, "x": 12}


def test_missing_values_are_labelled_inside_intersections() -> None:
    frame = pa.table({"a": ["p", None] * 20, "b": ["u"] * 40, "truth": [0, 1] * 20, "flag": [1] * 40})
    result = audit_decisions(frame, flag="flag", truth="truth", groups=["a", "b"], intersect=True, min_cell=1)
    labels = {r["group"] for r in result.select(metric="n", attribute="a & b")}
    assert labels == {"p & u", "(missing) & u"}


BAD_SETTINGS = {
    "replicates as text": ({"replicates": "x"}, "'replicates' must be a whole number"),
    "fractional seed": ({"seed": 1.5}, "'seed' must be a whole number"),
    "numeric groups": ({"groups": [1, 2]}, "'groups' must be a list of SQL expressions"),
    "overflowing number": ({"target_fpr": 1e400}, "'target_fpr' must be a finite number"),
    "negative seed": ({"seed": -1}, "^seed must be a whole number from 0"),
    "boolean min_cell": ({"min_cell": True}, "'min_cell' must be a whole number"),
    "stage not a pair": ({"flag": None, "stages": [[1, 2]]}, "a stage is a [name, expression] pair"),
    "huge replicates": ({"replicates": 10**12}, "^replicates must be from 100"),
}


@pytest.mark.parametrize("case", sorted(BAD_SETTINGS))
def test_settings_of_the_wrong_type_are_one_line_input_errors(case: str) -> None:
    extra, expected = BAD_SETTINGS[case]
    data = {"truth": "truth", "flag": "flag", **extra}
    with pytest.raises(InputError, match=expected.replace("[", r"\[").replace("]", r"\]")) as caught:
        DecisionSpec.from_dict(json.loads(json.dumps(data).replace("Infinity", "1e400")))
    assert "\n" not in str(caught.value)


def test_settings_must_be_an_object() -> None:
    with pytest.raises(InputError, match="must be a JSON object"):
        DecisionSpec.from_dict([1, 2])  # type: ignore[arg-type]
