"""Scores whose span a double cannot bin: near +-1e308 the span overflows (a ZeroDivisionError traceback
before), and subnormal scores make the scale overflow (a DuckDB binder error about a column "inf" before).
Both stop with one line that names the span as given; rescaled scores audit normally."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from misflag.biometrics import audit_biometrics
from misflag.errors import InputError


def _log(scores: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"score": scores, "genuine": np.arange(scores.size) % 2})


@pytest.mark.parametrize("distance", [False, True])
def test_a_span_that_overflows_is_one_line(distance: bool) -> None:
    scores = np.array([-1.7e308, 1.7e308, 0.0, 1.0, 2.0, 3.0])
    with pytest.raises(
        InputError, match=r"^score runs from -1\.7e\+308 to 1\.7e\+308, a span a double cannot bin"
    ):
        audit_biometrics(_log(scores), score="score", genuine="genuine", threshold=1.0, distance=distance)


def test_subnormal_scores_are_one_line() -> None:
    scores = np.array([0.0, 5e-324, 1e-323, 1.5e-323, 2e-323, 2.5e-323])
    with pytest.raises(InputError, match=r"^score runs from 0\.0 to 2\.5e-323, a span a double cannot bin"):
        audit_biometrics(_log(scores), score="score", genuine="genuine", threshold=1e-323)


def test_the_same_scores_rescaled_audit_with_hand_counted_rates() -> None:
    # scores 0..5 (the subnormal ones times 2e323): impostors 0, 2, 4 and genuines 1, 3, 5; at t = 2
    # FMR = |{2, 4}| / 3 and FNMR = |{1}| / 3
    result = audit_biometrics(
        _log(np.arange(6.0)), score="score", genuine="genuine", threshold=2.0, min_cell=1
    )  # min_cell 1: 6 comparisons would be withheld whole
    assert result.value("fmr", "all", stage="score>=2.0") == 2 / 3
    assert result.value("fnmr", "all", stage="score>=2.0") == 1 / 3
