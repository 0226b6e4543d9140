"""The LP audit's own summary (`metadata["disclosure_audit"]`) must not tell a reader what the rows withhold.

Three inputs differ only inside two withheld groups: group c (5 people) has 0, 1 or 2 false positives and
group a (40, withheld with it) the rest of 6, so every published row is the same. The summary counts
only the withheld counts the auditor found sensitive (1 to min_cell - 1 people, by their true values), so
`withheld_counts_checked` read 11 where c had no false positive and 12 where it had one or two (and
`withheld_counts_that_may_be_zero` 5 against 6): a reader of the metadata, or of a `released` ledger
entry, learns whether someone in c was wrongly flagged, which the rows leave open (0 to 2). Found on
this round's review (issue 21); the summary is built in disclosure/_audit.py, another engineer's file
being edited now, so this test is marked as the known failure until its fix (strict: it fails once
the summary no longer depends on withheld values, and the mark must then go).

The biometric audit's summary (biometrics/_disclosure.py, also another engineer's) counts the same way:
on a cross table whose two withheld cells Z x X and Z x Y share 3 impostor pairs and 2 false matches, ten
splits publish the same rows, and `withheld_counts_checked` was 12 exactly where both cells hold a false
match, else 11 (now the auditor's, where it still tells the splits apart; the published summary is one).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pyarrow as pa

from misflag.biometrics import audit_biometrics
from misflag.decisions import audit_decisions
from tests.biometrics.test_biometrics_lp_attack import SMALL_PAIR, scores


def _log(c_false_positives: int) -> pa.Table:
    """a, b with 40 people and c with 5; truth alternates 0, 1; every truth-1 person is flagged; the
    false positives are the first truth-0 people of each group: a 6 - k, b 3, c k."""
    groups, truth, flag = [], [], []
    for group, size in (("a", 40), ("b", 40), ("c", 5)):
        wrong = {"a": 6 - c_false_positives, "b": 3, "c": c_false_positives}[group]
        for i in range(size):
            groups.append(group)
            truth.append(i % 2)
            flag.append(1 if i % 2 else int(i // 2 < wrong))
    return pa.table({"g": groups, "truth": truth, "flag": flag})


def _published(k: int) -> tuple[str, dict[str, Any]]:
    result = audit_decisions(_log(k), flag="flag", truth="truth", groups=["g"])
    return json.dumps(result.rows(), sort_keys=True, default=str), result.metadata["disclosure_audit"]


def test_the_audit_summary_is_the_same_whatever_a_withheld_count_holds() -> None:
    outputs = {k: _published(k) for k in (0, 1, 2)}
    assert outputs[0][0] == outputs[1][0] == outputs[2][0]  # the rows: the same three times
    suppressed = json.loads(outputs[0][0])
    assert {(r["group"], r["metric"]) for r in suppressed if r["suppressed"]} >= {("c", "fpr"), ("a", "fpr")}
    assert outputs[0][1] == outputs[1][1] == outputs[2][1]
    assert json.dumps(outputs[0][1]) == json.dumps(outputs[1][1]) == json.dumps(outputs[2][1])
    checked = [outputs[k][1].auditor_only["withheld_counts_checked"] for k in (0, 1, 2)]
    assert checked[0] != checked[1] == checked[2]  # the auditor's diagnostics: 11 against 12


#: (probe's group, gallery's group) -> (impostor pairs not matched, false matches, genuine matched, missed):
#: the biometric LP attack's SMALL_PAIR table without its two small cells, which the splits below fill
CROSS = {cell: counts for cell, counts in SMALL_PAIR.items() if cell not in {("Z", "X"), ("Z", "Y")}}


def _comparisons(z_x: tuple[int, int], z_y: tuple[int, int]) -> pd.DataFrame:
    """One row per comparison (test_biometrics_lp_attack.py's `scores`: a match scores 0.9, the rest 0.1,
    threshold 0.5)."""
    return scores({**CROSS, ("Z", "X"): (*z_x, 0, 0), ("Z", "Y"): (*z_y, 0, 0)})


def test_the_biometric_audit_summary_is_the_same_whatever_a_withheld_cell_holds() -> None:
    published = {}
    for no_match in range(4):
        for false_matches in range(3):
            z_x, z_y = (no_match, false_matches), (3 - no_match, 2 - false_matches)
            if sum(z_x) and sum(z_y):
                result = audit_biometrics(
                    _comparisons(z_x, z_y),
                    score="score",
                    genuine="genuine",
                    group_a="ga",
                    group_b="gb",
                    threshold=0.5,
                    min_cell=10,
                )
                bundle = result.to_bundle()
                rows = json.dumps(bundle.pop("rows"), sort_keys=True, default=str)
                bundle["metadata"]["input"].pop("sha256")  # a digest of the input itself
                everything = json.dumps(bundle, sort_keys=True, default=str)
                published[(z_x, z_y)] = (rows, everything, result.metadata["disclosure_audit"])
    assert len({rows for rows, _, _ in published.values()}) == 1  # ten splits, the same rows
    assert len({json.dumps(summary, sort_keys=True) for _, _, summary in published.values()}) == 1
    # and everything else published with them: the summary text, the whole metadata, the curves
    assert len({everything for _, everything, _ in published.values()}) == 1
    checked = {summary.auditor_only["withheld_counts_checked"] for _, _, summary in published.values()}
    assert checked == {11, 12}  # the diagnostics still follow the withheld cells: they stay unwritten
