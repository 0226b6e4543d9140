"""The EER interval re-finds the threshold on each bootstrap draw: coverage against the closed form.

Impostor scores N(0, 1) and genuine N(2, 1): the EER is Phi(-1) = 0.1587 exactly. 600 groups of 300 of
each; the interval must cover in at least the 0.1% quantile of Binomial(600, 0.95) (docs/biometrics.md
quotes 94.0-94.7% on other seeds).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binom, norm

from misflag.biometrics import audit_biometrics

GROUPS, PAIRS, SEPARATION = 600, 300, 2.0


def test_eer_interval_covers_the_closed_form() -> None:
    rng = np.random.default_rng(4)
    frame = pd.concat(
        pd.DataFrame(
            {
                "score": np.r_[rng.normal(0, 1, PAIRS), rng.normal(SEPARATION, 1, PAIRS)],
                "genuine": np.r_[np.zeros(PAIRS, int), np.ones(PAIRS, int)],
                "rep": f"r{r:04d}",
            }
        )
        for r in range(GROUPS)
    )
    result = audit_biometrics(frame, score="score", genuine="genuine", group="rep", threshold=1.0, bins=200)
    truth = float(norm.cdf(-SEPARATION / 2))
    rows = result.select(metric="eer", attribute="rep")
    assert len(rows) == GROUPS
    assert all(0 <= r["ci_low"] <= r["value"] <= r["ci_high"] <= 1 for r in rows)
    assert all("re-finds the EER threshold" in r["warning"] for r in rows)
    covered = sum(r["ci_low"] <= truth <= r["ci_high"] for r in rows)
    assert covered >= binom.ppf(0.001, GROUPS, 0.95)
