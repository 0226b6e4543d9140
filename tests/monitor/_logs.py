"""The monitor options that name the columns of the tests' decision logs (`make_log` in conftest.py and
the hand-built logs with the same columns): time `ts`, groups `grp` with A as reference, truth `truth`,
the algorithm's `flag` reviewed to `review`, reviewer pools `pool`."""

from __future__ import annotations

from typing import Any

ROLES: dict[str, Any] = {
    "time": "ts",
    "group": "grp",
    "reference": "A",
    "truth": "truth",
    "stages": [("algorithm", "flag"), ("review", "review")],
    "reviewer_pool": "pool",
}
