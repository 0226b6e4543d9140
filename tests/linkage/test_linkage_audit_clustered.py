"""Intervals of linkage rates account for units that share records: a small graph checked by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from misflag.linkage import LinkageAuditSpec, audit_linkage
from misflag.linkage._clustered import effective_size
from misflag.stats import wilson_interval

# Persons A, C, F have duplicates; B, D, E, G, H are single records. At p >= 0.9 the links form the components
# {A1, A2, B1}, {C1, C2, C3}, {D1, E1}, {F1, F2}; G1 and H1 are linked to nobody. C2-C3 is a true pair the
# matcher scored 0.3 (missed at 0.9).
RECORDS = pd.DataFrame(
    {
        "id": ["A1", "A2", "B1", "C1", "C2", "C3", "D1", "E1", "F1", "F2", "G1", "H1"],
        "person": ["A", "A", "B", "C", "C", "C", "D", "E", "F", "F", "G", "H"],
    }
)
PAIRS = pd.DataFrame(
    [
        ("A1", "A2", 0.95),
        ("A1", "B1", 0.95),
        ("C1", "C2", 0.95),
        ("C1", "C3", 0.95),
        ("C2", "C3", 0.30),
        ("D1", "E1", 0.95),
        ("F1", "F2", 0.95),
    ],
    columns=["id_l", "id_r", "score"],
)


def _row(result: object, metric: str) -> dict[str, float]:
    (row,) = result.select(metric=metric, stage="p>=0.9")  # type: ignore[attr-defined]
    return row  # type: ignore[no-any-return]


def test_clustered_intervals_by_hand() -> None:
    spec = LinkageAuditSpec(cluster_column="person", thresholds=(0.9,), min_cell=1)
    result = audit_linkage(PAIRS, RECORDS, spec=spec)

    # wrongful-link rate: A1, B1, D1, E1 of 12 people, p = 1/3. Per component (n, t): (3, 2), (3, 0), (2, 2),
    # (2, 0), (1, 0), (1, 0); sum (t - n/3)^2 = 1 + 1 + 16/9 + 4/9 + 1/9 + 1/9 = 40/9;
    # V = 6/5 * 40/9 / 12^2 = 1/27; effective n = p(1 - p) / V = (2/9) * 27 = 6, half the 12 people.
    row = _row(result, "wrongful_link_rate")
    assert row["value"] == pytest.approx(4 / 12) and row["denominator"] == 12
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(wilson_interval(2, 6))

    # precision: 6 links, 4 true, p = 2/3. Components (n, t): (2, 1), (2, 2), (1, 0), (1, 1);
    # sum (t - 2n/3)^2 = 1/9 + 4/9 + 4/9 + 1/9 = 10/9; V = 4/3 * 10/9 / 36 = 10/243;
    # effective n = (2/9) / (10/243) = 5.4
    row = _row(result, "precision")
    assert row["value"] == pytest.approx(4 / 6) and row["denominator"] == 6
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(wilson_interval(2 / 3 * 5.4, 5.4))

    # recall: 5 true pairs, 4 found; by person (n, t): A (1, 1), C (3, 2), F (1, 1); p = 0.8;
    # V = 3/2 * (0.04 + 0.16 + 0.04) / 25 = 0.0144; p(1 - p) / V = 11.1 > 5, so the count itself (5) is used
    row = _row(result, "recall")
    assert row["value"] == pytest.approx(0.8) and row["denominator"] == 5
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(wilson_interval(4, 5))


@pytest.mark.parametrize(
    ("sums", "expected"),
    [
        ((4, 10, 6, 7, 6, 4), 5.4),  # the precision case above: C, sum n^2, sum t^2, sum t n, n, t
        ((6, 28, 8, 10, 12, 4), 6.0),  # the wrongful-link case above
        ((3, 4, 4, 4, 4, 4), 4.0),  # p = 1: no variance, the count is used
        ((1, 16, 9, 12, 4, 3), 4.0),  # one cluster: no between-cluster variance to estimate
        (None, None),
    ],
)
def test_effective_size_from_cluster_sums(
    sums: tuple[float, float, float, float, float, float] | None, expected: float | None
) -> None:
    assert effective_size(sums) == pytest.approx(expected)
