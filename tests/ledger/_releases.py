"""What the release-entry tests of the ledger share: their small log (84 people in groups a, b and c,
c of 4) and its audit options, and the `released` entries a store holds, read straight from its table
(not through misflag's reader)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

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
