"""Sample data of the workbench's "try it" buttons: synthetic files misflag generates, with known truths.

Real samples come from `misflag.datasets` (COMPAS, FEBRL) and the inventories that ship with misflag;
the two synthetic ones are drawn here from a fixed seed, so the same button gives the same figures:

- a verifier's score file: one row per comparison, three groups whose impostor scores differ, so at a
  threshold of 0.6 the false match rate of group C is several times group A's
  (closed form: P(N(mean, 0.1) >= 0.6) with impostor means 0.30, 0.35 and 0.40);
- a decision log of 180 days and two groups, whose false positive rate for group B doubles from day 120
  (0.10 to 0.20; group A stays at 0.10), which the monitor should raise as an alarm.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

#: Impostor score mean of each group of the synthetic verifier (genuine scores: mean 0.8, sd 0.08).
IMPOSTOR_MEANS = {"A": 0.30, "B": 0.35, "C": 0.40}
IMPOSTOR_SD = 0.1
GENUINE_PER_GROUP, IMPOSTORS_PER_GROUP = 1_000, 20_000
#: The synthetic decision log: days, rows per group and day, the day group B's false positive rate changes.
LOG_DAYS, LOG_ROWS_PER_DAY, CHANGE_DAY = 180, 80, 120
BASE_FPR, CHANGED_FPR, TRUE_FLAG_RATE, HARM_RATE = 0.10, 0.20, 0.7, 0.3
SEED = 2024


def verifier_scores(path: Path) -> Path:
    """Write the synthetic verifier's comparisons (group, genuine, score) as Parquet; returns `path`."""
    rng = np.random.default_rng(SEED)
    groups, genuine, scores = [], [], []
    for group, mean in IMPOSTOR_MEANS.items():
        groups += [group] * (GENUINE_PER_GROUP + IMPOSTORS_PER_GROUP)
        genuine += [1] * GENUINE_PER_GROUP + [0] * IMPOSTORS_PER_GROUP
        scores.append(rng.normal(0.8, 0.08, GENUINE_PER_GROUP))
        scores.append(rng.normal(mean, IMPOSTOR_SD, IMPOSTORS_PER_GROUP))
    table = pa.table(
        {
            "group": pa.array(groups),
            "genuine": pa.array(genuine, pa.int8()),
            "score": pa.array(np.concatenate(scores).round(6)),
        }
    )
    pq.write_table(table, path)
    return path


def decision_log(path: Path) -> Path:
    """Write the synthetic decision log (date, group, flagged, harm) as Parquet; returns `path`."""
    rng = np.random.default_rng(SEED)
    days = np.repeat(np.arange(LOG_DAYS), 2 * LOG_ROWS_PER_DAY)
    groups = np.tile(np.repeat(np.array(["A", "B"]), LOG_ROWS_PER_DAY), LOG_DAYS)
    harm = rng.random(days.size) < HARM_RATE
    fpr = np.where((groups == "B") & (days >= CHANGE_DAY), CHANGED_FPR, BASE_FPR)
    flagged = np.where(harm, rng.random(days.size) < TRUE_FLAG_RATE, rng.random(days.size) < fpr)
    dates = np.datetime64("2026-01-01") + days.astype("timedelta64[D]")
    table = pa.table(
        {
            "date": pa.array(dates.astype("datetime64[D]")),
            "group": pa.array(groups),
            "flagged": pa.array(flagged.astype(np.int8)),
            "harm": pa.array(harm.astype(np.int8)),
        }
    )
    pq.write_table(table, path)
    return path
