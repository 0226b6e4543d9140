"""misflag._arrow reads fixed-width Arrow arrays from their buffers; checked against `to_pylist`
(Arrow's own conversion to Python objects), on NULLs, slices with offsets, empty arrays and every
integer and float width."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from misflag._arrow import NUMPY_DTYPES, buffer_values

INTEGER_TYPES = [
    pa.int8(),
    pa.int16(),
    pa.int32(),
    pa.int64(),
    pa.uint8(),
    pa.uint16(),
    pa.uint32(),
    pa.uint64(),
]
FLOAT_TYPES = [pa.float16(), pa.float32(), pa.float64()]


def _python(values: np.ndarray, nulls: np.ndarray) -> list[object]:
    """The helper's output in `to_pylist`'s form: NULL as None, numbers as Python numbers."""
    return [None if null else value for value, null in zip(values.tolist(), nulls.tolist(), strict=True)]


def _sample(kind: pa.DataType) -> pa.Array:
    """Twenty values of `kind` with NULLs at irregular places, its extremes among them."""
    if pa.types.is_integer(kind):
        info = np.iinfo(NUMPY_DTYPES[kind])
        numbers: list[object] = [int(info.min), int(info.max), 0, 1, 7, int(info.max) - 3, 5, 2, 9, 11]
    else:
        floats = [-1.5, 0.25, 1024.0, -0.0, math.inf, -math.inf, 3.0, 0.5, 2.0, 8.0]
        numbers = [np.float16(v) for v in floats] if kind == pa.float16() else list(floats)
    values = (numbers * 2)[:20]
    return pa.array([None if i in (0, 3, 4, 9, 10, 17) else v for i, v in enumerate(values)], type=kind)


@pytest.mark.parametrize("kind", INTEGER_TYPES + FLOAT_TYPES, ids=str)
def test_every_width_matches_to_pylist_with_nulls_and_offsets(kind: pa.DataType) -> None:
    array = _sample(kind)
    assert array.null_count == 6
    for start, length in [(0, 20), (1, 19), (3, 9), (7, 13), (9, 2), (17, 3), (19, 1), (8, 0), (20, 0)]:
        piece = array.slice(start, length)
        values, nulls = buffer_values(piece)
        assert values.dtype == NUMPY_DTYPES[kind] and nulls.dtype == bool
        assert len(values) == len(nulls) == length
        assert _python(values, nulls) == piece.to_pylist()
        assert nulls.sum() == piece.null_count


@pytest.mark.parametrize("kind", INTEGER_TYPES + FLOAT_TYPES, ids=str)
def test_without_nulls_the_mask_is_all_false_and_the_values_a_view_of_arrows_memory(
    kind: pa.DataType,
) -> None:
    array = pa.array([1, 2, 3, 4, 5, 6, 7, 8, 9], type=kind).slice(2, 5)
    values, nulls = buffer_values(array)
    assert values.tolist() == [3, 4, 5, 6, 7] and not nulls.any()
    data = np.frombuffer(array.buffers()[1], dtype=np.uint8)
    assert np.shares_memory(values, data)  # Arrow's memory, not a copy


def test_empty_arrays_of_every_width() -> None:
    for kind in INTEGER_TYPES + FLOAT_TYPES:
        values, nulls = buffer_values(pa.array([], type=kind))
        assert values.dtype == NUMPY_DTYPES[kind] and values.shape == nulls.shape == (0,)


def test_an_all_null_array_and_a_validity_bitmap_without_nulls() -> None:
    values, nulls = buffer_values(pa.array([None] * 11, type=pa.int32()).slice(3))
    assert nulls.tolist() == [True] * 8 and len(values) == 8
    # A validity bitmap that marks every value valid (0xFF bytes) but is present: no NULL.
    bitmap = pa.py_buffer(np.full(2, 0xFF, dtype=np.uint8))
    data = pa.py_buffer(np.arange(12, dtype=np.int16))
    array = pa.Array.from_buffers(pa.int16(), 10, [bitmap, data], null_count=0, offset=2)
    values, nulls = buffer_values(array)
    assert values.tolist() == array.to_pylist() == list(range(2, 12)) and not nulls.any()


def test_a_bitmap_built_by_hand_is_read_bit_by_bit_from_the_offset() -> None:
    # Validity 0b10110101 0b00000011 (least significant bit first): values 1, 3 and 6 are NULL.
    bitmap = pa.py_buffer(np.array([0b10110101, 0b00000011], dtype=np.uint8))
    data = pa.py_buffer(np.arange(10, dtype=np.float64) * 10)
    array = pa.Array.from_buffers(pa.float64(), 9, [bitmap, data], offset=1)  # entries 1..9
    values, nulls = buffer_values(array)
    assert nulls.tolist() == [True, False, True, False, False, True, False, False, False]
    assert (
        _python(values, nulls) == array.to_pylist() == [None, 20.0, None, 40.0, 50.0, None, 70.0, 80.0, 90.0]
    )


def test_other_fixed_width_types_are_read_with_the_dtype_given() -> None:
    stamps = pa.array([0, None, 1_700_000_000_000_000, -5], type=pa.timestamp("us")).slice(1)
    values, nulls = buffer_values(stamps, np.int64)
    assert _python(values, nulls) == [None, 1_700_000_000_000_000, -5]
    dates = pa.array([0, 19_000, None], type=pa.date32())
    values, nulls = buffer_values(dates, np.int32)
    assert _python(values, nulls) == [0, 19_000, None]


@pytest.mark.parametrize(
    ("array", "dtype"),
    [
        (pa.array([True, None]), None),  # bits, not bytes
        (pa.array(["a", None]), None),
        (pa.array([1, 2], type=pa.decimal128(5, 2)), None),
        (pa.array([1, 2], type=pa.timestamp("us")), None),  # no dtype of its own
        (pa.array([1, 2], type=pa.int32()), np.int64),  # a dtype of another width
        (pa.array(["a"]), np.int64),
    ],
    ids=["bool", "string", "decimal", "timestamp", "width", "string-as-int"],
)
def test_arrays_without_a_fixed_width_numpy_reading_are_refused(array: pa.Array, dtype: type | None) -> None:
    with pytest.raises(ValueError, match="cannot be read as"):
        buffer_values(array, dtype)


def test_reading_loads_neither_pandas_nor_pyarrow_compute() -> None:
    probe = (
        "import sys, numpy as np, pyarrow as pa\n"
        "from misflag._arrow import buffer_values\n"
        "bitmap = pa.py_buffer(np.array([0b101], dtype=np.uint8))\n"
        "data = pa.py_buffer(np.arange(4, dtype=np.int64))\n"
        "array = pa.Array.from_buffers(pa.int64(), 3, [bitmap, data], offset=1)\n"
        "values, nulls = buffer_values(array)\n"
        "print(values[~nulls].tolist(), nulls.tolist())\n"
        "print(sorted(m for m in ('pandas', 'pyarrow.compute') if m in sys.modules))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.split("\n")[:2] == ["[2] [True, False, True]", "[]"]
