"""Imported by the jobs' fork server only: one tiny audit and report, so that every job's process starts
with misflag's lazy imports done, its report templates compiled and its engine's first-use costs paid
(a job then takes as long as the same audit in a warm process)."""

from __future__ import annotations

import pandas as pd

from misflag.decisions import DecisionSpec, run_audit
from misflag.report import render_report


def _warm_up() -> None:
    frame = pd.DataFrame({"g": ["a", "b"] * 50, "flag": [0, 1, 1, 0] * 25, "truth": [0, 1] * 50})
    try:
        result = run_audit(DecisionSpec(truth="truth", flag="flag", groups=("g",), replicates=100), frame)
        render_report(result)
    except Exception:  # only a warm-up: a failure here must not stop the fork server; jobs report theirs
        return


_warm_up()
