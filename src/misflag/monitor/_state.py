"""The state file of incremental monitoring: the count table so far and where the next run starts reading.

The state holds counts only (reviewer pools as SHA-256 digests, never names). The next run re-reads rows
from the start of the newest period seen (it may have been incomplete) and replaces those counts, so a
scheduled run over a growing log gives exactly the answer of a full run over the same rows.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from misflag.errors import InputError, literal
from misflag.io import write_atomic

FORMAT = "misflag-monitor-state/1"


def load_state(path: Path, fingerprint: str) -> tuple[pd.DataFrame | None, datetime | None]:
    """The saved counts and the time from which to read again; (None, None) when the file does not exist."""
    if not path.exists():
        return None, None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(
            f"state file {literal(str(path))} is not a misflag monitor state: {str(error).splitlines()[0]}"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"state file {literal(str(path))} is not a misflag monitor state ({FORMAT})")
    if data.get("fingerprint") != fingerprint:
        raise InputError(
            f"state file {literal(str(path))} was written with other {{time}}/{{group}}/{{flag}}/{{stages}}/{{truth}}/{{weight}}/{{period}} "
            "settings; use a new state file for new settings"
        )
    try:
        cells = pd.DataFrame.from_records(data["cells"], columns=data["columns"])
        cells["period"] = pd.to_datetime(cells["period"])
        watermark = datetime.fromisoformat(str(data["watermark"]))
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"state file {literal(str(path))} is damaged: {error}") from None
    return cells, watermark


def merge(saved: pd.DataFrame | None, watermark: datetime | None, fresh: pd.DataFrame) -> pd.DataFrame:
    """Saved counts of periods before the watermark plus everything read since (re-read periods replaced)."""
    if saved is None or watermark is None:
        return fresh
    kept = saved[saved["period"] < pd.Timestamp(watermark)]
    merged = pd.concat([kept, fresh.astype(kept.dtypes.to_dict(), errors="ignore")], ignore_index=True)
    keys = [c for c in merged.columns if c != "n"]
    return merged.groupby(keys, dropna=False, sort=True, as_index=False)["n"].sum()


def save_state(path: Path, fingerprint: str, cells: pd.DataFrame) -> datetime:
    """Write the counts and the next watermark (start of the newest period) atomically; return the watermark."""
    watermark = pd.Timestamp(cells["period"].max()).to_pydatetime()
    records: list[list[Any]] = []
    for row in cells.itertuples(index=False):
        records.append([_plain(value) for value in row])
    data = {
        "format": FORMAT,
        "fingerprint": fingerprint,
        "watermark": watermark.isoformat(),
        "columns": list(cells.columns),
        "cells": records,
    }
    text = json.dumps(data)

    def write(partial: Path) -> None:
        partial.write_text(text, encoding="utf-8")

    write_atomic(path, write, "state file")
    return watermark


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if value is None or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value
