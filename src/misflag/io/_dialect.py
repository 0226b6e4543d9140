"""One CSV dialect sniffer for every reader: delimiter, decimal comma and encoding, and a sentence saying
what was detected.

A CSV saved by a spreadsheet in much of Europe is `;`-separated with decimal commas ("0,75"), often in
Windows-1252 (read by `io._encoding`'s one rule). The decision audit, the monitor, the biometric audit,
the linkage audit (through `load_input`) and the inventory reader all ask this module, so one file is
read alike everywhere. The delimiter is found by the standard library's `csv.reader` over the first
64 KiB: of `,` `;` tab `|`, the one that splits every sampled row into as many fields as the header
(most fields wins, `,` on a tie); a decimal comma is assumed only when the delimiter is not `,` and
some field of the sample is a number written with one.
"""

from __future__ import annotations

import csv
import gzip
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from misflag.errors import InputError
from misflag.io._encoding import HEAD_BYTES, check_text_start, mixed_encodings, undefined_byte

#: Bytes read to sniff: enough for a header and hundreds of rows, little for a large file.
SAMPLE_BYTES = HEAD_BYTES
#: Lines of the sample that decide the delimiter (the header and the first rows).
SAMPLE_LINES = 100
DELIMITERS = ",;\t|"
_DECIMAL_COMMA = re.compile(r"^\s*-?\d+,\d+\s*$")
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV file is written: its delimiter, decimal mark and text encoding."""

    delimiter: str = ","
    decimal: str = "."
    encoding: str = "utf-8"

    def describe(self) -> str:
        """'semicolon-separated, decimal comma, cp1252': what a reader was told to expect."""
        parts = [f"{_NAMES.get(self.delimiter, repr(self.delimiter))}-separated"]
        if self.decimal == ",":
            parts.append("decimal comma")
        parts.append(self.encoding)
        return ", ".join(parts)

    def is_default(self) -> bool:
        return self == CsvDialect()


def _sample(path: Path) -> bytes:
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rb") as handle:
                return handle.read(SAMPLE_BYTES)
        with path.open("rb") as handle:
            return handle.read(SAMPLE_BYTES)
    except (OSError, EOFError, zlib.error):
        raise InputError(f"cannot read {path}: not a readable file") from None


def _decode(sample: bytes, path: Path) -> tuple[str, str]:
    """The sample's text and encoding by `io._encoding`'s rule (a multi-byte character cut at the end of
    the sample is allowed); the whole file's encoding is settled by `file_encoding` when it is read."""
    check_text_start(sample, path)
    sample = sample.removeprefix(b"\xef\xbb\xbf")
    try:
        return sample.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as error:
        if error.start >= len(sample) - 3 and error.reason == "unexpected end of data":
            return sample[: error.start].decode("utf-8"), "utf-8"
        if not sample[: error.start].isascii():
            raise mixed_encodings(path, error.start) from None
    try:
        return sample.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as error:
        raise undefined_byte(path, error, 0) from None


def _delimiter(lines: list[str]) -> str:
    """The candidate that splits the header into most fields and every sampled row into as many.

    `csv.reader` (linear time) parses the sample once per candidate; `csv.Sniffer` is not used, since its
    quote-guessing regular expression takes a minute on 64 KiB of `";"` (a hostile upload).
    """
    best, best_score = ",", (0, 0)
    for candidate in DELIMITERS:
        try:
            rows = [len(row) for row in csv.reader(lines, delimiter=candidate) if row]
        except csv.Error:
            continue
        if not rows or rows[0] < 2:
            continue
        score = (sum(count == rows[0] for count in rows), rows[0])
        if score > best_score:
            best, best_score = candidate, score
    return best


def sniff_csv(path: str | Path) -> CsvDialect:
    """The dialect of a CSV (or .csv.gz) file, from its first 64 KiB."""
    source = Path(path)
    text, encoding = _decode(_sample(source), source)
    lines = text.splitlines()
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line of the sample may be cut
    delimiter = _delimiter(lines[:SAMPLE_LINES])
    decimal = "."
    if delimiter != ",":
        rows = csv.reader(lines[1:SAMPLE_LINES], delimiter=delimiter)
        if any(_DECIMAL_COMMA.match(field) for row in rows for field in row):
            decimal = ","
    return CsvDialect(delimiter, decimal, encoding)


def duckdb_csv_options(dialect: CsvDialect) -> dict[str, object]:
    """DuckDB `read_csv` options for a dialect (none for plain comma CSV: DuckDB's own sniffing).

    The engine reads UTF-8; a Windows-1252 file is given to it as a UTF-8 copy (`io._encoding.utf8_copy`).
    """
    options: dict[str, object] = {}
    if dialect.delimiter != ",":
        options["delim"] = dialect.delimiter
    if dialect.decimal == ",":
        options["decimal_separator"] = ","
    return options
