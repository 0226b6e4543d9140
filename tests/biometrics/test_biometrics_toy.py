"""Hand-counted toys: every expected figure below is counted by hand from the table in conftest.

Group A: genuine 0.9, 0.8, 0.3; impostor 0.2, 0.7, 0.1.  Group B: genuine 0.95, 0.4; impostor 0.6, 0.5, 0.85, 0.35.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from misflag.biometrics import BiometricSpec, audit_biometrics
from misflag.errors import InputError
from misflag.stats import ratio_interval, wilson_interval


def test_rates_at_a_given_threshold_match_hand_counts(toy: pd.DataFrame) -> None:
    result = audit_biometrics(toy, score="score", genuine="genuine", group="grp", threshold=0.5, min_cell=1)
    stage = "score>=0.5"
    # A: impostors >= 0.5: {0.7} of 3; genuines < 0.5: {0.3} of 3.  B: {0.6, 0.5, 0.85} of 4; {0.4} of 2.
    assert result.value("fmr", "A", stage=stage) == 1 / 3
    assert result.value("fmr", "B", stage=stage) == 3 / 4
    assert result.value("fnmr", "A", stage=stage) == 1 / 3
    assert result.value("fnmr", "B", stage=stage) == 1 / 2
    assert result.value("fmr", "all", stage=stage) == 4 / 7
    assert result.value("fnmr", "all", stage=stage) == 2 / 5
    row = result.select(metric="fmr", group="A", stage=stage)[0]
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(wilson_interval(1, 3))
    assert row["denominator"] == 3
    ratio = result.select(metric="fmr_ratio", group="A", stage=stage)[0]  # reference: B, most impostor pairs
    assert ratio["value"] == pytest.approx((1 / 3) / (3 / 4))
    assert (ratio["ci_low"], ratio["ci_high"]) == pytest.approx(ratio_interval(1, 3, 3, 4))
    assert ratio["warning"].startswith("vs B")
    assert result.value("impostor_n", "B") == 4 and result.value("genuine_n", "B") == 2


def test_target_fmr_threshold_is_the_order_statistic_by_hand(toy: pd.DataFrame) -> None:
    # 7 impostor scores, highest first: 0.85, 0.7, 0.6, 0.5, 0.35, 0.2, 0.1. Target 0.3: k = floor(2.1) = 2
    # false matches allowed, so the threshold sits just above the 3rd highest, 0.6: FMR = 2/7.
    result = audit_biometrics(toy, score="score", genuine="genuine", group="grp", target_fmr=0.3, min_cell=1)
    point = result.metadata["operating_points"][0]
    assert point["order_statistic"] == 0.6
    assert point["threshold"] == np.nextafter(0.6, 1.0)
    stage = point["stage"]
    assert result.value("fmr", "all", stage=stage) == 2 / 7
    assert result.value("fmr", "A", stage=stage) == 1 / 3  # 0.7
    assert result.value("fmr", "B", stage=stage) == 1 / 4  # 0.85
    assert result.value("fnmr", "A", stage=stage) == 1 / 3  # 0.3 < T
    assert result.value("fnmr", "B", stage=stage) == 1 / 2  # 0.4 < T
    assert "over all impostor pairs" in point["method"]


def test_reference_group_threshold_by_hand(toy: pd.DataFrame) -> None:
    # NIST's reference-group method: the threshold is set on group A's impostors only: 0.7, 0.2, 0.1.
    # Target 0.34: k = floor(1.02) = 1, so just above the 2nd highest, 0.2. A's FMR 1/3; every one of
    # B's impostors (0.6, 0.5, 0.85, 0.35) is above 0.2, so B's FMR is 4/4.
    result = audit_biometrics(
        toy, score="score", genuine="genuine", group="grp", target_fmr=0.34, threshold_group="A", min_cell=1
    )
    point = result.metadata["operating_points"][0]
    assert point["order_statistic"] == 0.2
    assert "grp = A" in point["method"]
    stage = point["stage"]
    assert result.value("fmr", "A", stage=stage) == 1 / 3
    assert result.value("fmr", "B", stage=stage) == 1.0
    assert result.value("fnmr", "A", stage=stage) == 0.0
    assert result.value("fmr_ratio", "B", stage=stage) == 3.0  # the threshold group is the reference
    zero = result.select(metric="fnmr", group="A", stage=stage)[0]
    assert zero["ci_low"] == 0 and zero["ci_high"] > 0  # never zero-width


def test_distance_scores_match_with_lower_is_better(toy: pd.DataFrame) -> None:
    flipped = toy.assign(distance=1 - toy["score"])
    result = audit_biometrics(
        flipped, score="distance", genuine="genuine", group="grp", threshold=0.5, distance=True, min_cell=1
    )
    stage = "score<=0.5"
    assert result.value("fmr", "B", stage=stage) == 3 / 4  # distances 0.4, 0.5, 0.15 <= 0.5
    assert result.value("fnmr", "B", stage=stage) == 1 / 2  # distance 0.6 > 0.5
    assert "distance <= threshold" in result.metadata["convention"]
    # Target 0.3 over distances 0.15, 0.3, 0.4, 0.5, 0.65, 0.8, 0.9: k = 2, so the threshold sits just below
    # the 3rd smallest distance, 1 - 0.6, and matches the two closer impostor pairs.
    target = audit_biometrics(
        flipped, score="distance", genuine="genuine", group="grp", target_fmr=0.3, distance=True, min_cell=1
    )
    point = target.metadata["operating_points"][0]
    assert point["order_statistic"] == 1 - 0.6
    assert point["threshold"] == np.nextafter(1 - 0.6, 0.0)
    assert target.value("fmr", "all", stage=point["stage"]) == 2 / 7
    assert point["stage"] == point["rule"] == "score<0.4"  # strict: the order statistic itself, exactly


def test_cross_group_impostor_matrix_by_hand() -> None:
    frame = pd.DataFrame(
        {
            "score": [0.9, 0.1, 0.8, 0.7, 0.2, 0.6, 0.3, 0.95],
            "genuine": [0, 0, 0, 0, 0, 0, 1, 1],
            "a_region": ["E", "E", "E", "W", "W", "W", "E", "W"],
            "b_region": ["E", "E", "W", "W", "E", "E", "E", "W"],
        }
    )
    result = audit_biometrics(
        frame,
        score="score",
        genuine="genuine",
        group_a="a_region",
        group_b="b_region",
        threshold=0.5,
        min_cell=1,
    )
    stage = "score>=0.5"
    attribute = "a_region × b_region"
    assert result.value("fmr", "E × E", attribute=attribute, stage=stage) == 1 / 2  # 0.9, 0.1
    assert result.value("fmr", "E × W", attribute=attribute, stage=stage) == 1.0  # 0.8
    assert result.value("fmr", "W × W", attribute=attribute, stage=stage) == 1.0  # 0.7
    assert result.value("fmr", "W × E", attribute=attribute, stage=stage) == 1 / 2  # 0.2, 0.6
    assert result.value("fmr", "same group", attribute="impostor pairing", stage=stage) == 2 / 3
    assert result.value("fmr", "different group", attribute="impostor pairing", stage=stage) == 2 / 3


def test_search_log_fpir_and_fnir_by_hand() -> None:
    # Non-mated searches return their best candidate's score (NULL: no candidate); mated ones the mate's.
    log = pd.DataFrame(
        {
            "top": [0.9, None, 0.4, 0.7, 0.8, None, 0.3, 0.95],
            "mated": [0, 0, 0, 0, 1, 1, 1, 1],
            "grp": ["F", "F", "M", "M", "F", "F", "M", "M"],
        }
    )
    result = audit_biometrics(
        log, score="top", genuine="mated", group="grp", threshold=0.5, search=True, min_cell=1
    )
    stage = "score>=0.5"
    assert result.value("fpir", "F", stage=stage) == 1 / 2  # 0.9; NULL returns no candidate
    assert result.value("fpir", "M", stage=stage) == 1 / 2  # 0.7
    assert result.value("fnir", "F", stage=stage) == 1 / 2  # mate not returned
    assert result.value("fnir", "M", stage=stage) == 1 / 2  # 0.3
    assert result.value("nonmated_n", "F") == 2
    # Target FPIR 0.25 over the 4 non-mated searches: k = 1, so just above the 2nd highest top score, 0.7;
    # the search with no candidate never counts as a false positive.
    target = audit_biometrics(
        log, score="top", genuine="mated", group="grp", target_fmr=0.25, search=True, min_cell=1
    )
    point = target.metadata["operating_points"][0]
    assert point["order_statistic"] == 0.7
    assert target.value("fpir", "all", stage=point["stage"]) == 1 / 4
    assert target.value("fnir", "all", stage=point["stage"]) == 2 / 4  # 0.3 below T; one mate not returned


def test_small_groups_are_suppressed_with_a_complement(toy: pd.DataFrame) -> None:
    extra = pd.DataFrame({"score": [0.5, 0.6, 0.7], "genuine": [0, 0, 1], "grp": ["C"] * 3})
    frame = pd.concat([toy, extra, toy.assign(grp="D"), toy.assign(grp="D")], ignore_index=True)
    result = audit_biometrics(frame, score="score", genuine="genuine", group="grp", threshold=0.5, min_cell=5)
    whole = {r["group"] for r in result.select(attribute="grp", metric="n") if r["suppressed"]}
    # C (3 comparisons) is under 5; A or B (6 each) is withheld too, else C = overall - A - B - D.
    assert "C" in whole and len(whole & {"A", "B"}) == 1 and "D" not in whole
    # A (3 impostor, 3 genuine pairs) and B (4, 2): rates over fewer than 5 pairs are withheld, n is kept
    thin = {r["group"] for r in result.select(attribute="grp", metric="fmr") if r["suppressed"]}
    assert thin == {"A", "B", "C"}
    for row in result.select(attribute="grp"):
        if row["group"] in whole or (row["group"] in thin and row["metric"] != "n"):
            assert row["suppressed"] and row["value"] is None


def test_settings_round_trip() -> None:
    spec = BiometricSpec(
        score="s", genuine="g", group="grp", target_fmrs=(0.001, 0.0001), threshold_group="A"
    )
    assert BiometricSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(InputError, match="unknown"):
        BiometricSpec.from_dict({**spec.to_dict(), "colour": "red"})


@pytest.mark.parametrize(
    ("frame", "options", "message"),
    [
        (pd.DataFrame({"score": [0.1, 0.9], "genuine": [1, 1], "grp": ["A", "A"]}), {}, "no impostor pairs"),
        (
            pd.DataFrame({"score": [0.1, 0.9, 0.5], "genuine": [0, 1, 1], "grp": ["A", "A", "B"]}),
            {"group": "grp"},
            "group 'B' of grp has no impostor pairs",
        ),
        (pd.DataFrame({"score": ["x", "0.9"], "genuine": [0, 1]}), {}, "not a number"),
        (pd.DataFrame({"score": [0.1, 0.9], "genuine": [0, 2]}), {}, "0/1"),
        (pd.DataFrame({"score": [0.1, 0.9], "genuine": ["no", "yes"]}), {}, "0/1"),
        (
            pd.DataFrame({"score": [0.1, 0.9], "genuine": [0, 1], "grp": ["A", "A"]}),
            {"group": "grp", "threshold_group": "Z", "target_fmr": 0.1, "threshold": ()},
            "threshold_group 'Z' is not a group",
        ),
        (pd.DataFrame({"score": [0.1, None], "genuine": [0, 1]}), {}, "NULL in 1 row"),
        (pa.table({"score": pa.array([0.1, math.nan], from_pandas=False), "genuine": [0, 1]}), {}, "NaN"),
    ],
)
def test_bad_input_is_one_clear_error(
    frame: pd.DataFrame | pa.Table, options: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {"score": "score", "genuine": "genuine", "threshold": 0.5, **options}
    with pytest.raises(InputError, match=message):
        audit_biometrics(frame, **arguments)  # type: ignore[arg-type]


def test_found_threshold_prints_as_the_rule_applies_it_on_tied_integer_distances() -> None:
    """Integer distances with ties: the rule reads `score<86.0`, and applying it as printed meets the target.

    Distances 80..99, each tied 5 times (100 impostor pairs); target FMR 0.3 allows 30 false matches. The
    pairs at distances 80..85 are 30, the 31st-35th closest sit at 86, so the threshold must let 80..85
    through and stop 86: `distance < 86`. Rounding the old display (85.99999999999999 as `<=`) to
    `distance <= 86` would let 35 through and exceed the target.
    """
    distances = np.repeat(np.arange(80, 100), 5)
    frame = pd.DataFrame(
        {
            "d": np.concatenate([distances, [10, 20]]),
            "genuine": np.concatenate([np.zeros(100, int), [1, 1]]),
            "grp": "G",
        }
    )
    result = audit_biometrics(
        frame, score="d", genuine="genuine", group="grp", target_fmr=0.3, distance=True, min_cell=1
    )
    point = result.metadata["operating_points"][0]
    assert point["stage"] == "score<86.0"
    assert point["order_statistic"] == 86
    printed = float(point["stage"].removeprefix("score<"))
    assert int((distances < printed).sum()) == 30 <= 0.3 * 100
    assert int((distances <= round(point["threshold"])).sum()) == 35  # the rounded neighbour exceeds it
    assert result.value("fmr", "all", stage=point["stage"]) == 30 / 100
    assert "score<86.0" in result.summary
