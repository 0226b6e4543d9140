"""What `misflag ledger` commands read besides the store: events, pinned keys, numbers from the environment.

Each bad input stops with one InputError line naming it (exit code 2), never a traceback.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from misflag.errors import InputError
from misflag.ledger import parse_trusted


def read_events(source: str) -> list[dict[str, Any]]:
    """Events from a JSON object, a JSON array or JSON lines (a file, or - for stdin)."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read events from {source}: {error}") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise InputError(f"{source} is nested too deeply to be events") from None
    except json.JSONDecodeError:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except (json.JSONDecodeError, RecursionError) as error:
            raise InputError(f"{source} is neither JSON nor JSON lines: {error}") from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise InputError(f"{source} holds no events")
    return items


def env_number(name: str, default: float) -> float:
    """The environment variable `name` as a finite number, `default` when it is unset or empty (inf and nan
    are refused here: a count of entries or seconds made of them fails later as an internal error)."""
    try:
        value = float(os.environ.get(name) or default)
    except ValueError:
        raise InputError(f"{name} must be a number") from None
    if not math.isfinite(value):
        raise InputError(f"{name} must be a finite number (got {value:g})")
    return value


def pinned_keys(values: list[str]) -> dict[str, bytes]:
    """The trusted keys of every --public-key value (KEY_ID=HEX or a file of such lines), by key id."""
    keys: dict[str, bytes] = {}
    for value in values:
        keys |= parse_trusted(value)
    return keys
