"""What a DuckDB error says to a user: its first line, cut to a readable length, and a read error of an
input file explained (not UTF-8, not CSV-shaped, not Parquet) in terms of the file as the user named it."""

from __future__ import annotations

import codecs
from pathlib import Path

from misflag.errors import literal

#: Longest engine message shown to a user (a value echoed in an error can be huge).
MESSAGE_LENGTH = 300


def first_line(error: BaseException) -> str:
    """The error's first line (a `{name}` in it kept as written), cut at MESSAGE_LENGTH."""
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    return literal(line if len(line) <= MESSAGE_LENGTH else line[: MESSAGE_LENGTH - 3] + "...")


def describe_read_error(path: Path, file_format: str, error: BaseException) -> str:
    """One line saying why DuckDB could not read the CSV or Parquet file at `path`."""
    message = str(error)
    named = literal(str(path))  # a `{name}` in the path is shown as written
    lowered = message.lower()
    not_utf8 = f"{named} is not valid UTF-8 text; re-encode it as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
    if file_format == "csv" and "error when sniffing" in lowered:  # its hints name encodings: not the cause
        if not starts_as_utf8(path):
            return not_utf8
        return (
            f"cannot read {named} as CSV: its delimiter, quoting and columns cannot be worked out from its "
            "first rows (is it a CSV file, with the same number of fields on every line?)"
        )
    if "unicode" in lowered or "utf-8" in lowered or "utf8" in lowered:
        return not_utf8
    if file_format == "parquet":
        return f"{named} is not a readable Parquet file: {first_line(error)}"
    return f"cannot read {named} as CSV: {first_line(error)}"


def starts_as_utf8(path: Path, size: int = 1 << 16) -> bool:
    """Whether the first `size` bytes of an uncompressed file decode as UTF-8 (a compressed one: assumed)."""
    if path.suffix.lower() in {".gz", ".zst", ".zstd", ".bz2", ".xz"}:
        return True
    try:
        with path.open("rb") as handle:
            codecs.getincrementaldecoder("utf-8")().decode(handle.read(size), final=False)
    except (OSError, UnicodeDecodeError):
        return False
    return True
