"""Small groups of a linkage audit stay withheld: no subtraction from the published figures recovers one.

People are in exactly one group of an attribute, so a group's people and wrongly linked people add up to
the overall row's. With one group withheld, the overall figure minus the shown groups is that group's
figure; the audit must then withhold a second group (the next smallest), in the long table, the threshold
curves, the clerical estimates and the report. Several small groups are not enough either: their sum, and
what the auditor knows (each small one holds fewer than min_cell people), bound each one; the published
reasons are one text and do not say which (see also
test_linkage_lp_attack.py, which attacks a FEBRL audit with an integer program).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from misflag.linkage import LinkageAuditSpec, audit_linkage
from misflag.linkage._evaluate import withheld_groups

#: group sizes: A and B publishable, C under the minimum cell of 10
SIZES = {"A": 20, "B": 16, "C": 4}


def _records_and_pairs() -> tuple[pd.DataFrame, pd.DataFrame]:
    groups = [g for g, n in SIZES.items() for _ in range(n)]
    records = pd.DataFrame({"id": [f"r{i}" for i in range(len(groups))], "group": groups})
    records["cluster"] = np.arange(len(records)) // 2  # true pairs (r0, r1), (r2, r3), ...
    ids = records["id"].tolist()
    true = [(ids[i], ids[i + 1], 0.95) for i in range(0, len(ids), 2)]
    # wrong links: two inside C (r36-r38, r37-r39), one A-A (r0-r3), one B-B (r20-r23)
    wrong = [("r36", "r38", 0.97), ("r37", "r39", 0.96), ("r0", "r3", 0.92), ("r20", "r23", 0.91)]
    pairs = pd.DataFrame(true + wrong, columns=["id_l", "id_r", "score"])
    return records, pairs


def _wrongly_linked_by_hand(records: pd.DataFrame, pairs: pd.DataFrame) -> dict[str, int]:
    """People linked to a record of another cluster, per group, with pandas."""
    cluster = records.set_index("id")["cluster"]
    wrong = pairs[pairs["id_l"].map(cluster) != pairs["id_r"].map(cluster)]
    people = set(wrong["id_l"]) | set(wrong["id_r"])
    return (
        records[records["id"].isin(people)]
        .groupby("group")
        .size()
        .reindex(list(SIZES), fill_value=0)
        .to_dict()
    )


def test_subtraction_cannot_recover_a_withheld_group() -> None:
    records, pairs = _records_and_pairs()
    assert _wrongly_linked_by_hand(records, pairs) == {"A": 2, "B": 2, "C": 4}
    spec = LinkageAuditSpec(cluster_column="cluster", groups=("group",), thresholds=(0.5,))
    result = audit_linkage(pairs, records, spec=spec)
    rows = result.select(attribute="group", metric="wrongful_link_rate")
    withheld = {r["group"] for r in rows if r["suppressed"]}
    # C is small; B, the next smallest, is withheld with it, so C + B is all subtraction gives
    assert withheld == {"C", "B"}
    assert all(r["value"] is None for r in result.select(attribute="group", group="B"))
    shown = [r for r in rows if not r["suppressed"]]
    overall = result.select(attribute="overall", metric="wrongful_link_rate")[0]
    left_people = overall["denominator"] - sum(r["denominator"] for r in shown)
    assert left_people == SIZES["B"] + SIZES["C"]  # two groups' worth, not C's 4 people
    curves = result.extras["threshold_curves"].to_pylist()
    assert {r["group"] for r in curves if r["attribute"] == "group"} == {"A"}


def test_clerical_estimates_withhold_the_same_groups(tmp_path: Path) -> None:
    records, pairs = _records_and_pairs()
    labels = pairs.assign(stratum="all", stratum_size=len(pairs), label=1)
    path = tmp_path / "labels.csv"
    labels.to_csv(path, index=False)
    spec = LinkageAuditSpec(groups=("group",), thresholds=(0.5,))
    result = audit_linkage(pairs, records, spec=spec, labels=str(path))
    withheld = {r["group"] for r in result.select(attribute="group", metric="precision") if r["suppressed"]}
    assert withheld == {"C", "B"}


def test_one_group_withheld_among_two_withholds_both() -> None:
    records, pairs = _records_and_pairs()
    records = records[records["group"] != "A"]
    pairs = pairs[pairs["id_l"].isin(records["id"]) & pairs["id_r"].isin(records["id"])]
    spec = LinkageAuditSpec(cluster_column="cluster", groups=("group",), thresholds=(0.5,))
    result = audit_linkage(pairs, records, spec=spec)
    assert all(r["suppressed"] for r in result.select(attribute="group"))
    assert not any(r["suppressed"] for r in result.select(attribute="overall"))


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        # B + C = 18 and each is under 10, so each is 9: A (the next smallest) is withheld too; then
        # B + C + A = 48 with A in [10, 50] (Z is the smallest shown) leaves B in [1, 9]
        ({"B": 9, "C": 9, "A": 30, "Z": 50}, {"B", "C", "A"}),
        # B + C = 3 with each at least 1: each in [1, 2], narrower than 5 people
        ({"B": 1, "C": 2, "A": 30, "Z": 50}, {"B", "C", "A"}),
        # B + C = 7: each in [1, 6], 5 people wide (ceil(10 / 2)): protected without a third group
        ({"B": 3, "C": 4, "A": 30, "Z": 50}, {"B", "C"}),
        # one small group: the next smallest is enough (B + A = 33 with A in [10, 50]: B in [1, 9])
        ({"B": 3, "A": 30, "Z": 50}, {"B", "A"}),
    ],
)
def test_two_small_groups_are_not_pinned_by_their_sum(sizes: dict[str, int], expected: set[str]) -> None:
    """Withheld groups' people add up to the overall row minus the shown groups. The published reasons
    are one text, but the plan holds even against a reader who knows which groups are under min_cell
    (the auditor): groups are withheld until each small one's range is 5 people wide, and every
    withheld group, small or not, gives the same reason."""
    keyed = {("group", g): n for g, n in sizes.items()} | {("overall", "all"): sum(sizes.values())}
    plan = withheld_groups(keyed, 10)
    assert {g for _, g in plan} == expected
    assert len(set(plan.values())) == 1


@pytest.mark.parametrize("score", ["nan", "NaN"])
def test_raw_scores_must_be_numbers(tmp_path: Path, score: str) -> None:
    """DuckDB orders NaN above every number: a NaN score would count as a link at every threshold."""
    from misflag.errors import InputError

    records, pairs = _records_and_pairs()
    path = tmp_path / "pairs.csv"
    pairs.astype({"score": object}).assign(score=[score, *pairs["score"].iloc[1:]]).to_csv(path, index=False)
    spec = LinkageAuditSpec(cluster_column="cluster", thresholds=(0.5,), probabilities=False)
    with pytest.raises(InputError, match="not a number"):
        audit_linkage(str(path), records, spec=spec)
