"""Inputs: readers with clear errors, and checks of users' SQL expressions."""

from misflag.io._expressions import check_expression
from misflag.io._files import read_data_file
from misflag.io._readers import InputInfo, file_sha256, load_input

__all__ = ["InputInfo", "check_expression", "file_sha256", "load_input", "read_data_file"]
