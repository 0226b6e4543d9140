"""Fixtures of the inventory tests: the federal inventories in ../shared, loaded once per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from misflag.inventory import Inventory, load_inventories


@pytest.fixture(scope="module")
def folder(shared_dir: Path) -> Path:
    """The 2023-2025 federal AI use-case inventories (public OMB data)."""
    return shared_dir / "data/federal-ai-inventory"


@pytest.fixture(scope="module")
def inventory(folder: Path) -> Iterator[Inventory]:
    loaded = load_inventories([folder])
    yield loaded
    loaded.close()
