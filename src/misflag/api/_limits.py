"""Limits checked before a file is read: rows and uncompressed size of Parquet, from its metadata.

A Parquet file's footer declares its row count, every column's type and the encoded size of every
column chunk, so a small file that would expand to millions of rows or gigabytes (a "Parquet bomb":
constant columns compress to nothing under dictionary and run-length encoding) is refused without
decoding a page. The decoded size is estimated as rows x width for fixed-width types and, for text,
the larger of the encoded size and rows x the longest value. The longest value comes from the chunk's
min/max statistics or, for a chunk written without them, from its dictionary (read alone: the values
are not expanded); text under prefix (DELTA_BYTE_ARRAY) encoding without statistics cannot be bounded
and is refused. A file of more than `MAX_ROW_GROUPS` row groups is refused before they are walked.
A footer can still lie; the checks run in a bounded process (`_sandbox`), which is the backstop.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from misflag.errors import InputError

#: Columns an upload may have (a very wide file is refused before its schema is read into DuckDB).
MAX_COLUMNS = 2000
#: Row groups an upload may have (each costs footer parsing and a seek; real files have a few hundred).
MAX_ROW_GROUPS = 10_000
_WIDTHS = {"BOOLEAN": 1, "INT32": 4, "INT64": 8, "INT96": 12, "FLOAT": 4, "DOUBLE": 8}


def check_parquet(path: Path, name: str, *, max_rows: int, max_bytes: int) -> None:
    """InputError when the Parquet file at `path` declares more rows, columns or bytes than allowed."""
    try:
        meta = pq.read_metadata(path)
    except (pa.ArrowException, OSError, ValueError):
        raise InputError(f"'{name}' is not a readable Parquet file (its footer cannot be read)") from None
    check_rows(meta.num_rows, name, max_rows)
    if meta.num_columns > MAX_COLUMNS:
        raise InputError(f"'{name}' has {meta.num_columns:,} columns; the limit is {MAX_COLUMNS:,}")
    if meta.num_row_groups > MAX_ROW_GROUPS:
        raise InputError(
            f"'{name}' has {meta.num_row_groups:,} row groups; the limit is {MAX_ROW_GROUPS:,} "
            "(write it with larger row groups)"
        )
    declared = 0
    for group in range(meta.num_row_groups):
        for column in range(meta.row_group(group).num_columns):
            declared += _decoded_bytes(path, name, meta, group, column)
            if declared > max_bytes:
                raise InputError(
                    f"'{name}' expands to more than {max_bytes:,} bytes uncompressed; the limit is {max_bytes:,} bytes"
                )


def _decoded_bytes(path: Path, name: str, meta: pq.FileMetaData, group: int, column: int) -> int:
    """An estimate of one column chunk's size once decoded (see the module's note)."""
    chunk = meta.row_group(group).column(column)
    rows = meta.row_group(group).num_rows
    width = _WIDTHS.get(chunk.physical_type)
    if chunk.physical_type == "FIXED_LEN_BYTE_ARRAY":
        width = meta.schema.column(column).length
    if width is not None:
        return rows * int(width)
    statistics = chunk.statistics if chunk.is_stats_set else None
    if statistics is not None and statistics.has_min_max:
        longest = max(len(str(statistics.min)), len(str(statistics.max)))
    elif "DELTA_BYTE_ARRAY" in chunk.encodings or "." in chunk.path_in_schema:
        raise InputError(
            f"'{name}' has a text column ({chunk.path_in_schema[:60]}) whose decoded size cannot be "
            "bounded from its metadata; write the file with column statistics"
        )
    elif chunk.has_dictionary_page:
        longest = _longest_dictionary_value(path, group, chunk.path_in_schema)
    else:
        longest = 0  # plain-encoded text: its encoded size already counts every byte
    return max(int(chunk.total_uncompressed_size), rows * longest)


def _longest_dictionary_value(path: Path, group: int, column: str) -> int:
    """Bytes of the longest value in a chunk's dictionary (read as a dictionary: nothing is expanded)."""
    read = pq.ParquetFile(path, read_dictionary=[column]).read_row_group(group, columns=[column])
    longest = 0
    for piece in read.column(0).chunks:
        values = piece.dictionary if isinstance(piece, pa.DictionaryArray) else piece
        if len(values):
            longest = max(longest, int(pc.max(pc.binary_length(values)).as_py() or 0))
    return longest


def check_rows(rows: int, name: str, max_rows: int) -> None:
    """InputError when a file has more rows than the service audits."""
    if rows > max_rows:
        raise InputError(f"'{name}' has {rows:,} rows; this service audits at most {max_rows:,} rows a file")
