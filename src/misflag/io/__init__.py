"""Inputs: readers with clear errors, and checks of users' SQL expressions.

sqlglot is imported only when an expression needs parsing (`_plain_names` answers bare column names):
`Expression`, `parse_expression` and `render_expression` are loaded on first use.
"""

from typing import TYPE_CHECKING, Any

from misflag.io._csv import neutralise_csv_cell
from misflag.io._dialect import CsvDialect, sniff_csv
from misflag.io._files import read_data_file, read_regular_file, write_atomic
from misflag.io._plain_names import check_expression, precheck_expression
from misflag.io._readers import InputInfo, check_before_engine, check_inflated_size, file_sha256, load_input
from misflag.io._suggest import close_names, did_you_mean, name_list

if TYPE_CHECKING:
    from misflag.io._expressions import Expression, parse_expression, render_expression

__all__ = [
    "CsvDialect",
    "Expression",
    "InputInfo",
    "check_before_engine",
    "check_expression",
    "check_inflated_size",
    "close_names",
    "did_you_mean",
    "file_sha256",
    "load_input",
    "name_list",
    "neutralise_csv_cell",
    "parse_expression",
    "precheck_expression",
    "read_data_file",
    "read_regular_file",
    "render_expression",
    "sniff_csv",
    "write_atomic",
]

_PARSED = {"Expression", "parse_expression", "render_expression"}


def __getattr__(name: str) -> Any:
    """The sqlglot-backed names, imported on first use."""
    if name in _PARSED:
        from misflag.io import _expressions

        return getattr(_expressions, name)
    raise AttributeError(f"module 'misflag.io' has no attribute {name!r}")
