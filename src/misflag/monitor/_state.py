"""The state file of incremental monitoring: the count table so far and where the next run starts reading.

The state holds counts only (reviewer pools as SHA-256 digests, never names). The next run re-reads rows
from the start of the newest period seen (it may have been incomplete) and replaces those counts, so a
scheduled run over a growing log gives exactly the answer of a full run over the same rows.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from misflag._text import shown
from misflag.errors import InputError, literal
from misflag.io import write_atomic
from misflag.monitor._arrival import Evidence
from misflag.monitor._cells import Cells, as_datetimes, concat, datetimes

FORMAT = "misflag-monitor-state/1"
#: Periods whose reviewer pools (with rows) an output of this state file withheld: later outputs withhold
#: them again (`misflag.monitor._withhold.pools_withheld`).
WITHHELD = "withheld_pool_periods"
#: The span of times datetime64[ns] (and so the count table) can hold.
EARLIEST, LATEST = datetime(1678, 1, 1), datetime(2261, 12, 31)


def state_columns(stages: int) -> list[str]:
    """The count table's columns as a state file stores them, for a pipeline of `stages` stages."""
    return ["period", "g", "pool", *(f"s{i}" for i in range(stages)), "t", "w", "n"]


def load_state(
    path: Path | None, fingerprint: str, stages: int
) -> tuple[Cells | None, datetime | None, Evidence | None, frozenset[str]]:
    """The saved counts, the time from which to read again, with `--evidence arrival` the evidence used
    so far, and the periods (ISO starts) whose pools stay withheld; (None, None, None, nothing) without a
    state file or when it does not exist yet.

    Every field is checked for its type and range before use (a state file is input like any other), so a
    hand-edited or damaged file is refused with one line naming the first bad field.
    """
    if path is None or not path.exists():
        return None, None, None, frozenset()
    name = literal(str(path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"state file {name} is not a misflag monitor state: {detail}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"state file {name} is not a misflag monitor state ({FORMAT})")
    if data.get("fingerprint") != fingerprint:
        raise InputError(
            f"state file {name} was written with other {{time}}/{{group}}/{{flag}}/{{stages}}/{{truth}}/{{weight}}/{{period}} "
            "settings; use a new state file for new settings"
        )
    try:
        cells, watermark = _parse(data, state_columns(stages))
        evidence = Evidence.from_json(data["evidence"]) if "evidence" in data else None
        if WITHHELD not in data:  # deleted by hand, or written before misflag kept it: read as "nothing
            # withheld", the next output would publish pools an earlier one withheld
            raise _Damaged(
                f"{WITHHELD} is missing (every state lists it, empty or not): start a new state file"
            )
        withheld = _periods(data[WITHHELD])
    except (_Damaged, ValueError) as damage:
        raise InputError(f"state file {name} is damaged: {literal(str(damage))}") from None
    return cells, watermark, evidence, withheld


class _Damaged(Exception):
    """A field of a state file that is not what misflag wrote."""


def _parse(data: dict[str, Any], columns: list[str]) -> tuple[Cells, datetime]:
    if set(data) - {"evidence", WITHHELD} != {"format", "fingerprint", "watermark", "columns", "cells"}:
        raise _Damaged("unexpected or missing fields")
    if data["columns"] != columns:
        raise _Damaged(f"columns are not {', '.join(columns)}")
    cells = data["cells"]
    if not isinstance(cells, list) or not cells:
        raise _Damaged("cells must be a non-empty list")
    rows = [_row(i, cell, columns) for i, cell in enumerate(cells)]
    watermark = _time(data["watermark"], "watermark")
    newest = max(row[0] for row in rows)
    if watermark != newest:
        raise _Damaged(f"watermark {watermark.isoformat()} is not the newest period ({newest.isoformat()})")
    values = list(zip(*rows, strict=True))

    def objects(column: tuple[Any, ...]) -> np.ndarray:
        out = np.empty(len(column), dtype=object)
        out[:] = column
        return out

    def numbers(column: tuple[Any, ...]) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in column], dtype=float)

    cells = Cells(
        period=datetimes(values[0]),
        g=objects(values[1]),
        pool=objects(values[2]),
        stages=tuple(numbers(column) for column in values[3:-3]),
        t=numbers(values[-3]),
        w=numbers(values[-2]),
        n=np.array(values[-1], dtype=np.int64),
    )
    return cells, watermark


def _row(index: int, cell: Any, columns: list[str]) -> list[Any]:
    where = f"cell {index + 1}"
    if not isinstance(cell, list) or len(cell) != len(columns):
        raise _Damaged(f"{where} is not a list of {len(columns)} values")
    out: list[Any] = []
    for column, value in zip(columns, cell, strict=True):
        field = f"{where}, column {column}"
        if column == "period":
            out.append(_time(value, field))
        elif column == "g":
            out.append(_text(value, field, nullable=False))
        elif column == "pool":
            out.append(_text(value, field, nullable=True))
        elif column == "n":
            if type(value) is not int or not 0 <= value < 2**63:
                raise _Damaged(f"{field} must be a whole number of rows, got {shown(value)}")
            out.append(value)
        elif column == "w":
            if not _number(value) or not value > 0:
                raise _Damaged(f"{field} must be a positive number, got {shown(value)}")
            out.append(float(value))
        else:  # stage flags and truth: 0, 1 or null (pending)
            if value is not None and (not _number(value) or value not in (0, 1)):
                raise _Damaged(f"{field} must be 0, 1 or null, got {shown(value)}")
            out.append(None if value is None else float(value))
    return out


def _periods(value: Any) -> frozenset[str]:
    """The withheld pool periods as misflag writes them: a list of ISO period starts."""
    if not isinstance(value, list):
        raise _Damaged(f"{WITHHELD} must be a list of period starts")
    return frozenset(_time(start, f"{WITHHELD} {i + 1}").isoformat() for i, start in enumerate(value))


def _number(value: Any) -> bool:
    return type(value) in (int, float) and not math.isnan(value)


def _text(value: Any, field: str, nullable: bool) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise _Damaged(f"{field} must be text, got {shown(value)}")
    return value


def _time(value: Any, field: str) -> datetime:
    """A naive ISO 8601 timestamp within pandas' range, as misflag writes them (no offset)."""
    if not isinstance(value, str) or len(value) > 40:
        raise _Damaged(f"{field} must be an ISO 8601 timestamp, got {shown(value)}")
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise _Damaged(f"{field} must be an ISO 8601 timestamp, got {shown(value)}") from None
    if stamp.tzinfo is not None:
        raise _Damaged(f"{field} must be a timestamp without a UTC offset, got {shown(value)}")
    if not EARLIEST <= stamp <= LATEST:
        raise _Damaged(f"{field} lies outside the years 1678-2261, got {shown(value)}")
    return stamp


def merge(saved: Cells | None, watermark: datetime | None, fresh: Cells) -> Cells:
    """Saved counts of periods before the watermark plus everything read since (re-read periods replaced),
    equal cells merged and sorted by their keys."""
    if saved is None or watermark is None:
        return fresh
    kept = saved.take(saved.period < np.datetime64(watermark, "ns"))
    parts = [part for part in (kept, fresh) if len(part)]
    if not parts:
        return fresh
    return concat(parts).summed()


def save_state(
    path: Path,
    fingerprint: str,
    cells: Cells,
    evidence: Evidence | None = None,
    withheld: frozenset[str] = frozenset(),
) -> datetime:
    """Write the counts, the next watermark (start of the newest period), any arrival evidence and what
    the outputs have withheld, atomically; return the watermark."""
    watermark = as_datetimes(cells.period.max(keepdims=True))[0]
    columns = cells.columns()
    plain: list[list[Any]] = [[stamp.isoformat() for stamp in as_datetimes(cells.period)]]
    plain += [values.tolist() for name, values in columns.items() if name != "period"]
    records = [[None if v != v else v for v in row] for row in zip(*plain, strict=True)]  # NaN: null
    data: dict[str, Any] = {
        "format": FORMAT,
        "fingerprint": fingerprint,
        "watermark": watermark.isoformat(),
        "columns": list(columns),
        "cells": records,
    }
    if evidence is not None:
        data["evidence"] = evidence.to_json()
    data[WITHHELD] = sorted(withheld)  # empty too: a file without it is refused (`load_state`)
    text = json.dumps(data)

    def write(partial: Path) -> None:
        partial.write_text(text, encoding="utf-8")

    write_atomic(path, write, "state file")
    return watermark
