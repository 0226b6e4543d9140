"""Data values as terminal text: shown as written, never run as markup or as terminal control.

A group called `[/x]` is a rich closing tag, and a value holding ESC sequences moves the cursor, clears
the screen or writes the clipboard (OSC 52) of whoever reads the audit. Every value printed to a terminal
goes through `printable` (control characters, ESC, bidi overrides and lone surrogates become visible
placeholders) and is handed to rich as a `Text` (`plain`), which rich never parses as markup or emoji.
Files written with `--format csv/json` or `--save` keep the exact data; only terminals get placeholders.

A value echoed in a one-line message goes through `shown`: repr-quoted, printable, and cut to a stated
length with its full length named (`'aaaa...' (12,345 characters)`), so a pasted 2,000-character
expression or a 1,999-digit number is named by its start, never repeated whole.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rich is imported where a value is drawn: CSV and JSON into a pipe never load it
    from rich.text import Text

#: How many characters of a value a message shows before cutting it short.
SHOWN_LENGTH = 40
#: How much of a file path or URL a message shows: enough for an absolute path's folder and name, so two
#: files of one name in two folders are told apart.
PATH_SHOWN = 120

#: C0 controls (ESC included), DEL, C1 controls (CSI 0x9b, OSC 0x9d), line and paragraph separators,
#: bidi embeddings, overrides, isolates and marks, and lone surrogates (which no terminal can encode).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
#: The same, with the line feed allowed: for CSV and JSON written to a terminal, one record a line.
_UNSAFE_BUT_NEWLINE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _placeholder(found: re.Match[str]) -> str:
    """A visible stand-in: the Unicode control picture of a C0 control or DEL (`␛` for ESC), else `\\uXXXX`."""
    code = ord(found.group())
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(value: object, *, keep_newlines: bool = False) -> str:
    """`value` as text that cannot drive a terminal: every unsafe character replaced by a visible placeholder.

    With `keep_newlines` the line feed stays (CSV or JSON, one record a line); a carriage return never
    does, since it lets a value overwrite what was printed before it on its line.
    """
    pattern = _UNSAFE_BUT_NEWLINE if keep_newlines else _UNSAFE
    return pattern.sub(_placeholder, str(value))


def plain(value: object, style: str = "") -> Text:
    """A data value for rich: printable text, never parsed as markup (`[/x]`) or emoji (`:x:`)."""
    from rich.text import Text

    return Text(printable(value), style=style)


def clipped(text: str, limit: int = SHOWN_LENGTH) -> str:
    """`text` whole when it has at most `limit` characters, else its first `limit`, `...` and its length."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def shown(value: object, limit: int = SHOWN_LENGTH) -> str:
    """A user's value as a one-line message shows it: repr-quoted, printable, and cut to its first `limit`
    characters with its full length named when longer: `'aaaa...' (12,345 characters)`.

    Text and bytes are cut before quoting (the quotes stay whole, the length counts the value's own
    characters or bytes); any other value is cut on its repr. Escapes can make the shown part longer than
    `limit` (ESC is `'\\x1b'`), never unbounded. A message that is a `MisflagError` wraps the result in
    `misflag.errors.literal`, so a `{name}` inside the value is not read as a parameter.
    """
    if isinstance(value, str):
        text = (
            repr(value) if len(value) <= limit else f"{value[:limit] + '...'!r} ({len(value):,} characters)"
        )
    elif isinstance(value, bytes):
        text = repr(value) if len(value) <= limit else f"{value[:limit] + b'...'!r} ({len(value):,} bytes)"
    elif isinstance(value, int):
        try:
            text = clipped(repr(value), limit)
        except ValueError:  # past Python's limit on writing an int (4,300 digits unless set otherwise)
            text = _huge_whole_number(value, limit)
    else:
        text = clipped(repr(value), limit)
    return printable(text)


def shown_path(path: object) -> str:
    """A file path as a message names it: `shown`, cut past PATH_SHOWN characters (enough for an
    absolute path's folder and name) rather than SHOWN_LENGTH."""
    return shown(str(path), PATH_SHOWN)


def _huge_whole_number(value: int, limit: int) -> str:
    """A whole number too long for `repr`: its first `limit` digits and its exact length, from arithmetic."""
    size = abs(value)
    digits = int(math.log10(size)) + 1  # a float estimate, corrected exactly below
    while 10 ** (digits - 1) > size:
        digits -= 1
    while 10**digits <= size:
        digits += 1
    sign = "-" if value < 0 else ""
    leading = size // 10 ** (digits - (limit - len(sign)))  # the sign counts, as it does in a repr
    return f"{sign}{leading}... ({digits + len(sign):,} characters)"


#: A password in a URL's query string (`?password=...`, `&sslpassword=...`: psycopg and libpq take them
#: as they take `user:PASSWORD@`).
_QUERY_PASSWORD = re.compile(r"([?&](?:ssl)?password=)[^&#\s]*", re.IGNORECASE)
#: The password before the host (`scheme://user:PASSWORD@host`), up to the last `@` before the query: an
#: `@` typed unencoded in it hides the rest of it too.
_USER_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^?#\s]*@")


def hide_query_password(url: str) -> str:
    """`url` with the value of every password in its query string written `***` (for messages and
    recorded command lines; SQLAlchemy's `hide_password` hides only the one before the host)."""
    return _QUERY_PASSWORD.sub(r"\1***", url)


def hide_passwords(url: str) -> str:
    """`url` (or text meant as one, which no parser accepted) with its password before the host and
    those in its query string written `***`."""
    return hide_query_password(_USER_PASSWORD.sub(r"\1***@", url, count=1))
