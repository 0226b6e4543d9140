"""Fixtures of the inventory tests: the 2023-2025 federal inventories shipped inside misflag.

`inventory` loads them as a user does, with no path; `folder` is the same public files decompressed into a
temporary folder (a user's own copy), each checked against the SHA-256 of the OMB original in the manifest.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from misflag.inventory import Inventory, data_folder, load_inventories, manifest


@pytest.fixture(scope="session")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The OMB files, decompressed byte for byte from the shipped copies, under their original names."""
    target = tmp_path_factory.mktemp("federal-ai-inventory")
    for entry in manifest()["files"]:
        original = gzip.decompress((data_folder() / entry["file"]).read_bytes())
        assert hashlib.sha256(original).hexdigest() == entry["sha256"], entry["original"]
        (target / entry["original"]).write_bytes(original)
    return target


@pytest.fixture(scope="module")
def inventory() -> Iterator[Inventory]:
    loaded = load_inventories()
    yield loaded
    loaded.close()
