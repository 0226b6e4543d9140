"""The decision audit audits its last pattern twice where secondary suppression took more than one round
(the round that found it, then in full); the second audit reuses the reader's model the first built for
the very same publication (`disclosure._kept.Models`) instead of building it again. The output must not
change: each audit below runs as shipped and with a model built afresh for every audit (as before the
reuse); the outputs (rows and metadata as JSON text) must be byte-identical, and the shipped run must
build fewer models. And a kept model is handed out only for the very same output objects: an equal copy,
or an output publishing one more figure, gets its own, and the audit of that output sees the figure (its
interval is the one a model built from scratch gives).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from misflag.disclosure import Output, _kept, audit_outputs
from misflag.disclosure._kept import Models
from tests.disclosure.compas_specs import SPEC_IDS, SPECS, compas_log, output_bytes


@pytest.fixture(scope="module")
def compas(compas_csv: Path) -> pa.Table:
    return compas_log(compas_csv)


@pytest.mark.parametrize("run", SPECS, ids=SPEC_IDS)
def test_the_output_is_byte_identical_with_and_without_the_reuse(
    run: Callable[[pa.Table], Any], compas: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[int] = []
    original = _kept.build

    def counted(*args: Any) -> Any:
        built.append(1)
        return original(*args)

    monkeypatch.setattr(_kept, "build", counted)
    reused = run(compas)
    kept = len(built)
    built.clear()
    get = Models.get
    monkeypatch.setattr(Models, "get", lambda self, number, linked: get(Models(), number, linked))
    afresh = run(compas)
    assert kept < len(built)  # the last pattern's second audit built nothing
    diagnostics = reused.metadata["disclosure_audit"].auditor_only  # never written with the output
    assert diagnostics["withheld_counts_checked"] > 0
    assert output_bytes(reused) == output_bytes(afresh)
    assert diagnostics == afresh.metadata["disclosure_audit"].auditor_only


def _small() -> Output:
    """A race x sex table of 4 groups, published whole but for one group's n (by hand: 3 + 9 + 8 + 20 =
    40 people; the withheld 3 follows from the overall n and the other three, so it is pinned)."""
    sizes = {"a & F": 3.0, "a & M": 9.0, "b & F": 8.0, "b & M": 20.0}
    rows = [
        {"attribute": "race & sex", "group": g, "stage": "decision", "metric": "n", "value": v,
         "denominator": None, "suppressed": g == "a & F"}
        for g, v in sizes.items()
    ]  # fmt: skip
    rows.append(
        {"attribute": "overall", "group": None, "stage": "decision", "metric": "n", "value": 40.0,
         "denominator": None, "suppressed": False}
    )  # fmt: skip
    return Output(
        name="small",
        rows=rows,
        groups=("race", "sex"),
        stages={"decision": "flag"},
        truth="truth",
        weighted=False,
        population="test",
        rows_audited=40.0,
    )


def _interval(audit: Any) -> tuple[float, float]:
    (interval,) = audit.intervals
    return interval.low, interval.high


def test_a_kept_model_serves_only_the_very_same_outputs() -> None:
    models = Models()
    output = _small()
    first = audit_outputs([output], 5.0, models=models)
    assert _interval(first) == (3.0, 3.0)  # 40 - 9 - 8 - 20, by hand
    kept = models.get(0, [output])
    assert models.get(0, [output]) is kept  # the same object: the same model
    assert models.get(0, [copy.deepcopy(output)]) is not kept  # equal is not enough
    # the adversary: the same Models, a different publication (one figure fewer: b & M's n withheld too)
    changed = _small()
    changed.rows[3]["suppressed"] = True
    audit = audit_outputs([changed], 5.0, models=models)
    fresh = audit_outputs([changed], 5.0)
    assert [(i.low, i.high) for i in audit.intervals] == [(i.low, i.high) for i in fresh.intervals]
    # by hand: a & F + b & M = 40 - 9 - 8 = 23, and each listed group holds someone: each 1 to 22
    assert [(i.low, i.high) for i in audit.intervals] == [(1.0, 22.0), (1.0, 22.0)]
