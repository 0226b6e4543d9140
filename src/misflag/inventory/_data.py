"""The 2023-2025 federal AI use-case inventories shipped inside misflag (public OMB data, gzip-compressed).

`data/manifest.json` records, for each file, its source repository, path and commit, the date it was
copied, and the SHA-256 of both the original file and the compressed copy; `shipped_inventories` checks the
compressed copies against it before they are read.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from misflag.errors import InputError
from misflag.io import file_sha256


def data_folder() -> Path:
    """The folder holding the shipped inventories, their dictionaries and `manifest.json`."""
    return Path(str(resources.files("misflag.inventory") / "data"))


@cache
def manifest() -> dict[str, Any]:
    """Source, commit, copy date and checksums of every shipped file."""
    loaded: dict[str, Any] = json.loads((data_folder() / "manifest.json").read_text(encoding="utf-8"))
    return loaded


def shipped_inventories() -> list[Path]:
    """The shipped use-case inventories of 2023, 2024 and 2025, checked against the manifest.

    2025's list of commercial products (COTS) and the data dictionaries ship beside them for auditing but
    are not use-case inventories.
    """
    paths = []
    for entry in manifest()["files"]:
        if entry["kind"] != "inventory":
            continue
        path = data_folder() / entry["file"]
        if not path.is_file() or file_sha256(path) != entry["gzip_sha256"]:
            raise InputError(
                f"shipped inventory {path} is missing or fails its sha256 check; reinstall misflag"
            )
        paths.append(path)
    return paths
