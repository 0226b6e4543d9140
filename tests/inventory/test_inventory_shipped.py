"""The federal inventories ship with misflag: used with no path, recorded with source and checksums."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pyarrow.compute as pc
import pytest

from misflag.cli import main
from misflag.errors import InputError
from misflag.inventory import _data, load_inventories, manifest, shipped_inventories


def test_manifest_names_source_commit_and_checksums() -> None:
    entries = manifest()["files"]
    inventories = {e["year"]: e for e in entries if e["kind"] == "inventory"}
    assert sorted(inventories) == [2023, 2024, 2025]
    assert inventories[2025]["repository"].endswith("ombegov/2025-Federal-Agency-AI-Use-Case-Inventory")
    assert inventories[2024]["commit"] == "4a29d1322912"
    assert all(len(e["sha256"]) == 64 and len(e["gzip_sha256"]) == 64 for e in entries)
    assert [p.name for p in shipped_inventories()] == [inventories[y]["file"] for y in (2025, 2024, 2023)]


def test_no_path_reads_the_same_rows_as_the_users_own_copy(folder: Path) -> None:
    """The 2025 inventory has 3,611 individually reported use cases (OMB's 2025 README)."""
    shipped, own = load_inventories(), load_inventories([folder])
    try:
        assert shipped.years == own.years == [2023, 2024, 2025]
        assert {f.year: f.rows for f in shipped.files} == {f.year: f.rows for f in own.files}
        assert shipped.table(2025).num_rows == 3611
        assert shipped.table().equals(own.table())
        skipped = own.issues.filter(pc.equal(own.issues["kind"], "skipped_file"))["file"].to_pylist()
        assert skipped == ["2025_consolidated_COTS_AI_use_cases.csv"]  # a folder's non-inventory file
    finally:
        shipped.close()
        own.close()


def test_cli_scorecard_without_a_path(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inventory", "scorecard", "--year", "2025", "--format", "csv"]) == 0
    shipped = capsys.readouterr().out
    assert main(["inventory", "scorecard", str(folder), "--year", "2025", "--format", "csv"]) == 0
    assert capsys.readouterr().out == shipped
    assert "appeal_established_share" in shipped


def test_a_damaged_shipped_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for path in _data.data_folder().iterdir():
        shutil.copy(path, tmp_path / path.name)
    damaged = tmp_path / "2023_consolidated_ai_inventory_raw.csv.gz"
    damaged.write_bytes(gzip.compress(gzip.decompress(damaged.read_bytes()) + b"\n"))
    monkeypatch.setattr(_data, "data_folder", lambda: tmp_path)
    with pytest.raises(InputError, match="fails its sha256 check"):
        shipped_inventories()
