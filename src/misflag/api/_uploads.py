"""Receive an upload straight into the data directory, check it, and describe it (columns, masked preview).

The multipart body is parsed as it streams in (python-multipart's low-level parser), so a file is never
spooled to the system's temporary folder and the size limit stops a large upload early. Every upload
lives in `DATA_DIR/uploads/<32 hex>/` (0700, files 0600), named by the server: a user's file name never
becomes a path. The service keeps a bounded number and total size of uploads. The server itself only
looks at an upload's first bytes; reading it (Parquet footer checks, rows, columns, preview) happens in
a process under the OS limits of `_sandbox`, with the row and decompressed-size limits applied while
reading.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from misflag.api._limits import check_parquet, check_rows
from misflag.api._preview import classify, preview
from misflag.api._sandbox import Sandbox
from misflag.api._settings import ServeSettings
from misflag.api._storage import open_private, private_dir, write_private
from misflag.engine import DuckDBEngine
from misflag.errors import InputError
from misflag.io import load_input
from misflag.io._encoding import check_text_start

CONTENT_TYPES: dict[str, frozenset[str]] = {
    ".csv": frozenset({"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel", "application/octet-stream"}),
    ".parquet": frozenset({"application/octet-stream", "application/vnd.apache.parquet", "application/x-parquet", "application/parquet"}),
}  # fmt: skip
ID_PATTERN = re.compile(r"[0-9a-f]{32}")  # used with fullmatch: "$" would let a trailing newline through
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
_SNIFF_BYTES = 64 * 1024


class UploadTooLarge(InputError):
    """The upload is over the service's size limit (HTTP 413)."""


class UploadsFull(InputError):
    """The service already keeps as many uploads (or bytes of them) as it may (HTTP 429)."""


class FormTokenMissing(InputError):
    """A page's form came without its anti-forgery token (HTTP 403)."""


#: The form field carrying the page's anti-forgery token; it must precede the file in the form.
TOKEN_FIELD = "csrf_token"


@dataclass
class UploadRecord:
    """What the pages know about an upload; stored as meta.json beside the file."""

    upload_id: str
    filename: str
    size: int
    rows: int
    sha256: str
    columns: list[dict[str, Any]]
    preview: list[list[str]]
    created: float = field(default_factory=time.time)


def uploads_dir(settings: ServeSettings) -> Path:
    """The folder holding every upload."""
    return settings.data_dir / "uploads"


def upload_folder(settings: ServeSettings, upload_id: str) -> Path:
    """The folder of one upload; the id must be 32 lowercase hex characters (nothing else reaches a path)."""
    if not ID_PATTERN.fullmatch(upload_id):
        raise KeyError(upload_id)
    return uploads_dir(settings) / upload_id


def load_record(settings: ServeSettings, upload_id: str) -> UploadRecord:
    """An upload's record; KeyError when there is no such upload."""
    meta = upload_folder(settings, upload_id) / "meta.json"
    if not meta.is_file():
        raise KeyError(upload_id)
    return UploadRecord(**json.loads(meta.read_text(encoding="utf-8")))


def input_path(settings: ServeSettings, record: UploadRecord) -> Path:
    """The stored file of an upload."""
    return upload_folder(settings, record.upload_id) / f"input{Path(record.filename).suffix.lower()}"


class _FilePart:
    """Multipart callbacks: write the first part that carries a file name into `target`, up to `limit`."""

    def __init__(self, target: Path, limit: int, token_check: Callable[[str], bool] | None = None) -> None:
        self.target, self.limit, self.token_check = target, limit, token_check
        self._token = b""
        self._in_token = False
        self.filename: str | None = None
        self.content_type = ""
        self.size = 0
        self._headers: dict[str, bytes] = {}
        self._field = b""
        self._value = b""
        self._handle: BinaryIO | None = None
        self._active = False

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda data, start, end: self._add("_field", data[start:end]),
            "on_header_value": lambda data, start, end: self._add("_value", data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._end,
        }

    def token_ok(self) -> bool:
        """Whether the anti-forgery field sent so far passes the check."""
        return self.token_check is None or self.token_check(self._token.decode("latin-1"))

    def _add(self, name: str, chunk: bytes) -> None:
        setattr(self, name, getattr(self, name) + chunk)

    def _begin(self) -> None:
        self._headers, self._active = {}, False

    def _header_end(self) -> None:
        self._headers[self._field.decode("latin-1").lower()] = self._value
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        try:
            _kind, options = parse_options_header(self._headers.get("content-disposition", b""))
            content_type = parse_options_header(self._headers.get("content-type", b""))[0]
        except ValueError:
            raise InputError("the upload's part headers are malformed") from None
        filename = options.get(b"filename")
        if filename is None and options.get(b"name") == TOKEN_FIELD.encode():
            self._in_token = True
            return
        if filename is None or options.get(b"name") != b"file" or self.filename is not None:
            return
        if not self.token_ok():
            raise FormTokenMissing("the form's anti-forgery token is missing or stale; reload the page")
        self.filename = filename.decode("utf-8", "replace")
        self.content_type = content_type.decode("latin-1")
        self._handle = open_private(self.target)
        self._active = True

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._in_token:
            self._token = (self._token + data[start:end])[:256]
            return
        if not self._active or self._handle is None:
            return
        self.size += end - start
        if self.size > self.limit:
            raise UploadTooLarge(f"the file is larger than the limit of {self.limit:,} bytes")
        self._handle.write(data[start:end])

    def _end(self) -> None:
        self._in_token = False
        if self._active and self._handle is not None:
            self._handle.close()
            self._active = False

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def display_name(filename: str) -> str:
    """The user's file name reduced to its last component and safe characters (shown, never a path)."""
    base = re.split(r"[\\/]", filename)[-1]
    return _SAFE_NAME.sub("_", base).strip(" .")[:100] or "upload"


def kept_uploads(settings: ServeSettings) -> tuple[int, int]:
    """How many uploads the service keeps, and their total size in bytes (partial ones included)."""
    root = uploads_dir(settings)
    count = total = 0
    for folder in root.iterdir() if root.is_dir() else []:
        count += 1
        total += sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    return count, total


def upload_room(settings: ServeSettings) -> int:
    """Bytes the next upload may take; UploadsFull when the service keeps as many uploads as it may."""
    count, total = kept_uploads(settings)
    room = settings.max_upload_total_bytes - total
    if count >= settings.max_uploads or room <= 0:
        raise UploadsFull(
            f"this service already keeps {count} upload(s), {total:,} bytes (limits: "
            f"{settings.max_uploads} uploads, {settings.max_upload_total_bytes:,} bytes); "
            "delete one or wait until they expire"
        )
    return min(settings.max_upload_bytes, room)


async def receive_upload(
    request: Request,
    settings: ServeSettings,
    sandbox: Sandbox,
    token_check: Callable[[str], bool] | None = None,
) -> UploadRecord:
    """Stream a multipart upload (field `file`) into a new upload folder, check and describe it.

    The file is read (rows, columns, preview) only in a `sandbox` process, never in the server's.
    `token_check`, for the page's form, must accept the `csrf_token` field sent before the file.
    Raises InputError (or UploadTooLarge, UploadsFull, FormTokenMissing) with a message for the page;
    nothing is left behind on error.
    """
    limit = upload_room(settings)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + _SNIFF_BYTES:
        raise UploadTooLarge(f"the file is larger than the limit of {limit:,} bytes")
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or b"boundary" not in options:
        raise InputError("send the file as a multipart/form-data upload with a field named 'file'")
    upload_id = uuid.uuid4().hex
    folder = upload_folder(settings, upload_id)
    private_dir(uploads_dir(settings))
    folder.mkdir(mode=0o700)
    part = _FilePart(folder / "upload.partial", limit, token_check)
    try:
        callbacks: Any = part.callbacks()  # a TypedDict of callables in python-multipart's stubs
        parser = MultipartParser(options[b"boundary"], callbacks, max_header_count=16)
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        part.close()
        if token_check is not None and part.filename is None and not part.token_ok():
            raise FormTokenMissing("the form's anti-forgery token is missing or stale; reload the page")
        return await run_in_threadpool(_check, settings, sandbox, upload_id, part)
    except MultipartParseError:
        shutil.rmtree(folder, ignore_errors=True)
        raise InputError("the upload is not a well-formed multipart form") from None
    except BaseException:
        part.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _check(settings: ServeSettings, sandbox: Sandbox, upload_id: str, part: _FilePart) -> UploadRecord:
    """Refuse what the name, type and first bytes already rule out; read the rest in a bounded process."""
    if part.filename is None:
        raise InputError("choose a CSV or Parquet file to upload")
    name = display_name(part.filename)
    suffix = Path(name).suffix.lower()
    if suffix not in CONTENT_TYPES:
        raise InputError(f"'{name}' is not a .csv or .parquet file; misflag audits CSV and Parquet files")
    content_type = part.content_type or "application/octet-stream"
    if content_type not in CONTENT_TYPES[suffix]:
        raise InputError(
            f"'{name}' was sent as {content_type}, which is not a {suffix[1:].upper()} file type"
        )
    if part.size == 0:
        raise InputError(f"'{name}' is empty (0 bytes)")
    _sniff(part.target, suffix, name)
    path = part.target.with_name(f"input{suffix}")
    part.target.replace(path)
    record: UploadRecord = sandbox.run(
        "checking the upload", describe_upload, settings, upload_id, str(path), name, part.size
    )
    write_private(path.with_name("meta.json"), json.dumps(asdict(record)))
    return record


def describe_upload(
    settings: ServeSettings, upload_id: str, source: str, name: str, size: int
) -> UploadRecord:
    """Check an upload's rows and size, and describe it (columns, masked preview): run in a bounded process."""
    path = Path(source)
    if path.suffix == ".parquet":
        check_parquet(path, name, max_rows=settings.max_rows, max_bytes=settings.max_parquet_bytes)
    engine = DuckDBEngine()
    engine.execute("SET enable_progress_bar = false")  # a server has no terminal to draw it on
    try:
        try:
            info = load_input(engine, path)
        except InputError as problem:
            raise InputError(str(problem).replace(str(path), f"'{name}'")) from None
        check_rows(info.rows, name, settings.max_rows)
        views = classify(engine, "input")
        return UploadRecord(
            upload_id=upload_id,
            filename=name,
            size=size,
            rows=info.rows,
            sha256=info.sha256 or "",
            columns=[asdict(view) for view in views],
            preview=preview(engine, "input", views, settings.preview_rows),
        )
    finally:
        engine.close()


def _sniff(path: Path, suffix: str, name: str) -> None:
    """Reject files whose bytes are not what their extension says (binary as CSV, anything as Parquet)."""
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
        if suffix == ".parquet":
            tail = b""
            if path.stat().st_size >= 8:
                handle.seek(-4, 2)
                tail = handle.read(4)
            if head[:4] != b"PAR1" or tail != b"PAR1":
                raise InputError(f"'{name}' is not a Parquet file (it lacks Parquet's PAR1 markers)")
            return
    check_text_start(head, Path(name))  # UTF-16/32 named as such; the check's read applies the rest
    if b"\x00" in head:
        raise InputError(f"'{name}' is not a text CSV file (it contains binary data)")
