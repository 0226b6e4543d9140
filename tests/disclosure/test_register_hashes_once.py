"""A registered audit reads its input once to hash it: `--protect-releases` and `--ledger` need the digest
before the audit (the register's name, the ledger's releases of the input), and the output's sha256 is
that digest, not a second full read (`io._readers.hashed_once`). A file changed since is hashed again."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from misflag.decisions import audit_decisions
from misflag.io._readers import PendingDigest, hashed_once
from misflag.ledger import Ledger

OPTIONS = {"flag": "flag", "truth": "truth", "groups": ["g"]}


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "log.parquet"
    groups = ["a", "b", "c"] * 40 + ["d"] * 4
    pq.write_table(
        pa.table(
            {"g": groups, "truth": [i % 2 for i in range(124)], "flag": [i % 3 == 0 for i in range(124)]}
        ),
        path,
    )
    return path


def test_protect_releases_hashes_the_input_once(
    log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hashes: list[Path]
) -> None:
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path / "data"))
    result = audit_decisions(str(log), **OPTIONS, protect_releases=True)
    digest = hashlib.sha256(log.read_bytes()).hexdigest()
    assert len(hashes) == 1
    assert result.metadata["input"]["sha256"] == digest
    assert (tmp_path / "data" / "releases" / f"{digest}.json").is_file()


def test_a_ledger_audit_hashes_the_input_once_with_earlier_releases_counted_again(
    log: Path, tmp_path: Path, hashes: list[Path]
) -> None:
    """The earlier releases' specs are run again on the same input for their true counts: no hash more."""
    url = str(tmp_path / "ledger.sqlite")
    Ledger.open(url).close()
    audit_decisions(str(log), **OPTIONS, ledger=url)
    audit_decisions(str(log), **OPTIONS, where="g <> 'c'", ledger=url)
    hashes.clear()
    result = audit_decisions(str(log), **OPTIONS, intersect=True, ledger=url)
    assert len(hashes) == 1
    assert result.metadata["input"]["sha256"] == hashlib.sha256(log.read_bytes()).hexdigest()
    assert result.metadata["release"].startswith("3: ")


def test_a_file_changed_after_it_was_hashed_is_hashed_again(log: Path, hashes: list[Path]) -> None:
    with hashed_once(log) as digest:
        assert PendingDigest(log).result() == digest and len(hashes) == 1
        pq.write_table(pa.table({"g": ["z"], "truth": [1], "flag": [True]}), log)
        assert PendingDigest(log).result() == hashlib.sha256(log.read_bytes()).hexdigest() != digest
    assert len(hashes) == 2
    PendingDigest(log).result()  # outside the block: hashed as before
    assert len(hashes) == 3
