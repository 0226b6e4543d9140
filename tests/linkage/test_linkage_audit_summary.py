"""The linkage audit's plain-language summary says only what its rows support."""

from __future__ import annotations

import pandas as pd

from misflag.linkage import LinkageAuditSpec, audit_linkage


def _audit(wrong_score: float) -> str:
    """20 people in two groups of 10, true pairs (r0, r1), ...; one wrong link r0-r2 at `wrong_score`."""
    records = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(20)],
            "cluster": [i // 2 for i in range(20)],
            "g": ["A"] * 10 + ["B"] * 10,
        }
    )
    pairs = pd.DataFrame(
        [(f"r{i}", f"r{i + 1}", 0.95) for i in range(0, 20, 2)] + [("r0", "r2", wrong_score)],
        columns=["id_l", "id_r", "score"],
    )
    spec = LinkageAuditSpec(cluster_column="cluster", groups=("g",), thresholds=(0.9,))
    return audit_linkage(pairs, records, spec=spec).summary


def test_highest_wrongful_link_rate_is_named_only_when_someone_was_wrongly_linked() -> None:
    # r0 and r2 (both in A) wrongly linked: 2 of A's 10 people, none of B's
    assert "highest wrongful-link rate: g=A at 20.00%" in _audit(0.97)
    # below the threshold nobody is wrongly linked: no group is "highest" at 0.00%
    quiet = _audit(0.5)
    assert "highest" not in quiet and "people wrongly linked to someone else 0.00%" in quiet
