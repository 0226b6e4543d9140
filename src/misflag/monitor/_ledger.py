"""A ledger as the monitor's source (`--ledger`, docs/monitor.md "The ledger"): its decision log's columns
as the watch's defaults, and the log itself, read with the ledger's key (`--ledger-key`).

The decision log folds only the entries it vouches for (docs/ledger.md): under a checkpoint signed by the
key pinned in the `.pub` beside the signing key, or after it with a valid proof under the `.writer-key`
beside it. So a sealed ledger is monitored with the public key alone; its unsealed tail needs the writer
key, and the refusal names `--ledger-key` (the option of this command, not `ledger export`'s `--key`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from misflag.errors import InputError

#: What `--ledger` monitors unless told otherwise: the ledger's decision-log export (docs/ledger.md).
LEDGER_TIME = "first_ts"
LEDGER_STAGES = (
    ("algorithm", "flagged"),
    ("review", "CASE WHEN flagged = 0 THEN 0 WHEN reviewed = 1 THEN review_confirmed END"),
)
LEDGER_TRUTH = "truth"
#: The ledger's pseudonymous reviewer column: each reviewer (token) is a pool, shown as "pool 1", ...
LEDGER_POOL = "reviewer_digest"


def ledger_roles(
    time: str | None,
    truth: str | None,
    flag: str | None,
    stages: Sequence[tuple[str, str]],
    reviewer_pool: str | None,
) -> tuple[str, str, Sequence[tuple[str, str]], str | None]:
    """(time, truth, stages, reviewer pool) with the ledger's columns where the caller left them out (its
    stages and pools only where neither a flag nor stages are given)."""
    if flag is None and not stages:
        stages, reviewer_pool = LEDGER_STAGES, reviewer_pool or LEDGER_POOL
    return time or LEDGER_TIME, truth or LEDGER_TRUTH, stages, reviewer_pool


def ledger_key_path(key: Any, ledger: str | None) -> Path | None:
    """The signing key's path given as `ledger_key` (it need not exist: its `.pub` and `.writer-key`
    beside it are what is read), refused in one line where it cannot name such a file."""
    if key is None:
        return None
    if ledger is None:
        raise InputError("{ledger_key} is the key of a ledger: give it with {ledger}")
    from misflag.ledger import key_file_path

    return key_file_path(key, "{ledger_key}")


def ledger_table(url: str, key: Path | None) -> pa.Table:
    """The ledger's decision log, checked with the keys beside `key` (else the ledger's default key)."""
    from misflag.ledger import Ledger, decision_log

    store = Ledger.open(url, key_path=key, create=False)
    try:
        return decision_log(store, key_option="{ledger_key}")
    finally:
        store.close()
