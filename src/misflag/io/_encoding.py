"""One text-encoding rule for every CSV reader (decisions, monitor, biometrics, linkage and inventory).

A file is read as UTF-8 (a byte-order mark is dropped) when all of it is UTF-8; otherwise as Windows-1252
(cp1252, the encoding spreadsheets and the 2024 federal AI inventory use on Windows, and a superset of
Latin-1's printable characters) when every byte of it has a meaning there. Refused, in one line naming what
was found and how to convert it: UTF-16 or UTF-32 (by their byte-order marks, or UTF-16 without one), a
file that mixes UTF-8 with another encoding (non-ASCII UTF-8 before its first invalid byte), and bytes that
Windows-1252 leaves undefined. The engines read UTF-8 only, so a Windows-1252 file is transcoded once into
a temporary UTF-8 copy (at most `TRANSCODE_LIMIT_BYTES`), read and deleted.
"""

from __future__ import annotations

import codecs
import gzip
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from misflag.errors import InputError

#: Largest UTF-8 copy made of a Windows-1252 file (each of its bytes is 1 to 3 bytes of UTF-8).
TRANSCODE_LIMIT_BYTES = 2 << 30
_BLOCK = 1 << 20
#: The start of a file checked for UTF-16/UTF-32 (the CSV sniffer's sample, so both decide alike).
HEAD_BYTES = 1 << 16
_WIDE_MARKS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
               (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))  # fmt: skip


def _convert_hint(path: Path, source: str) -> str:
    return f"save it as UTF-8 CSV (e.g. iconv -f {source} -t UTF-8 '{path.name}' > utf8.csv)"


def _open(path: Path) -> BinaryIO:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def check_text_start(head: bytes, path: Path) -> None:
    """InputError for a file that starts as UTF-16/UTF-32 text: its byte-order mark, or (without one) a
    NUL in nine of ten odd or even bytes of `head`, as ASCII text in UTF-16 has. A NUL byte here and there
    is data (a value with a control character, shown as its placeholder)."""
    for mark, name in _WIDE_MARKS:
        if head.startswith(mark):
            raise InputError(f"{path} is {name} text (by its byte-order mark); {_convert_hint(path, name)}")
    halves = (head[0::2], head[1::2])
    if len(head) >= 8 and any(half.count(0) >= 0.9 * len(half) for half in halves):
        raise InputError(
            f"{path} looks like UTF-16 text without a byte-order mark (every other byte is NUL); "
            + _convert_hint(path, "UTF-16")
        )


def undefined_byte(path: Path, error: UnicodeDecodeError, offset: int) -> InputError:
    """The refusal of a byte Windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D)."""
    byte = error.object[error.start]
    return InputError(
        f"{path} is neither UTF-8 nor Windows-1252 text (byte 0x{byte:02X} at offset {offset + error.start:,} "
        "means nothing in either); save it as UTF-8 CSV"
    )


def mixed_encodings(path: Path, offset: int) -> InputError:
    """The refusal of a file with non-ASCII UTF-8 before a byte that is not UTF-8."""
    return InputError(
        f"{path} mixes UTF-8 with another encoding (its first byte that is not UTF-8 is at offset "
        f"{offset:,}); save all of it as UTF-8 CSV"
    )


def file_encoding(path: Path) -> str:
    """'utf-8' or 'cp1252' for the whole file, by the module's rule; InputError for a refused file."""
    try:
        with _open(path) as handle:
            block = handle.read(_BLOCK)
            check_text_start(block[:HEAD_BYTES], path)
            decoder, offset, non_ascii = codecs.getincrementaldecoder("utf-8")(), 0, False
            while block:
                try:
                    decoder.decode(block, final=False)
                except UnicodeDecodeError as error:
                    if non_ascii or not block[: error.start].isascii():
                        raise mixed_encodings(path, offset + error.start) from None
                    break
                non_ascii = non_ascii or not block.isascii()
                offset += len(block)
                block = handle.read(_BLOCK)
            else:
                decoder.decode(b"", final=True)  # a cut character at the very end is not UTF-8 either
                return "utf-8"
    except (OSError, EOFError, zlib.error):
        raise InputError(f"cannot read {path}: not a readable file") from None
    except UnicodeDecodeError:
        pass  # ends inside a multi-byte character: checked as Windows-1252 below
    _copy_cp1252(path, None)
    return "cp1252"


def _copy_cp1252(path: Path, target: BinaryIO | None) -> None:
    """Decode the whole file as Windows-1252 (strictly), writing it as UTF-8 to `target` if given."""
    decoder, offset, written = codecs.getincrementaldecoder("cp1252")(), 0, 0
    try:
        with _open(path) as handle:
            while block := handle.read(_BLOCK):
                try:
                    text = decoder.decode(block)
                except UnicodeDecodeError as error:
                    raise undefined_byte(path, error, offset) from None
                offset += len(block)
                if target is not None:
                    data = text.encode("utf-8")
                    written += len(data)
                    if written > TRANSCODE_LIMIT_BYTES:
                        raise InputError(
                            f"{path} is Windows-1252 text over {TRANSCODE_LIMIT_BYTES:,} bytes as UTF-8; "
                            + _convert_hint(path, "CP1252")
                        )
                    target.write(data)
    except (EOFError, zlib.error):
        raise InputError(f"cannot read {path}: not a readable file") from None
    except OSError as error:
        raise InputError(f"cannot make a UTF-8 copy of {path}: {error.strerror or error}") from None


@contextmanager
def utf8_copy(path: Path) -> Iterator[Path]:
    """A temporary UTF-8 copy of a Windows-1252 file, deleted on leaving the block."""
    folder = Path(tempfile.mkdtemp(prefix="misflag-utf8-"))
    try:
        copy = folder / "input.csv"
        with copy.open("wb") as target:
            _copy_cp1252(path, target)
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def decode_file(data: bytes, path: Path) -> tuple[str, str]:
    """A whole file's text (held in memory by the caller) and its encoding, by the same rule."""
    encoding = file_encoding(path)
    return data.decode(encoding).removeprefix("\ufeff"), encoding
