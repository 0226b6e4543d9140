"""`result.arrow_array` builds text, float and bool columns from their buffers; each must equal what
pyarrow's own converter (`pa.array`) builds from the same Python values, ASCII or not."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from misflag.result import arrow_array

TEXTS = [
    [],
    [None],
    [""],
    ["ratio", None, "", "vs g0"],
    ["é", None, "日本", "x\x00y", "\U0001f600", "plain"],  # multi-byte: offsets are byte counts
    ["ascii", "é"],
]


@pytest.mark.parametrize("values", TEXTS)
def test_text_column_equals_pyarrows_own(values: list[str | None]) -> None:
    built = arrow_array(values, pa.string())
    built.validate(full=True)
    assert built.equals(pa.array(values, pa.string()))
    assert built.to_pylist() == values


def test_a_long_mixed_text_column_equals_pyarrows_own() -> None:
    choices = ["g1", "ratio", None, "é", "", "denominator under 30: interval is wide " * 3, "日本"]
    rng = random.Random(7)
    values = [rng.choice(choices) for _ in range(20_000)]
    built = arrow_array(values, pa.string())
    built.validate(full=True)
    assert built.equals(pa.array(values, pa.string()))


def test_a_lone_surrogate_is_refused_as_by_pyarrow() -> None:
    with pytest.raises(UnicodeEncodeError):
        pa.array(["ok", "\ud800"], pa.string())
    with pytest.raises(UnicodeEncodeError):
        arrow_array(["ok", "\ud800"], pa.string())


@pytest.mark.parametrize(
    ("values", "kind"),
    [([1.5, None, 0, -0.0, 2], pa.float64()), ([True, None, False], pa.bool_()), ([], pa.float64())],
)
def test_numbers_and_flags_equal_pyarrows_own(values: list[object], kind: pa.DataType) -> None:
    assert arrow_array(values, kind).equals(pa.array(values, kind))


def test_nonfinite_floats_stay_nan_unless_asked() -> None:
    """Other callers (monitor, curves) keep NaN as a value; the long table's rule makes it null."""
    values = [1.0, float("nan"), float("inf"), None, -float("inf")]
    kept, theirs = arrow_array(values, pa.float64()), pa.array(values, pa.float64())
    assert [repr(v) for v in kept.to_pylist()] == [repr(v) for v in theirs.to_pylist()]  # NaN != NaN
    assert kept.buffers()[0].to_pybytes() == theirs.buffers()[0].to_pybytes()
    nulled = arrow_array(values, pa.float64(), nonfinite_as_null=True)
    nulled.validate(full=True)
    assert nulled.equals(pa.array([1.0, None, None, None, None], pa.float64()))
    # the data under each null is 0.0, as for a None: the Arrow buffers match pyarrow's own for None
    expected = pa.array([1.0, 0.0, 0.0, 0.0, 0.0], pa.float64())
    assert nulled.buffers()[1].to_pybytes() == expected.buffers()[1].to_pybytes()
