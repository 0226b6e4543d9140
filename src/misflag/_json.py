"""Tables as the exact text of `json.dumps(rows, indent=1)`, written column by column.

json's indenting encoder is pure Python and walks every value; the long table's `--format json` and
monitor's JSON document are written here instead with json's C string encoder, one column at a time,
byte for byte what `json.dumps(..., indent=1, default=str)` writes for the same row objects.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from json.encoder import encode_basestring_ascii  # json's C string encoder
from typing import Any


def rows_json(names: Sequence[str], columns: Sequence[list[Any]], depth: int, row_count: int) -> str:
    """Row objects (`names[i]: columns[i][row]`) as a JSON list, as json.dumps(indent=1) writes it when the
    list sits `depth` levels down (0: the document itself). `row_count` is the columns' length, given apart
    because a table without columns still has rows (each written `{}`)."""
    if not row_count:
        return "[]"
    row_indent = "\n" + " " * (depth + 1)
    end = "\n" + " " * depth + "]"
    if not names:
        return "[" + row_indent + ("," + row_indent).join(["{}"] * row_count) + end
    key_indent = row_indent + " "
    keys = [encode_basestring_ascii(name).replace("%", "%%") for name in names]
    template = "{" + key_indent + ("," + key_indent).join(f"{key}: %s" for key in keys) + row_indent + "}"
    encoded = [_encoded(values) for values in columns]
    rows = [template % row for row in zip(*encoded, strict=True)]
    return "[" + row_indent + ("," + row_indent).join(rows) + end


def _encoded(values: list[Any]) -> list[str]:
    """Each value of one column as json.dumps writes it (ensure_ascii, allow_nan, default=str)."""
    kinds = {type(value) for value in values} - {type(None)}
    if kinds <= {str}:
        return ["null" if v is None else encode_basestring_ascii(v) for v in values]
    if kinds <= {float}:  # json's C encoder writes the list (no float's text holds ", "): no Python per value
        return json.dumps(values)[1:-1].split(", ")
    if kinds <= {bool}:
        return ["null" if v is None else "true" if v else "false" for v in values]
    return [json.dumps(v, default=str) for v in values]  # another Arrow type: json's own text for it
