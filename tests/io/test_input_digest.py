"""The input's SHA-256 is hashed while the engine reads the file: same digest, errors still one line."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from misflag.engine import DuckDBEngine
from misflag.errors import InputError
from misflag.io import load_input
from misflag.io._readers import PendingDigest


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "log.csv"
    path.write_text("grp,flag\n" + "".join(f"g{i % 3},{i % 2}\n" for i in range(5000)))
    return path


def test_digest_is_the_files_sha256(tmp_path: Path) -> None:
    path = _csv(tmp_path)
    engine = DuckDBEngine()
    try:
        info = load_input(engine, path)
    finally:
        engine.close()
    assert info.rows == 5000
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_digest_without_a_thread_is_computed_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where no thread may start (a process limit), the hash is computed before load_input returns."""

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    path = _csv(tmp_path)
    pending = PendingDigest(path)
    assert pending._pending is not None and pending._pending.wait(0)  # computed synchronously
    assert pending.result() == hashlib.sha256(path.read_bytes()).hexdigest()


def test_unreadable_file_is_one_input_error(tmp_path: Path) -> None:
    pending = PendingDigest(tmp_path / "gone.csv")
    with pytest.raises(InputError, match=r"cannot read .*gone\.csv to hash it"):
        pending.result()


def test_frames_have_no_digest() -> None:
    import pyarrow as pa

    engine = DuckDBEngine()
    try:
        info = load_input(engine, pa.table({"x": [1, 2]}))
    finally:
        engine.close()
    assert info.sha256 is None
