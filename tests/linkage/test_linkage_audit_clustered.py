"""Intervals of linkage rates account for units that share records: a small graph checked by hand."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from misflag.linkage import LinkageAuditSpec, audit_linkage
from misflag.linkage._clustered import effective_size
from misflag.result import AuditResult
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


def _row(result: AuditResult, metric: str) -> dict[str, Any]:
    (row,) = result.select(metric=metric, stage="p>=0.9")
    return row


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


def test_f1_interval_by_hand() -> None:
    """F1 = 2TP / (2TP + FP + FN) = 2J / (1 + J) with J = TP / (TP + FP + FN); its limits are J's Wilson limits
    mapped through 2J / (1 + J), at the effective size of the units (links or true pairs) clustered on the
    components of links and true entities together.

    On the graph above: TP 4, FP 2, FN 1 (C2-C3), F1 = 8/11, J = 4/7. Components (n, t): {A1, A2, B1} (2, 1),
    {C1, C2, C3} (3, 2), {D1, E1} (1, 0), {F1, F2} (1, 1); sum (t - 4n/7)^2 = (1 + 4 + 16 + 9)/49 = 30/49;
    V = 4/3 * 30/49 / 49 = 40/2401; p(1 - p) / V = (12/49) * 2401/40 = 14.7 > 7, so the count 7 is used.
    """
    result = audit_linkage(
        PAIRS, RECORDS, spec=LinkageAuditSpec(cluster_column="person", thresholds=(0.9,), min_cell=1)
    )
    row = _row(result, "f1")
    low, high = wilson_interval(4, 7)
    assert row["value"] == pytest.approx(8 / 11) and row["denominator"] == 7
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((2 * low / (1 + low), 2 * high / (1 + high)))


def test_f1_and_precision_intervals_where_clustering_bites() -> None:
    """Person P has four records, all six pairs linked; Q1, R1, S1, T1 are four people, all six pairs linked
    (false); U1-U2 linked (true), V1-W1 linked (false); Y1-Y2 is a true pair scored 0.2 (missed).

    F1 units by component (n, t): P (6, 6), QRST (6, 0), U (1, 1), VW (1, 0), Y (1, 0): TP 7, FP 7, FN 1,
    F1 = 14/22, J = 7/15. Sum (t - 7n/15)^2 = (16/5)^2 + (14/5)^2 + (8/15)^2 + 2 (7/15)^2 = 18.8;
    V = 5/4 * 18.8 / 15^2; effective n = (56/225) / V = 56/23.5 = 112/47 (< 15).
    Precision units (links) by link component: P (6, 6), QRST (6, 0), U (1, 1), VW (1, 0): p = 1/2,
    sum (t - n/2)^2 = 9 + 9 + 1/4 + 1/4 = 18.5; V = 4/3 * 18.5 / 14^2; effective n = (1/4) / V = 147/74.
    """
    ids = ["P1", "P2", "P3", "P4", "Q1", "R1", "S1", "T1", "U1", "U2", "V1", "W1", "Y1", "Y2"]
    records = pd.DataFrame({"id": ids, "person": [i[0] for i in ids]})
    pairs = [
        (a, b, 0.95) for group in (ids[0:4], ids[4:8]) for k, a in enumerate(group) for b in group[k + 1 :]
    ]
    pairs += [("U1", "U2", 0.95), ("V1", "W1", 0.95), ("Y1", "Y2", 0.2)]
    spec = LinkageAuditSpec(cluster_column="person", thresholds=(0.9,), min_cell=1)
    result = audit_linkage(pd.DataFrame(pairs, columns=["id_l", "id_r", "score"]), records, spec=spec)

    row = _row(result, "f1")
    low, high = wilson_interval(7 / 15 * 112 / 47, 112 / 47)
    assert row["value"] == pytest.approx(14 / 22) and row["denominator"] == 15
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((2 * low / (1 + low), 2 * high / (1 + high)))

    row = _row(result, "precision")
    assert row["value"] == pytest.approx(0.5) and row["denominator"] == 14
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(wilson_interval(0.5 * 147 / 74, 147 / 74))
