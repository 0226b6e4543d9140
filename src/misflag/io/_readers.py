"""Read an audit's input into an engine as a named table, with one clear error for every bad file."""

from __future__ import annotations

import gzip
import hashlib
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from misflag._beside import Beside
from misflag.engine import DuckDBEngine, Engine, quote_identifier
from misflag.errors import EngineError, InputError, MisflagError
from misflag.io._dialect import CsvDialect, duckdb_csv_options, sniff_csv
from misflag.io._encoding import file_encoding, utf8_copy

if TYPE_CHECKING:  # imported where a table is built: a file's audit starts its scan before pyarrow loads
    import pyarrow as pa

CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
DUCKDB_SUFFIXES = (".duckdb", ".ddb", ".db")


class PendingDigest:
    """A file's SHA-256, computed on a background thread while the engine reads the same file.

    The hash is a second full read of the input (0.3 s for a 100 MB file, ~2 s for 800 MB on a busy
    2-core machine); hashlib releases the GIL, so it overlaps the count query instead of preceding it.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._known = _hashed_already(path)  # its caller hashed it (`hashed_once`), unchanged since
        # where no thread can be started (a process limit) it is hashed here, as before
        self._pending = None if self._known is not None else Beside(file_sha256, path, name="misflag-sha256")

    def result(self) -> str:
        """The hex digest (waits for the hash to finish); InputError if the file could not be read."""
        if self._pending is None:
            return str(self._known)
        try:
            return self._pending.result()
        except OSError as error:
            raise InputError(f"cannot read {self._path} to hash it: {error}") from None


@dataclass(frozen=True)
class InputInfo:
    """What was read: enough for the reproducibility block of a report."""

    description: str
    rows: int
    columns: tuple[str, ...]
    digest: str | PendingDigest | None = field(repr=False)

    @property
    def sha256(self) -> str | None:
        """The input file's SHA-256 (None for a table or frame), waiting for a hash still running."""
        return self.digest.result() if isinstance(self.digest, PendingDigest) else self.digest


def file_sha256(path: Path) -> str:
    """The file's SHA-256, read by hashlib's own loop (`file_digest`: one buffer read into again and again,
    not a new 1 MiB bytes object per block; about a tenth less CPU on the benchmark's 10 MB file)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


#: The digest `hashed_once` computed, with the file's identity before it was read.
_HASHED: ContextVar[tuple[tuple[int, ...], str] | None] = ContextVar("misflag_hashed", default=None)


def _identity(path: Path) -> tuple[int, ...]:
    """What a write or a replacement of the file changes: device, inode, size, modification and change times."""
    status = path.stat()
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


@contextmanager
def hashed_once(path: Path) -> Iterator[str]:
    """The file's SHA-256, for a caller that needs it before the audit (the release register keys by
    it); inside the block, `load_input` of the same file, unchanged since, takes it instead of reading
    the whole file a second time."""
    identity = _identity(path)
    digest = file_sha256(path)
    token = _HASHED.set((identity, digest))
    try:
        yield digest
    finally:
        _HASHED.reset(token)


def _hashed_already(path: Path) -> str | None:
    """The digest `hashed_once` gave for this file, if the file has not changed since (else None)."""
    known = _HASHED.get()
    if known is None:
        return None
    try:
        return known[1] if _identity(path) == known[0] else None
    except OSError:
        return None


def check_inflated_size(path: Path, name: str, max_bytes: int) -> None:
    """InputError when a gzip file inflates to more than `max_bytes` (a "zip bomb": a 1 MB csv.gz can
    hold 600 MiB of text). Counted while inflating in 1 MiB steps, so no more than that sits in memory
    and the work stops as soon as the limit is passed."""
    inflated = 0
    try:
        with gzip.open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                inflated += len(block)
                if inflated > max_bytes:
                    raise InputError(
                        f"'{name}' inflates to more than {max_bytes:,} bytes uncompressed; the limit is {max_bytes:,} bytes"
                    )
    except (OSError, EOFError, zlib.error):
        raise InputError(f"'{name}' is not a readable gzip file") from None


def _arrow_from_frame(source: Any) -> pa.Table | None:
    """pandas, Polars or Arrow input as an Arrow table; None for anything else (a path, a URL)."""
    module = type(source).__module__
    if "pyarrow" not in sys.modules and not module.startswith(("pandas", "polars")):
        return None  # no Arrow table exists before pyarrow is imported: a path's audit does not load it here
    import pyarrow as pa

    if isinstance(source, pa.Table):
        return source
    if isinstance(source, pa.RecordBatch):
        return pa.Table.from_batches([source])
    if module.startswith("pandas"):
        return pa.Table.from_pandas(source, preserve_index=False)
    if module.startswith("polars"):
        return source.to_arrow()
    return None


def _file_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(DUCKDB_SUFFIXES):
        return "duckdb"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    with path.open("rb") as handle:
        return "parquet" if handle.read(4) == b"PAR1" else "csv"


def _read_postgresql(url: str, table: str | None) -> pa.Table:
    """A PostgreSQL table (or `--table` query) read through psycopg into Arrow."""
    if not table:
        raise InputError("a PostgreSQL input needs {table} (the table or query to read)")
    try:
        import psycopg
        from psycopg import sql
    except ImportError:
        raise InputError("reading PostgreSQL needs psycopg: pip install 'psycopg[binary]'") from None
    try:
        with psycopg.connect(url, connect_timeout=10) as connection, connection.cursor() as cursor:
            parts = [sql.Identifier(part) for part in table.split(".")]
            cursor.execute(sql.SQL("SELECT * FROM {}").format(sql.SQL(".").join(parts)))
            names = [column.name for column in cursor.description or []]
            records = cursor.fetchall()
    except psycopg.Error as error:
        raise InputError(
            f"cannot read PostgreSQL table {table}: {str(error).strip().splitlines()[0]}"
        ) from None
    import pyarrow as pa

    return pa.table({name: [record[i] for record in records] for i, name in enumerate(names)})


def check_before_engine(
    engine: str, source: Any, table: str | None, check: Callable[[tuple[str, ...]], object]
) -> None:
    """Run `check` over a file's columns as the embedded DuckDB engine reads them, before another engine starts.

    A refused expression then costs milliseconds, not a Spark start-up; the audit checks again against the
    engine's own columns. Only files are probed (a table or frame is read once, by the engine itself), and
    a file DuckDB cannot read is left for the engine to report.
    """
    if engine == "duckdb" or not isinstance(source, (str, Path)):
        return
    if str(source).startswith(("postgresql://", "postgres://")):
        return
    path = Path(source)
    probe = DuckDBEngine(sandbox=True)
    try:
        try:  # the schema only: no hash of the file and no row count, which the engine's own read does
            _register_file(probe, path, _file_format(path), table, "input", None)
            columns = tuple(column for column, _ in probe.columns("input"))
        except (MisflagError, OSError):  # missing or unreadable: the engine's own read says so
            return
        check(columns)
    finally:
        probe.close()


def load_input(
    engine: Engine,
    source: Any,
    *,
    name: str = "input",
    table: str | None = None,
    csv_options: dict[str, Any] | None = None,
    digest: bool = True,
) -> InputInfo:
    """Load a file path, DuckDB/PostgreSQL table or in-memory frame into `engine` under `name`.

    A file is hashed beside the engine's reads (`InputInfo.sha256`) unless `digest` is False: a caller
    that shows no metadata (the command line printing rows only) skips the second read of the file.
    Raises InputError, naming the problem, for missing, empty, undecodable (see `io._encoding`) or
    malformed input.
    """
    frame = _arrow_from_frame(source)
    if frame is not None:
        if frame.num_rows == 0:
            raise InputError("the input table has no rows")
        engine.register_arrow(name, frame)
        return InputInfo(
            f"{type(source).__module__.split('.')[0]} table", frame.num_rows, tuple(frame.column_names), None
        )
    if isinstance(source, str) and source.startswith(("postgresql://", "postgres://")):
        arrow = _read_postgresql(source, table)
        if arrow.num_rows == 0:
            raise InputError(f"PostgreSQL table {table} has no rows")
        engine.register_arrow(name, arrow)
        return InputInfo(f"PostgreSQL table {table}", arrow.num_rows, tuple(arrow.column_names), None)
    if not isinstance(source, (str, Path)):
        raise InputError(f"cannot read an input of type {type(source).__name__}")
    path = Path(source)
    if not path.exists():
        raise InputError(f"input file {path} does not exist")
    if path.is_dir():
        raise InputError(f"input {path} is a directory, not a file")
    if path.stat().st_size == 0:
        raise InputError(f"input file {path} is empty (0 bytes)")
    file_format = _file_format(path)
    # hashed while the engine parses (CSV) or scans (Parquet) the file
    pending = PendingDigest(path) if digest else None
    dialect = _register_file(engine, path, file_format, table, name, csv_options)
    try:  # files are read lazily (views): the first scan is where a malformed file shows
        columns = tuple(column for column, _ in engine.columns(name))
        rows = engine.count_rows(name)
    except EngineError as error:
        raise InputError(f"cannot read {path}: {error}") from None
    if rows == 0:
        raise InputError(f"input file {path} has no data rows")
    described = f"{path} (CSV: {dialect.describe()})" if dialect and not dialect.is_default() else str(path)
    return InputInfo(described, rows, columns, pending)


def _register_file(
    engine: Engine,
    path: Path,
    file_format: str,
    table: str | None,
    name: str,
    csv_options: dict[str, Any] | None,
) -> CsvDialect | None:
    """Register a file (or a DuckDB database's table) with `engine` as a view named `name`; nothing is read.

    A CSV's dialect (delimiter, decimal comma) comes from the shared sniffer (`io._dialect`) and its
    encoding from the shared rule (`io._encoding`: UTF-8, else Windows-1252 through a UTF-8 copy), so every
    reader takes a file alike; the dialect is returned so the input can say what was read.
    """
    if file_format == "duckdb":
        _load_duckdb_table(engine, path, table, name)
        return None
    options = dict(csv_options or {}) if file_format == "csv" else {}
    if file_format != "csv":
        engine.register_file(name, path, file_format, options)
        return None
    options.setdefault("header", True)
    if engine.name != "duckdb" or csv_options:
        engine.register_file(name, path, file_format, options)
        return None
    dialect = sniff_csv(path)
    options.update(duckdb_csv_options(dialect))
    if dialect.encoding == "utf-8":
        try:  # the common case: no second pass over the file
            engine.register_file(name, path, file_format, options)
            return dialect
        except InputError:
            if file_encoding(path) == "utf-8":
                raise  # the engine's complaint is not the encoding
    else:
        file_encoding(path)  # the whole file by the same rule: a mixed or binary file is refused here
    with utf8_copy(path) as copy:  # Windows-1252: the engine reads a UTF-8 copy, made once
        try:
            engine.register_file(name, copy, file_format, options)
        except InputError as error:
            raise InputError(
                str(error).replace(str(copy.resolve()), str(path)).replace(str(copy), str(path))
            ) from None
    return replace(dialect, encoding="cp1252")


def _load_duckdb_table(engine: Engine, path: Path, table: str | None, name: str) -> None:
    if engine.name != "duckdb":
        raise InputError("a DuckDB database file can only be read by the duckdb engine ({engine})")
    if not table:
        raise InputError(f"{path} is a DuckDB database: say which table to read ({{table}})")
    from misflag.engine.duckdb import DuckDBEngine

    assert isinstance(engine, DuckDBEngine)
    engine.attach_database(path)
    qualified = ".".join(quote_identifier(part) for part in table.split("."))
    engine.attach_table(name, f"SELECT * FROM misflag_source.{qualified}")
