"""Files of the service readable by its user only: folders 0700, files 0600, written whole or not at all."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import BinaryIO

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Make `path` (and missing parents) and set it to 0700, whatever the umask."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    os.chmod(path, PRIVATE_DIR)
    return path


def open_private(path: Path) -> BinaryIO:
    """A new file open for writing, created 0600 (never readable by others, not even for a moment)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)
    return os.fdopen(fd, "wb")


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` (0600) through a partial file, so readers see the old or the new content."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
    try:
        with open_private(partial) as handle:
            handle.write(text.encode("utf-8"))
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
