"""An EER where the FMR and FNMR curves do not meet at any observed score: a matcher whose impostors share
its top score. The FVC2000 rule then reads the threshold above every score (FMR 0, FNMR 1), as the
bootstrap's bin-edge grid already did; before, the exact EER returned nothing and the row was dropped
silently, for exactly the matchers an auditor most needs to see.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from misflag.biometrics import audit_biometrics


def _log(impostors: dict[float, int], genuines: dict[float, int]) -> pd.DataFrame:
    scores = [s for s, n in impostors.items() for _ in range(n)] + [
        s for s, n in genuines.items() for _ in range(n)
    ]
    flags = [0] * sum(impostors.values()) + [1] * sum(genuines.values())
    return pd.DataFrame({"score": scores, "genuine": flags})


def _eer(log: pd.DataFrame, distance: bool = False) -> dict[str, Any]:
    result = audit_biometrics(log, score="score", genuine="genuine", threshold=2.0, distance=distance)
    rows = result.select(metric="eer", group="all")
    assert len(rows) == 1, "the EER row is missing"
    return {**rows[0], "threshold": result.metadata["eer_thresholds"]["overall = all"]}


def test_impostors_sharing_the_top_score_read_the_threshold_below_it() -> None:
    # Impostors 12 at 3, 8 at 1; genuines 6 at 1, 14 at 3.  By hand: at t = 1 FMR 20/20, FNMR 0/20; at
    # t = 3 FMR 12/20 = 0.6 > FNMR 6/20 = 0.3, so no observed score has FMR <= FNMR; above 3: FMR 0,
    # FNMR 1.  t2 = above, t1 = 3; sums 0.9 (t1) <= 1 (t2): EER (0.6 + 0.3) / 2 = 0.45 at t = 3.
    row = _eer(_log({3.0: 12, 1.0: 8}, {1.0: 6, 3.0: 14}))
    assert math.isclose(row["value"], 0.45, abs_tol=1e-15) and row["threshold"] == 3.0
    assert 0.0 <= row["ci_low"] <= row["value"] <= row["ci_high"] <= 1.0


def test_impostors_above_genuines_read_the_threshold_above_every_score() -> None:
    # A reversed matcher: impostors all at 3; genuines 10 at 1, 10 at 3.  At t = 3 FMR 1 > FNMR 0.5;
    # above 3 FMR 0, FNMR 1: sums 1.5 (t1) > 1 (t2), so EER 0.5 at the next double above 3.
    row = _eer(_log({3.0: 20}, {1.0: 10, 3.0: 10}))
    assert row["value"] == 0.5 and row["threshold"] == math.nextafter(3.0, math.inf)


def test_all_tied_scores_have_an_eer_of_one_half() -> None:
    # Every score 2: at t = 2 FMR 1, FNMR 0 (sum 1); above: FMR 0, FNMR 1 (sum 1); the tie picks t1 = 2.
    row = _eer(_log({2.0: 20}, {2.0: 20}))
    assert row["value"] == 0.5 and row["threshold"] == 2.0


def test_distances_mirror_similarities() -> None:
    # The first toy with scores negated and read as distances: the same EER, the threshold negated.
    log = _log({3.0: 12, 1.0: 8}, {1.0: 6, 3.0: 14})
    log["score"] = -log["score"]
    row = _eer(log, distance=True)
    assert math.isclose(row["value"], 0.45, abs_tol=1e-15) and row["threshold"] == -3.0
    assert np.isfinite(row["ci_low"]) and np.isfinite(row["ci_high"])
