"""Inputs: readers with clear errors, and checks of users' SQL expressions."""

from misflag.io._csv import neutralise_csv_cell
from misflag.io._dialect import CsvDialect, sniff_csv
from misflag.io._expressions import (
    Expression,
    check_expression,
    parse_expression,
    precheck_expression,
    render_expression,
)
from misflag.io._files import read_data_file, write_atomic
from misflag.io._readers import InputInfo, check_before_engine, check_inflated_size, file_sha256, load_input
from misflag.io._suggest import close_names, did_you_mean, name_list

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
    "render_expression",
    "sniff_csv",
    "write_atomic",
]
