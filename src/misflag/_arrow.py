"""Primitive Arrow arrays read straight from their buffers, as numpy.

`pa.Array.to_numpy` and `pyarrow.compute` both import pandas (a fifth to half a second and ~100 MiB on
every CLI run), so the audits read fixed-width columns here: the data buffer as a numpy view and the
validity bitmap as a NULL mask. Each caller keeps its own policy (casts, NULL fill, float conversion).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

#: Arrow's integer and floating-point types and the numpy dtypes that read their data buffers.
NUMPY_DTYPES: dict[pa.DataType, np.dtype] = {
    kind: np.dtype(dtype)
    for kind, dtype in (
        (pa.int8(), np.int8),
        (pa.int16(), np.int16),
        (pa.int32(), np.int32),
        (pa.int64(), np.int64),
        (pa.uint8(), np.uint8),
        (pa.uint16(), np.uint16),
        (pa.uint32(), np.uint32),
        (pa.uint64(), np.uint64),
        (pa.float16(), np.float16),
        (pa.float32(), np.float32),
        (pa.float64(), np.float64),
    )
}


def buffer_values(array: pa.Array, dtype: np.dtype | type | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One fixed-width Arrow array as (values, NULL mask): the values a view of the data buffer, not a
    copy (callers must not write to it; undefined under NULL), the mask True where the array is NULL.
    `dtype` defaults to the numpy dtype of an integer or float array; give it for other fixed-width types
    (int64 for a timestamp). ValueError for a type without that dtype or of another width (booleans,
    decimals, text)."""
    numpy_dtype = NUMPY_DTYPES.get(array.type) if dtype is None else np.dtype(dtype)
    if numpy_dtype is None or _bit_width(array.type) != 8 * numpy_dtype.itemsize:
        raise ValueError(f"an Arrow {array.type} array cannot be read as {numpy_dtype or 'numpy'}")
    if not len(array):
        return np.zeros(0, dtype=numpy_dtype), np.zeros(0, dtype=bool)
    validity, data = array.buffers()[:2]
    values = np.frombuffer(
        data, dtype=numpy_dtype, count=len(array), offset=numpy_dtype.itemsize * array.offset
    )
    if validity is None or not array.null_count:
        return values, np.zeros(len(array), dtype=bool)
    bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
    return values, bits[array.offset : array.offset + len(array)] == 0


def _bit_width(kind: pa.DataType) -> int:
    """Bits per value of a fixed-width type; 0 for a type of variable width."""
    try:
        return int(kind.bit_width)
    except ValueError:
        return 0
