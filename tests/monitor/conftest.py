"""Synthetic timestamped decision logs with known rates, and a known change on a known day."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

START = pd.Timestamp("2024-01-01")
#: Share of people whose flag would be warranted (truth = 1) in every synthetic log.
PREVALENCE = 0.3


def make_log(
    days: int,
    per_group: int,
    fpr: Callable[[str, int], float],
    *,
    groups: tuple[str, ...] = ("A", "B", "C"),
    dismissal: Callable[[str, int], float] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per decision: ts (ISO text), grp, flag (algorithm), review (final; NULL = pending), truth, pool.

    `fpr(group, day)` is the algorithm's false positive rate, `dismissal(group, day)` the share of algorithmic
    flags that review clears (default 0.4). Truth positives are flagged with probability 0.7.
    """
    rng = np.random.default_rng(seed)
    frames = []
    for day in range(days):
        for group in groups:
            truth = rng.random(per_group) < PREVALENCE
            flagged = np.where(truth, rng.random(per_group) < 0.7, rng.random(per_group) < fpr(group, day))
            clear = dismissal(group, day) if dismissal else 0.4
            review = np.where(flagged, rng.random(per_group) >= clear, 0)
            seconds = rng.integers(0, 86_400, per_group)
            stamps = START + pd.Timedelta(days=day) + pd.to_timedelta(seconds, unit="s")
            frames.append(
                pd.DataFrame(
                    {
                        "ts": stamps.strftime("%Y-%m-%dT%H:%M:%S"),
                        "grp": group,
                        "flag": flagged.astype(int),
                        "review": review.astype(int),
                        "truth": truth.astype(int),
                        "pool": rng.choice(["reviewer-alice", "reviewer-bob"], per_group),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True).sort_values("ts", ignore_index=True)


@pytest.fixture(scope="session")
def steady_log() -> pd.DataFrame:
    """60 days, three groups, equal false positive rates (5%) and dismissal rates (40%)."""
    return make_log(60, 200, lambda group, day: 0.05)
