"""What the monitor withholds beyond the cells under the minimum: reviewer pools that would give a
withheld count back, and dismissal floors whose baseline holds a withheld period (docs/monitor.md,
"Disclosure control")."""

from __future__ import annotations

from math import isfinite

import numpy as np

from misflag.monitor._watch import Watch


def pools_withheld(pool_grid: np.ndarray, min_cell: int, period_hidden: np.ndarray) -> np.ndarray:
    """Which pool-periods are withheld: every pool under the minimum cell, and every pool of a period where
    (`period_hidden`) a group's figures are withheld, a group too small to be listed has rows or an earlier
    output of the state file withheld the pools, or where a pool holds 1 to min_cell - 1 rows (a pool
    without rows there gives nobody back, so it withholds only itself).

    Pools and groups split the same rows, so in a period whose groups are all published the pools' total is
    known: one pool withheld alone is that total minus the others, and published pools minus published
    groups give the unlisted groups' rows (tests/monitor/test_monitor_lp_attack.py). A period whose pools
    were withheld with rows stays withheld in every later output of the state file (`period_hidden`):
    pools only grow, so a later output's pools bound the earlier ones from above, and with the earlier
    groups' totals they pinned late-reviewed pools (tests/monitor/test_monitor_lp_attack_releases.py).
    """
    small = (pool_grid > 0) & (pool_grid < min_cell)
    return (pool_grid < min_cell) | (period_hidden | small.any(axis=0))[None, :]


def withhold_floors(watch: Watch, attribute: str, labels: list[str], hidden: np.ndarray, base: int) -> None:
    """Leave out of the published floors each label whose baseline periods include a withheld one: a floor
    is a function of the baseline's counts, and trying every count that fits it gives a withheld period
    back (tests/monitor/test_monitor_lp_attack.py). Detection still uses the floor."""
    withheld: list[bool] = np.asarray(hidden[:, :base].any(axis=1)).tolist()
    for label, any_withheld in zip(labels, withheld, strict=True):
        if any_withheld:
            watch.floors.pop((attribute, label), None)


def alarm_bound(bound: float) -> str:
    """An alarm's bound as text: a fall alarm's floor is NaN where its baseline holds a withheld period."""
    return f"{bound:.3g}" if isfinite(bound) else "withheld floor"
