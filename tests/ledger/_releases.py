"""What the release-entry attackers of the ledger tests share: the audit options of their small logs and
the `released` entries a store holds, read straight from its table (not through misflag's reader)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

OPTIONS: dict[str, Any] = {"flag": "flag", "truth": "truth", "groups": ["g"]}


def released(url: str) -> list[tuple[int, dict[str, Any]]]:
    """(seq, payload) of every `released` entry in the store at `url`, in order."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        rows = connection.exec_driver_sql(
            "SELECT seq, body FROM ledger_entries WHERE kind = 'released' ORDER BY seq"
        ).fetchall()
    engine.dispose()
    return [(int(seq), json.loads(body)["payload"]) for seq, body in rows]
