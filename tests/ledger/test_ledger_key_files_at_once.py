"""Key files made by several writers at once: the first one to create a ledger's writer key or signing key
must not be seen half-written by another.

A key file was created with O_EXCL and then written and fsynced, so for the length of those calls another
thread or process (two `decisions audit --ledger` of a fresh ledger at once: the writer key is made on
first use) found it existing and empty, and failed with `writer key ... must hold 32 bytes`
(tests/disclosure/test_ledger_register.py's two threads hit it once under load). Now the key is written
to a temporary file and linked into place (atomic, and still never over an existing file): everyone reads
the one complete key, and no temporary file is left.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from misflag.ledger._keys import key_id, load_or_create, public_bytes
from misflag.ledger._writer import load_or_create_writer_key

MAKERS: dict[str, Callable[[Path], str]] = {
    "writer": lambda path: load_or_create_writer_key(path).hex(),
    "signing": lambda path: key_id(public_bytes(load_or_create(path))),
}


@pytest.mark.parametrize("kind", list(MAKERS))
def test_a_key_made_by_eight_threads_at_once_is_one_whole_key(kind: str, tmp_path: Path) -> None:
    for attempt in range(20):  # each on a fresh path: the race is in the first creation
        path = tmp_path / str(attempt) / f"ledger.sqlite.{kind}-key"
        path.parent.mkdir()
        barrier = threading.Barrier(8)
        answers: list[str] = []
        problems: list[BaseException] = []

        def make(
            path: Path = path,
            barrier: threading.Barrier = barrier,
            answers: list[str] = answers,
            problems: list[BaseException] = problems,
        ) -> None:
            barrier.wait()
            try:
                answers.append(MAKERS[kind](path))
            except BaseException as problem:  # reported by the test, not lost in the thread
                problems.append(problem)

        threads = [threading.Thread(target=make) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert problems == [] and len(answers) == 8, (attempt, problems)
        assert len(set(answers)) == 1  # one key, the same for all
        assert not [p for p in path.parent.iterdir() if p.name.endswith(".partial")], list(
            path.parent.iterdir()
        )


def test_a_filesystem_without_hard_links_still_gets_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where `link` is refused (some network and FAT filesystems), the key is created in place as before."""
    import os

    def no_links(source: str, target: Path) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "ledger.sqlite.writer-key"
    key = load_or_create_writer_key(path)
    assert len(key) == 32 and path.read_text().strip() == key.hex()
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
