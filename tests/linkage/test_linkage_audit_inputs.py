"""Records the linkage audit cannot place are refused in one line, never silently left out of its counts."""

from __future__ import annotations

import pandas as pd
import pytest

from misflag.errors import InputError
from misflag.linkage import LinkageAuditSpec, audit_linkage


def test_a_record_without_a_source_is_refused() -> None:
    """With --source-column only pairs across the files are true pairs; a record of no file made every pair
    through it neither true nor false (SQL NULL), so 3 of 12 pairs left precision's and recall's counts."""
    records = pd.DataFrame(
        {"id": [f"r{i}" for i in range(20)], "c": [i // 2 for i in range(20)], "src": ["a", "b"] * 10}
    )
    pairs = pd.DataFrame(
        [(f"r{i}", f"r{i + 1}", 0.9) for i in range(0, 20, 2)] + [("r0", "r3", 0.95), ("r4", "r7", 0.95)],
        columns=["id_l", "id_r", "score"],
    )
    spec = LinkageAuditSpec(id_column="id", cluster_column="c", source_column="src", thresholds=(0.5,))
    whole = audit_linkage(pairs, records, spec=spec)
    counts = {r["metric"]: r["value"] for r in whole.select(attribute="overall", stage="p>=0.5")}
    assert (counts["tp_count"], counts["fp_count"], counts["fn_count"]) == (10, 2, 0)  # by hand: 12 pairs
    records.loc[[0, 3], "src"] = None
    with pytest.raises(InputError, match="2 record"):
        audit_linkage(pairs, records, spec=spec)
