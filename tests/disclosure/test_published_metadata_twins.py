"""Every published field of a decision audit is the same for inputs that differ only inside withheld cells.

The reader's view: two inputs whose published rows are identical must give the same whole output
(summary text, metadata, extras), or the difference tells the reader something the rows withhold. Each
design below has a small group c (withheld, with a complementary group) and moves people between
states inside the withheld cells, compensated in another withheld group so that every published figure
stays put: k people of c flagged in place of k of a (or labelled, or past the second stage). The test
keeps the variants whose rows come out identical to the base's (at least two, so it cannot pass
vacuously) and compares everything else. The input's sha256 is left out: it is a digest of the input
itself, which no audit can make the same for different data (docs/disclosure.md says so).
With the summary of before 2026-12-07 (the audit's diagnostics in `metadata["disclosure_audit"]`), the
one- and two-attribute, intersected, two-stage and score designs fail (the unlabelled one has no
sensitive count that appears or vanishes; it checks the missing-truth metadata).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

from misflag.decisions import audit_decisions

#: a and b of 40 people, c of 5 (withheld whole); truth alternates 0, 1 within each group
SIZES = {"a": 40, "b": 40, "c": 5}


def _log(
    flagged: dict[str, range],
    decided: dict[str, range] | None = None,
    unlabelled: dict[str, range] | None = None,
) -> pa.Table:
    """Every truth-1 person flagged and decided; the j-th truth-0 person of a group (j = i // 2) is
    flagged where j is in `flagged[group]`, decided where also in `decided[group]` (default: flagged),
    and has no label where j is in `unlabelled[group]`. h splits each group by position (i % 4 < 2: y),
    so the j-th truth-0 person of every group has the same h: moving the same j between two groups
    keeps every margin of h."""
    columns: dict[str, list[Any]] = {"g": [], "h": [], "truth": [], "flag": [], "decision": []}
    for group, size in SIZES.items():
        for i in range(size):
            j, positive = i // 2, i % 2 == 1
            flag = positive or j in flagged.get(group, range(0))
            decision = positive or (flag and j in (decided or flagged).get(group, range(0)))
            missing = not positive and j in (unlabelled or {}).get(group, range(0))
            columns["g"].append(group)
            columns["h"].append("xy"[i % 4 < 2])
            columns["truth"].append(None if missing else int(positive))
            columns["flag"].append(int(flag))
            columns["decision"].append(int(decision))
    return pa.table(columns)


#: name -> (k people of c moved, compensated in a -> the log; the audit's options)
DESIGNS: dict[str, tuple[Callable[[int], pa.Table], dict[str, Any]]] = {
    "one attribute": (
        lambda k: _log({"c": range(k), "a": range(k, 6)}),
        {"flag": "flag", "groups": ["g"]},
    ),
    "two attributes": (
        lambda k: _log({"c": range(k), "a": range(k, 6)}),
        {"flag": "flag", "groups": ["g", "h"]},
    ),
    "two stages": (
        lambda k: _log({"c": range(2), "a": range(6)}, {"c": range(k), "a": range(k, 4)}),
        {"stages": [("flag", "flag = 1"), ("decision", "decision = 1")], "groups": ["g"]},
    ),
    "intersected": (
        lambda k: _log({"c": range(k), "a": range(k, 6)}),
        {"flag": "flag", "groups": ["g", "h"], "intersect": True},
    ),
    # the flag is score >= the threshold the overall FPR target picks; curves are published per grouping
    "score with a target FPR": (
        lambda k: _log({"c": range(k), "a": range(k, 6)}),
        {"flag": "flag", "groups": ["g"], "score": "flag * 0.8 + 0.1", "target_fpr": 0.1},
    ),
    "unlabelled people": (
        lambda k: _log({"a": range(6)}, unlabelled={"c": range(k), "a": range(6 + k, 8)}),
        {"flag": "flag", "groups": ["g"]},
    ),
}


def _published(log: pa.Table, options: dict[str, Any]) -> tuple[str, str]:
    """(the rows as JSON, everything else published, as JSON, less the input's digest)."""
    result = audit_decisions(log, truth="truth", replicates=100, **options)
    bundle = result.to_bundle()
    rows = json.dumps(bundle.pop("rows"), sort_keys=True, default=str)
    bundle["metadata"]["input"].pop("sha256")
    return rows, json.dumps(bundle, sort_keys=True, default=str)


@pytest.mark.parametrize("name", list(DESIGNS))
def test_inputs_with_the_same_rows_publish_the_same_metadata(name: str) -> None:
    variant, options = DESIGNS[name]
    rows, rest = _published(variant(0), options)
    twins = [rest]
    for k in (1, 2):
        other_rows, other_rest = _published(variant(k), options)
        if other_rows == rows:
            twins.append(other_rest)
    assert len(twins) >= 2, "no variant published the base's rows: the design tests nothing"
    withheld = [r for r in json.loads(rows) if r["suppressed"]]
    assert any(r["group"] == "c" for r in withheld)
    assert len(set(twins)) == 1
