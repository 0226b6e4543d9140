"""CSV cells that a spreadsheet will not run: every CSV misflag writes goes through here.

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel, LibreOffice and
Google Sheets as a formula (OWASP "CSV injection"). Such text cells get a leading apostrophe, which the
spreadsheets show as text and hide. Numbers are written as numbers: only strings are touched.
"""

from __future__ import annotations

from typing import Any

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_csv_cell(value: Any) -> Any:
    """The value to write in a CSV cell: strings that a spreadsheet would run as a formula get a `'`."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
