"""The long table's columns: their names and kinds, its Arrow schema, and row dicts turned into checked
columns or Arrow arrays.

`misflag.result` builds on this and re-exports its public names (`COLUMNS`, `schema`, `rows_to_table`,
`arrow_array`); it is a module of its own so that the result class and the column conversions each read
on their own. pyarrow and numpy are imported inside the functions that need them: a command printing
JSON, CSV or the terminal view never loads pyarrow.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Iterable, Mapping
from functools import cache
from math import isfinite
from typing import TYPE_CHECKING, Any

from misflag.errors import InputError

if TYPE_CHECKING:
    import pyarrow as pa

COLUMNS: tuple[str, ...] = (
    "attribute",
    "group",
    "stage",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "denominator",
    "suppressed",
    "warning",
)

#: Each column's Python values: text, numbers (as floats) or booleans; None is missing in every column.
_KINDS: dict[str, str] = {
    "attribute": "string",
    "group": "string",
    "stage": "string",
    "metric": "string",
    "value": "float64",
    "ci_low": "float64",
    "ci_high": "float64",
    "denominator": "float64",
    "suppressed": "bool",
    "warning": "string",
}

_COLUMN_SET = frozenset(COLUMNS)


@cache
def schema() -> pa.Schema:
    """The long table's Arrow schema (pyarrow is imported here, on first use)."""
    import pyarrow as pa

    return pa.schema(
        [(name, getattr(pa, "bool_" if kind == "bool" else kind)()) for name, kind in _KINDS.items()]
    )


def rows_to_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Build the Arrow long table from row dicts, checking every column is present."""
    materialised = checked_rows(rows)
    return arrow_table({name: [row[name] for row in materialised] for name in COLUMNS})


def checked_rows(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows as a list, each with every column (InputError naming the missing ones)."""
    materialised = rows if isinstance(rows, list) else list(rows)
    for row in materialised:
        if not row.keys() >= _COLUMN_SET:
            missing = [name for name in COLUMNS if name not in row]
            raise InputError(f"result row lacks column(s) {', '.join(missing)}")
    return materialised


def arrow_table(columns: Mapping[str, list[Any]]) -> pa.Table:
    """The Arrow long table of the columns' values (NaN and infinities as null)."""
    import pyarrow as pa

    arrays = [arrow_array(columns[field.name], field.type, nonfinite_as_null=True) for field in schema()]
    return pa.Table.from_arrays(arrays, schema=schema())


def plain_columns(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]] | None:
    """The long table's columns as the Arrow table built from the rows reads back: text as given,
    numbers as floats with NaN and infinities as None, booleans as given; None where a value is of
    another type (a numpy scalar, a wrong type) or text Arrow cannot encode, which only Arrow converts
    or refuses. InputError, as `rows_to_table`, for a row without every column."""
    materialised = rows if isinstance(rows, list) else list(rows)
    try:  # the rows turned into columns by C loops (itemgetter, zip, map), not a Python loop per value
        transposed = list(zip(*map(_ROW_VALUES, materialised), strict=True)) or [()] * len(COLUMNS)
    except (KeyError, TypeError):
        checked_rows(materialised)  # names the missing columns
        raise
    columns: dict[str, list[Any]] = {}
    for (name, kind), column in zip(_KINDS.items(), transposed, strict=True):
        values = list(column)
        kinds = set(map(type, values)) - {type(None)}
        if kind == "float64":
            if not kinds <= {float, int}:
                return None
            if int in kinds:
                values = [None if v is None else float(v) for v in values]
            # a NaN or an infinity makes the sum one (so may a sum past the float range: cleaned alike)
            if not isfinite(sum(filter(_NOT_NONE, values))):
                values = [v if v is None or isfinite(v) else None for v in values]
        elif not kinds <= ({str} if kind == "string" else {bool}):
            return None
        if kind == "string" and not _encodable(values):
            return None
        columns[name] = values
    return columns


#: A row's values in column order, and "is not None" as a C-level test.
_ROW_VALUES = operator.itemgetter(*_KINDS)
_NOT_NONE = functools.partial(operator.is_not, None)


def _encodable(texts: list[str | None]) -> bool:
    """Whether every text encodes as UTF-8 (a lone surrogate does not: Arrow refuses it)."""
    try:  # the texts joined by C loops (None and "" add nothing), not a generator step per value
        "".join(filter(None, texts)).encode()
    except UnicodeEncodeError:
        return False
    return True


def cleaned(values: list[Any]) -> list[Any]:
    """A column's values with NaN and infinities as None (one pass, no call per value)."""
    return [None if isinstance(v, float) and not math.isfinite(v) else v for v in values]


#: The Python types each Arrow column type is built from directly by `arrow_array`.
_PLAIN: dict[str, tuple[type, ...]] = {"string": (str,), "double": (float, int), "bool": (bool,)}


def arrow_array(values: list[Any], kind: pa.DataType, *, nonfinite_as_null: bool = False) -> pa.Array:
    """One string, float64 or bool column from plain Python values (None is null), from its buffers.

    `pa.array` on Python objects imports pandas to look for pandas types (a quarter to half a second of
    every CLI run); these three column types are built directly. Anything else, such as a
    numpy scalar or a wrong type, goes through `pa.array`, which converts or refuses it as before.
    `nonfinite_as_null`: float NaN and infinities are null too (the long table's rule), found by numpy
    over the built column rather than by Python value by value.
    """
    import numpy as np
    import pyarrow as pa

    if not {type(v) for v in values} <= {type(None), *_PLAIN[str(kind)]}:
        return pa.array(cleaned(values) if nonfinite_as_null else values, kind)
    valid = np.array([v is not None for v in values], dtype=bool)
    numbers = None
    if kind == pa.float64():
        numbers = np.array([0.0 if v is None else v for v in values], dtype=np.float64)
        finite = np.isfinite(numbers)
        if nonfinite_as_null and not finite.all():  # as None: null, 0.0 in the data buffer
            valid &= finite
            numbers[~finite] = 0.0
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    if kind == pa.string():
        texts = [v or "" for v in values]
        joined = "".join(texts)
        if joined.isascii():  # one byte a character: encoded once, the offsets are the texts' lengths
            data, lengths = joined.encode(), np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        else:
            encoded = [text.encode() for text in texts]
            data = b"".join(encoded)
            lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        offsets = np.zeros(len(values) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        if offsets[-1] < 2**31:
            buffers = [bitmap, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)]
        else:
            return pa.array(values, kind)
    elif kind == pa.bool_():
        buffers = [
            bitmap,
            pa.py_buffer(np.packbits(np.array([bool(v) for v in values], dtype=bool), bitorder="little")),
        ]
    else:
        buffers = [bitmap, pa.py_buffer(numbers)]
    return pa.Array.from_buffers(kind, len(values), buffers, null_count=len(values) - int(valid.sum()))
