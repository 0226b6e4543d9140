"""What the release-entry tests of the ledger share: their small log (84 people in groups a, b and c,
c of 4) and its audit options, and the `released` entries a store holds, read straight from its table
(not through misflag's reader), and `outrun_once`, another audit recording its release while one runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from misflag.ledger import Ledger
from misflag.ledger import _releases as ledger_releases

OPTIONS: dict[str, Any] = {"flag": "flag", "truth": "truth", "groups": ["g"]}


def write_small_log(folder: Path) -> Path:
    """log.parquet in `folder`: groups a and b of 40 people and c of 4, truth and flag by position."""
    log = folder / "log.parquet"
    groups = ["a"] * 40 + ["b"] * 40 + ["c"] * 4
    pq.write_table(
        pa.table({"g": groups, "truth": [i % 2 for i in range(84)], "flag": [i % 3 == 0 for i in range(84)]}),
        log,
    )
    return log


def released(url: str) -> list[tuple[int, dict[str, Any]]]:
    """(seq, payload) of every `released` entry in the store at `url`, in order."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        rows = connection.exec_driver_sql(
            "SELECT seq, body FROM ledger_entries WHERE kind = 'released' ORDER BY seq"
        ).fetchall()
    engine.dispose()
    return [(int(seq), json.loads(body)["payload"]) for seq, body in rows]


def sqlite_ledger(folder: Path) -> Path:
    """A fresh SQLite ledger in `folder`, as `misflag ledger init` makes it (its key beside it)."""
    path = folder / "ledger.sqlite"
    store = Ledger.open(str(path))
    store.checkpoint()
    store.close()
    return path


def released_payloads(path: Path) -> list[dict[str, Any]]:
    """The payload of every `released` entry of the SQLite ledger at `path`, in order."""
    return [payload for _, payload in released(f"sqlite:///{path.resolve()}")]


def outrun_once(monkeypatch: pytest.MonkeyPatch, other_audit: Callable[[], object]) -> list[list[int]]:
    """Make `other_audit` run, start to end, between an audit's read of the releases and its first record;
    returns the earlier entries each record attempt was made against (the list fills as the audit runs)."""
    real = ledger_releases.record_release
    calls: list[list[int]] = []

    def meanwhile(store: Ledger, payload: dict[str, Any], seen: list[int]) -> Any:
        calls.append(list(seen))
        if len(calls) == 1:
            monkeypatch.setattr(ledger_releases, "record_release", real)
            other_audit()
            monkeypatch.setattr(ledger_releases, "record_release", meanwhile)
        return real(store, payload, seen)

    monkeypatch.setattr(ledger_releases, "record_release", meanwhile)
    return calls
