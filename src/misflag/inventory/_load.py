"""Load inventory files of any year into one normalized DuckDB table, keeping every raw answer beside it.

Each file is read as text (UTF-8, else Windows-1252, as every reader does: the 2024 file is Windows-1252),
its year recognised from its columns, and each coded answer mapped through the year's vocabulary. The
distinct answers of a column are mapped in Python (a few hundred at most); rows are mapped in SQL by
joining on those small tables. Columns and answers no mapping knows are reported in `issues`.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from misflag.engine import DuckDBEngine, quote_identifier, quote_literal
from misflag.errors import InputError
from misflag.inventory._data import shipped_inventories
from misflag.inventory._mapping import (
    CODED_FIELDS,
    TEXT_FIELDS,
    UNMAPPED,
    YearMapping,
    agency_aliases,
    builtin_mappings,
    normal_key,
    read_mapping,
)
from misflag.io import file_sha256, sniff_csv
from misflag.io._encoding import decode_file
from misflag.progress import Progress

ISSUE_SCHEMA = pa.schema(
    [("year", pa.int32()), ("file", pa.string()), ("kind", pa.string()), ("column", pa.string()),
     ("value", pa.string()), ("rows", pa.int64())]
)  # fmt: skip
#: File names read from a folder: CSV (plain or gzip-compressed) and Parquet.
INVENTORY_SUFFIXES = (".csv", ".csv.gz", ".parquet")


@dataclass(frozen=True)
class LoadedFile:
    """One input file: its year, row count and digest (for the reproducibility block)."""

    path: str
    year: int
    rows: int
    sha256: str
    encoding: str
    mapping: str


@dataclass
class Inventory:
    """Normalized use cases of one or more years in DuckDB (`use_cases`), with the load report."""

    engine: DuckDBEngine
    files: list[LoadedFile]
    issues: pa.Table

    @property
    def years(self) -> list[int]:
        """The years loaded, ascending."""
        return sorted({f.year for f in self.files})

    def table(self, year: int | None = None) -> pa.Table:
        """The normalized use cases (of one year, or all) as Arrow."""
        where = "" if year is None else f"WHERE year = {int(year)}"
        return self.engine.sql(f"SELECT * FROM use_cases {where} ORDER BY year, uid")

    def metadata(self) -> dict[str, Any]:
        """The reproducibility block: every input with its year, rows and SHA-256."""
        return {"inputs": [f.__dict__ for f in self.files], "engine": "duckdb"}

    def save(self, path: str | Path) -> Path:
        """Write the normalized tables to a DuckDB database file (written whole or not at all)."""
        target = Path(path)
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        # The inventory's own engine is locked (no file access); a fresh one writes the file.
        writer = DuckDBEngine()
        try:
            writer.register_arrow("_use_cases_out", self.engine.sql("SELECT * FROM use_cases"))
            writer.register_arrow("_files_out", pa.Table.from_pylist([f.__dict__ for f in self.files]))
            writer.register_arrow("_issues_out", self.issues)
            writer.execute(f"ATTACH {quote_literal(partial)} AS out")
            try:
                writer.execute("CREATE TABLE out.use_cases AS SELECT * FROM _use_cases_out")
                writer.execute("CREATE TABLE out.files AS SELECT * FROM _files_out")
                writer.execute("CREATE TABLE out.load_issues AS SELECT * FROM _issues_out")
            finally:
                writer.execute("DETACH out")
        finally:
            writer.close()
        partial.replace(target)
        return target

    def close(self) -> None:
        """Release the DuckDB connection."""
        self.engine.close()


def _decode(path: Path) -> tuple[str, str]:
    """The file's text by the encoding rule every reader shares (`misflag.io._encoding`)."""
    data = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise InputError(f"{path} is not a readable gzip file: {error}") from None
    return decode_file(data, path)


def _unique_names(header: list[str]) -> list[str]:
    """Header names made unique: a repeated name gets ' (2)', ' (3)', ... in file order."""
    seen: dict[str, int] = {}
    names = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return names


def read_table(path: Path) -> tuple[pa.Table, str]:
    """A CSV or Parquet inventory file as an all-text Arrow table (blank cells are empty strings)."""
    if not path.is_file():
        raise InputError(f"inventory file {path} does not exist")
    if path.suffix.lower() == ".parquet":
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as error:
            raise InputError(f"{path} is not a readable Parquet file: {error}") from None
        columns = [pc.fill_null(pc.cast(c, pa.string()), "") for c in table.columns]
        return pa.table(columns, names=_unique_names(table.column_names)), "parquet"
    text, encoding = _decode(path)
    delimiter = sniff_csv(path).delimiter  # the sniffer every reader shares: a `;` CSV reads as in audits
    header = next(csv.reader(io.StringIO(text), delimiter=delimiter), None)
    if not header or not any(h.strip() for h in header):
        raise InputError(f"{path} is empty or has no header row")
    names = _unique_names(header)
    try:
        table = pacsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 26),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as error:
        raise InputError(f"{path} is not a well-formed CSV file: {str(error).splitlines()[0]}") from None
    return table, encoding


def choose_mapping(path: Path, columns: list[str], mappings: Sequence[YearMapping]) -> YearMapping:
    """The year whose required columns the file has (most known columns wins); else a clear error."""
    keys = {normal_key(c) for c in columns}
    scored = []
    for mapping in mappings:
        missing = [c for c in mapping.required_columns() if normal_key(c) not in keys]
        scored.append((len(missing), -len(keys & mapping.known_keys), -mapping.year, missing, mapping))
    scored.sort(key=lambda item: item[:3])
    best = scored[0]
    if best[0]:
        raise InputError(
            f"{path} is not a known inventory layout; the closest ({best[4].year}) lacks column(s): "
            + "; ".join(repr(c) for c in best[3])
        )
    return best[4]


def _value_map(column: pa.ChunkedArray, mapping: YearMapping, vocabulary: str) -> pa.Table:
    """The distinct raw answers of one column with their normalized values."""
    distinct = pc.unique(column).to_pylist()
    mapped = [mapping.vocabularies[vocabulary].map(value) for value in distinct]
    return pa.table({"raw": pa.array(distinct, pa.string()), "value": pa.array(mapped, pa.string())})


def _normalize(engine: DuckDBEngine, raw: pa.Table, mapping: YearMapping, label: str) -> list[dict[str, Any]]:
    """Create `norm_<year>` from one raw table; returns the issues found."""
    by_key = {normal_key(c): c for c in raw.column_names}
    issues: list[dict[str, Any]] = []
    for column in raw.column_names:
        if normal_key(column) not in mapping.known_keys:
            filled = int(pc.sum(pc.not_equal(pc.utf8_trim_whitespace(raw[column]), "")).as_py() or 0)
            issues.append(_issue(mapping.year, label, "unknown_column", column, None, filled))
    table = f"raw_{mapping.year}"
    engine.register_arrow(table, raw.append_column("__row", pa.array(range(1, raw.num_rows + 1), pa.int64())))
    aliases = " ".join(f"WHEN '{old}' THEN '{new}'" for old, new in agency_aliases().items())
    select, joins = [f"{mapping.year} AS year", f"'{mapping.year}-' || r.__row AS uid"], []
    for name in TEXT_FIELDS:
        spec = mapping.fields.get(name)
        column = by_key.get(normal_key(spec.column)) if spec else None
        if spec and column is None:
            issues.append(_issue(mapping.year, label, "missing_column", spec.column, name, raw.num_rows))
        expression = f"NULLIF(trim(r.{quote_identifier(column)}), '')" if column else "NULL"
        if name == "agency" and column:
            expression = f"upper({expression})"
            expression = f"CASE {expression} {aliases} ELSE {expression} END" if aliases else expression
        select.append(f"CAST({expression} AS VARCHAR) AS {name}")
    for name in CODED_FIELDS:
        spec = mapping.fields.get(name)
        column = by_key.get(normal_key(spec.column)) if spec else None
        if spec is None or spec.vocabulary is None:  # not asked that year: NULL
            select += [f"CAST(NULL AS VARCHAR) AS {name}", f"CAST(NULL AS VARCHAR) AS {name}_raw"]
            continue
        if column is None:  # asked, but not in this file: every answer blank (a practice `missing`), reported
            issues.append(_issue(mapping.year, label, "missing_column", spec.column, name, raw.num_rows))
            blank = quote_literal(mapping.vocabularies[spec.vocabulary].blank)
            select += [f"CAST({blank} AS VARCHAR) AS {name}", f"CAST(NULL AS VARCHAR) AS {name}_raw"]
            continue
        values = _value_map(raw[column], mapping, spec.vocabulary)
        map_name = f"map_{mapping.year}_{name}"
        engine.register_arrow(map_name, values)
        joins.append(f"LEFT JOIN {map_name} ON {map_name}.raw = r.{quote_identifier(column)}")
        select += [f"{map_name}.value AS {name}", f"r.{quote_identifier(column)} AS {name}_raw"]
        unmapped = values.filter(pc.equal(values["value"], UNMAPPED))["raw"]
        if len(unmapped):
            counts = pc.value_counts(raw[column]).flatten()
            wanted = pc.is_in(counts[0], value_set=unmapped.combine_chunks())
            for value, rows in zip(
                counts[0].filter(wanted).to_pylist(), counts[1].filter(wanted).to_pylist(), strict=True
            ):
                issues.append(_issue(mapping.year, label, "unmapped_value", column, value, rows))
    engine.execute(
        f"CREATE OR REPLACE TABLE norm_{mapping.year} AS SELECT {', '.join(select)} "
        f"FROM {table} r {' '.join(joins)} ORDER BY r.__row"
    )
    duplicates = engine.sql(
        f"SELECT source_id, COUNT(*) AS n FROM norm_{mapping.year} WHERE source_id IS NOT NULL "
        "GROUP BY source_id HAVING n > 1 ORDER BY source_id"
    ).to_pylist()
    issues += [
        _issue(mapping.year, label, "duplicate_id", "source_id", d["source_id"], d["n"]) for d in duplicates
    ]
    return issues


def _issue(year: int, file: str, kind: str, column: str, value: str | None, rows: int) -> dict[str, Any]:
    return {"year": year, "file": file, "kind": kind, "column": column, "value": value, "rows": rows}


def _expand(sources: Sequence[str | Path]) -> list[tuple[Path, bool]]:
    """Files to read; files found in a folder are marked so a non-inventory file there is skipped."""
    found: list[tuple[Path, bool]] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.name.lower().endswith(INVENTORY_SUFFIXES))
            if not inside:
                raise InputError(f"folder {path} holds no CSV or Parquet file")
            found += [(p, True) for p in inside]
        elif path.exists():
            found.append((path, False))
        else:
            raise InputError(f"inventory file {path} does not exist")
    if not found:
        raise InputError("give at least one inventory file or folder")
    return found


def load_inventories(
    sources: Sequence[str | Path] = (),
    *,
    mappings: Sequence[str | Path] = (),
    progress: Progress | None = None,
) -> Inventory:
    """Read inventory files (or folders of them) of any known year into one normalized table.

    `mappings` adds YAML mapping files (a later year, or a corrected layout); they take precedence over
    the built-in ones for the same year. A `.duckdb` file written by `Inventory.save` is reopened as is.
    With no sources, the 2023-2025 federal inventories shipped with misflag are read.
    """
    sources = list(sources) or shipped_inventories()
    paths = [Path(s) for s in sources]
    if len(paths) == 1 and paths[0].suffix.lower() == ".duckdb":
        return open_database(paths[0])
    extra = [read_mapping(m) for m in mappings]
    known = extra + [m for m in builtin_mappings() if m.year not in {e.year for e in extra}]
    engine = DuckDBEngine()
    files: list[LoadedFile] = []
    issues: list[dict[str, Any]] = []
    try:
        for path, from_folder in _expand(sources):
            if progress:
                progress(f"reading {path.name}", None)
            table, encoding = read_table(path)
            try:
                mapping = choose_mapping(path, table.column_names, known)
            except InputError as error:
                if not from_folder:
                    raise
                issues.append(_issue(0, path.name, "skipped_file", "", str(error), table.num_rows))
                continue
            if any(f.year == mapping.year for f in files):
                raise InputError(
                    f"two files for {mapping.year}: {path} and {next(f.path for f in files if f.year == mapping.year)}"
                )
            issues += _normalize(engine, table, mapping, path.name)
            files.append(
                LoadedFile(
                    str(path), mapping.year, table.num_rows, file_sha256(path), encoding, mapping.source
                )
            )
        if not files:
            raise InputError("no inventory file found among the inputs")
        union = " UNION ALL ".join(f"SELECT * FROM norm_{f.year}" for f in files)
        engine.execute(f"CREATE OR REPLACE TABLE use_cases AS {union}")
        engine.sandbox()  # everything is in memory: no file, setting or extension from here on
    except BaseException:
        engine.close()
        raise
    return Inventory(
        engine, sorted(files, key=lambda f: f.year), pa.Table.from_pylist(issues, schema=ISSUE_SCHEMA)
    )


def open_database(path: Path) -> Inventory:
    """Reopen a database written by `Inventory.save` (read into memory; the file is not changed)."""
    if not path.is_file():
        raise InputError(f"inventory database {path} does not exist")
    engine = DuckDBEngine()
    try:
        engine.execute(f"ATTACH {quote_literal(path)} AS src (READ_ONLY)")
        names = {
            r["table_name"]
            for r in engine.sql(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'"
            ).to_pylist()
        }
        if not {"use_cases", "files", "load_issues"} <= names:
            raise InputError(f"{path} is not an inventory database written by `misflag inventory load --db`")
        engine.execute("CREATE TABLE use_cases AS SELECT * FROM src.use_cases")
        files = [LoadedFile(**row) for row in engine.sql("SELECT * FROM src.files").to_pylist()]
        issues = engine.sql("SELECT * FROM src.load_issues").cast(ISSUE_SCHEMA)
        engine.execute("DETACH src")
        engine.sandbox()  # the database is read into memory: no file, setting or extension from here on
    except BaseException:
        engine.close()
        raise
    return Inventory(engine, files, issues)
