"""One COMPAS decision audit shared by the report tests (ProPublica's flag: Medium or High risk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from misflag.decisions import audit_decisions
from misflag.result import AuditResult

PROPUBLICA_FLAG = "score_text in ('Medium','High')"


@pytest.fixture(scope="session")
def compas_result(compas_csv: Path) -> AuditResult:
    """COMPAS audited by race with a score (threshold curves), 200 bootstrap replicates."""
    result = audit_decisions(
        compas_csv,
        truth="two_year_recid",
        flag=PROPUBLICA_FLAG,
        groups=["race", "sex"],
        score="decile_score",
        replicates=200,
        seed=3,
    )
    result.metadata["command"] = f"misflag decisions audit {compas_csv} --flag ... (test)"
    return result
