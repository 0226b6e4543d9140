"""CSV cells that a spreadsheet will not run: every CSV misflag writes goes through here.

A text cell is read by Excel, LibreOffice and Google Sheets as a formula (OWASP "CSV injection") when it
starts with `=`, `+`, `-` or `@`, also after leading spaces and in the fullwidth or small forms that NFKC
folds to them (`＝ ＋ － ＠`), or with a tab, carriage return or line feed. Such text cells get a leading
apostrophe, which the spreadsheets show as text and hide. Numbers are written as numbers: only strings are
touched, so a negative number in a numeric column stays a number (the text "-3" gets the apostrophe).
"""

from __future__ import annotations

import unicodedata
from typing import Any

_FORMULA_STARTS = frozenset("=+-@")
_CONTROL_STARTS = ("\t", "\r", "\n")


def _runs_as_formula(text: str) -> bool:
    if text.startswith(_CONTROL_STARTS):
        return True
    shown = text.lstrip()  # a spreadsheet skips leading spaces before `=`
    return bool(shown) and unicodedata.normalize("NFKC", shown[0])[:1] in _FORMULA_STARTS


def neutralise_csv_cell(value: Any) -> Any:
    """The value to write in a CSV cell: strings that a spreadsheet would run as a formula get a `'`."""
    if isinstance(value, str) and _runs_as_formula(value):
        return "'" + value
    return value
