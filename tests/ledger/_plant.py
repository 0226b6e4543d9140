"""Entry rows planted straight into a ledger's store (SQLite or PostgreSQL), around the service: what the
INSERT-only writer role (or an owner) can do, so that the attack tests show the service refusing it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from misflag.ledger._engine import now
from misflag.ledger._verify import entry_hash
from misflag.ledger._writer import entry_mac, load_or_create_writer_key

#: `plant`'s default number: the one after the head of the chain.
HEAD = object()


def entry_body(payload: dict[str, Any], **fields: Any) -> str:
    """An entry's body as the store writes it (canonical JSON), by an intruder acting as admin unless
    `fields` say otherwise (`actor`, `role`, `ts`, ...)."""
    content = {"actor": "intruder", "groups": {}, "payload": payload, "role": "admin", "ts": now()}
    return json.dumps(content | fields, sort_keys=True, separators=(",", ":"))


def plant(
    url: str,
    kind: str,
    case_id: str | None,
    text: str,
    *,
    mac: bytes | None = None,
    writer_key: Path | None = None,
    seq: Any = HEAD,
    linked: bool = True,
) -> int:
    """Insert an entry of body `text` into the store at `url`, its `prev` the head's hash and its `hash`
    computed as the store computes them (all zeros unless `linked`); its writer proof `mac` (none, or a
    made-up one), or with `writer_key` a real proof for its place. `seq`: its number (any value the
    attack needs, hashed as the next one when not an int), None to leave the column out. Returns the
    number it was hashed with."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            head, prev = connection.exec_driver_sql(
                "SELECT seq, hash FROM ledger_entries ORDER BY seq DESC LIMIT 1"
            ).one()
            number = seq if isinstance(seq, int) else int(head) + 1
            digest = entry_hash(bytes(prev), number, kind, case_id, text) if linked else bytes(32)
            if writer_key is not None:
                mac = entry_mac(load_or_create_writer_key(writer_key), digest)
            values: dict[str, Any] = {
                "p": bytes(prev),
                "h": digest,
                "k": kind,
                "c": case_id,
                "b": text,
                "m": mac,
            }
            if seq is not None:
                values["s"] = number if seq is HEAD else seq
            columns = ("s, " if seq is not None else "") + "p, h, k, c, b, m"
            names = ("seq, " if seq is not None else "") + "prev, hash, kind, case_id, body, mac"
            values_sql = ", ".join(f":{name.strip()}" for name in columns.split(","))
            connection.execute(sa.text(f"INSERT INTO ledger_entries ({names}) VALUES ({values_sql})"), values)
    finally:
        engine.dispose()
    return number
