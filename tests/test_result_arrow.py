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
