"""The linkage audit's own LP audit (linkage/_disclosure.py) against the attacker of test_linkage_lp_attack.py.

The attacker is written independently of the audit's model (it reads the saved bundle, not the counts),
so each test runs the audit as a reader would get it and asks the attacker what it can pin.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from misflag.cli import main
from misflag.linkage._disclosure import Outcome
from tests.linkage.test_linkage_lp_attack import (  # noqa: F401  (linked and truth are fixtures)
    GROUPS,
    MIN_CELL,
    _primary_only,
    attack,
    audit,
    linked,
    no_lp_audit,
    truth,
    withheld,
)


def _diagnostics(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """Each run's `auditor_only` diagnostics, as the in-memory result holds them (never written): the
    list fills as `linkage audit` runs."""
    from misflag.linkage import _audit

    seen: list[dict[str, object]] = []
    real = _audit.protect

    def spied(*args: Any) -> Outcome:
        outcome = real(*args)
        if outcome.summary is not None:
            seen.append(outcome.summary.auditor_only)
        return outcome

    monkeypatch.setattr(_audit, "protect", spied)
    return seen


def _tiny_groups(folder: Path) -> tuple[Path, Path, dict[str, dict[tuple[str, str], int]]]:
    """25 people: attribute x has 22 groups (3 of 2 people, 19 of 1), attribute y two (12 and 13). True
    pairs (r0, r1), (r2, r3), ... at 0.95; everyone is also linked to the next person but one at 0.92,
    wrongly, so every group's people are its wrongly linked people."""
    ids = [f"r{i}" for i in range(25)]
    x = ["a", "a", "b", "b", "c", "c", *(f"s{i:02d}" for i in range(19))]
    y = ["p"] * 12 + ["q"] * 13
    records = pd.DataFrame({"id": ids, "x": x, "y": y, "cluster": [i // 2 for i in range(25)]})
    pairs = [(ids[i], ids[i + 1], 0.95) for i in range(0, 24, 2)]
    pairs += [(ids[i], ids[i + 2], 0.92) for i in range(23)]
    records.to_parquet(folder / "records.parquet")
    pd.DataFrame(pairs, columns=["id_l", "id_r", "score"]).to_parquet(folder / "pairs.parquet")
    facts: dict[str, dict[tuple[str, str], int]] = {"x": {}, "y": {}}
    for attribute, column in (("x", x), ("y", y)):
        for group in sorted(set(column)):
            members = {ids[i] for i, g in enumerate(column) if g == group}
            touching = [p for p in pairs if p[0] in members or p[1] in members]
            true = [p for p in touching if p[2] == 0.95]
            facts[attribute] |= {
                (group, "people"): len(members),
                (group, "wrongly_linked@0.5"): len(members),
                (group, "true_pairs"): len(true),
                (group, "tp@0.5"): len(true),
                (group, "fn@0.5"): 0,
                (group, "fp@0.5"): len(touching) - len(true),
            }
    return folder / "records.parquet", folder / "pairs.parquet", facts


def _audit_tiny(
    folder: Path, min_cell: int = 10
) -> tuple[dict[str, Any], dict[str, dict[tuple[str, str], int]]]:
    records, pairs, facts = _tiny_groups(folder)
    saved = folder / "audit.json"
    argv = ["linkage", "audit", str(pairs), "--records", str(records), "--truth", "cluster"]
    argv += ["--group", "x", "--group", "y", "--min-cell", str(min_cell), "--threshold", "0.5"]
    assert main([*argv, "--save", str(saved), "--format", "csv"]) == 0
    return json.loads(saved.read_text()), facts


def test_every_group_withheld_and_still_too_few_is_pinned_without_the_lp_audit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control (the tree before the LP audit): all 22 groups of x are under 10 people and withheld,
    and the overall row (25) gives their sum, so each holds 1 to 25 - 21 = 4 people (pinned), and as
    many wrongly linked people: the overall wrongful-link rate is 25 of 25."""
    monkeypatch.setattr("misflag.linkage._audit.protect", no_lp_audit)
    bundle, facts = _audit_tiny(tmp_path)
    intervals, pinned = attack(bundle, facts, "reader")
    assert withheld(bundle, "x") == {g for g, _ in facts["x"]} and withheld(bundle, "y") == set()
    assert intervals[("x", "a", "people")] == pytest.approx((1, 4))
    assert intervals[("x", "a", "wrongly_linked@0.5")] == pytest.approx((1, 4))
    assert {("x", "a", "people"), ("x", "s00", "wrongly_linked@0.5")} <= set(pinned)


def test_the_lp_audit_withholds_the_overall_row_and_what_gives_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the LP audit: nothing of x is left to withhold, so the overall row goes, with the inputs' row
    counts in the metadata; y's groups (12 + 13) would still give the total, so y's smaller group goes
    too. The attacker then pins nothing; the metadata publishes the audit (23 withheld groups x 6 counts
    at one threshold: people, true pairs, and TP, FP, FN pairs and wrongly linked people at 0.5; the
    overall row's 6 too), and the auditor's diagnostics record its rounds."""
    diagnostics = _diagnostics(monkeypatch)
    bundle, facts = _audit_tiny(tmp_path)
    assert withheld(bundle, "y") == {"p"}
    assert {r["suppressed"] for r in bundle["rows"] if r["attribute"] == "overall"} == {True}
    assert bundle["metadata"]["records"]["rows"] is None and bundle["metadata"]["input"]["rows"] is None
    intervals, pinned = attack(bundle, facts, "reader")  # every reason is the one public text
    assert pinned == []
    assert intervals[("x", "a", "people")][1] == np.inf
    summary = bundle["metadata"]["disclosure_audit"]
    assert summary["protection_level"] == 5 and summary["withheld_counts"] == (22 + 1 + 1) * 6
    assert not summary["guarantee"].startswith("NOT MET")
    [auditor_only] = diagnostics
    assert auditor_only["rounds_of_further_suppression"] in (1, 2)  # overall and p, together or in turn
    assert auditor_only["withheld_counts_protected"] == auditor_only["withheld_counts_checked"] > 0


def test_the_lp_audit_alone_protects_febrl(
    linked: dict[str, Path],  # noqa: F811
    truth: dict[str, dict[tuple[str, str], int]],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With only the primary rule before it (the control of test_linkage_lp_attack.py pins l, f, m and y),
    the LP audit's own suppression leaves nothing pinned for the plain reader: it withholds a shown group
    per pinned count, the smallest one whose figures bound it."""
    monkeypatch.setattr("misflag.linkage._evaluate.withheld_groups", _primary_only)
    diagnostics = _diagnostics(monkeypatch)
    bundle = audit(linked, "lp_alone")
    _, pinned = attack(bundle, truth, "reader")
    assert pinned == []
    state, given = GROUPS
    assert {"l", "f", "m"} < withheld(bundle, state) and {"y"} < withheld(bundle, given)
    assert not bundle["metadata"]["disclosure_audit"]["guarantee"].startswith("NOT MET")
    [auditor_only] = diagnostics
    assert auditor_only["rounds_of_further_suppression"] >= 1
    assert auditor_only["withheld_counts_protected"] == auditor_only["withheld_counts_checked"]
    assert bundle["metadata"]["min_cell"] == MIN_CELL


def test_nothing_withheld_nothing_audited(tmp_path: Path) -> None:
    """At --min-cell 1 no group is withheld: no LP audit in the metadata, and the inputs' row counts are
    published (25 records; 12 true pairs and 23 wrong ones)."""
    bundle, _ = _audit_tiny(tmp_path, min_cell=1)
    assert not any(r["suppressed"] for r in bundle["rows"])
    assert "disclosure_audit" not in bundle["metadata"]
    assert bundle["metadata"]["records"]["rows"] == 25 and bundle["metadata"]["input"]["rows"] == 35
