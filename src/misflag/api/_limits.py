"""Limits checked before a file is read: rows and uncompressed size of Parquet, from its metadata.

A Parquet file's footer declares its row count, every column's type and the encoded size of every
column chunk, so a small file that would expand to millions of rows or gigabytes (a "Parquet bomb":
constant columns compress to nothing under dictionary and run-length encoding) is refused without
decoding a page. The decoded size is estimated as rows x width for fixed-width types and, for text,
the larger of the encoded size and rows x the longest of the chunk's min/max statistics. A footer can
lie; the engine's memory limit and the job time limit are the backstop.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from misflag.errors import InputError

#: Columns an upload may have (a very wide file is refused before its schema is read into DuckDB).
MAX_COLUMNS = 2000
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
    declared = sum(
        _decoded_bytes(meta, group, column)
        for group in range(meta.num_row_groups)
        for column in range(meta.row_group(group).num_columns)
    )
    if declared > max_bytes:
        raise InputError(
            f"'{name}' expands to {declared:,} bytes uncompressed; the limit is {max_bytes:,} bytes"
        )


def _decoded_bytes(meta: pq.FileMetaData, group: int, column: int) -> int:
    """An estimate of one column chunk's size once decoded (see the module's note)."""
    chunk = meta.row_group(group).column(column)
    rows = meta.row_group(group).num_rows
    width = _WIDTHS.get(chunk.physical_type)
    if chunk.physical_type == "FIXED_LEN_BYTE_ARRAY":
        width = meta.schema.column(column).length
    if width is not None:
        return rows * int(width)
    longest = 0
    statistics = chunk.statistics if chunk.is_stats_set else None
    if statistics is not None and statistics.has_min_max:
        longest = max(len(str(statistics.min)), len(str(statistics.max)))
    return max(int(chunk.total_uncompressed_size), rows * longest)


def check_rows(rows: int, name: str, max_rows: int) -> None:
    """InputError when a file has more rows than the service audits."""
    if rows > max_rows:
        raise InputError(f"'{name}' has {rows:,} rows; this service audits at most {max_rows:,} rows a file")
