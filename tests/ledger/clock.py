"""A clock for ledger tests: the time every ledger module reads, set by the test."""

from __future__ import annotations

import sys
from datetime import datetime

import pytest


def pin_ledger_clock(monkeypatch: pytest.MonkeyPatch, start: datetime) -> list[datetime]:
    """Patch `now` wherever a ledger module imported it; the test moves time by changing the list's item."""
    current = [start]

    def now() -> str:
        return current[0].isoformat(timespec="microseconds").replace("+00:00", "Z")

    for name, module in list(sys.modules.items()):
        if name.startswith("misflag.ledger") and callable(getattr(module, "now", None)):
            monkeypatch.setattr(module, "now", now)
    return current
