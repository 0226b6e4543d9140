"""The unsuppressed rows (the auditor's truth) are computed in the first suppression round and reused in
every later one (`decisions._disclosure.UnsuppressedRows`). The output must not change: each audit below is run
twice, once as shipped and once with the rows computed afresh in every round (as before the reuse), and
the two outputs (rows and metadata as JSON text) must be byte-identical. Three specs: an intersected table
needing secondary suppression, a weighted audit (strata by group, weights published), linked tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from misflag.decisions._disclosure import UnsuppressedRows
from tests.disclosure.compas_specs import SPEC_IDS, SPECS, compas_log, output_bytes


@pytest.fixture(scope="module")
def compas(compas_csv: Path) -> pa.Table:
    return compas_log(compas_csv)


@pytest.mark.parametrize("run", SPECS, ids=SPEC_IDS)
def test_the_output_is_byte_identical_with_and_without_the_reuse(
    run: Callable[[pa.Table], Any], compas: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    computed: list[int] = []
    original = UnsuppressedRows.get

    def counted(self: UnsuppressedRows, compute: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        def counting() -> list[dict[str, Any]]:
            computed.append(1)
            return compute()

        return original(self, counting)

    monkeypatch.setattr(UnsuppressedRows, "get", counted)
    reused = run(compas)
    assert len(computed) == 1  # once per audit, whatever the number of rounds
    computed.clear()
    monkeypatch.setattr(UnsuppressedRows, "get", lambda self, compute: counted(UnsuppressedRows(), compute))
    afresh = run(compas)
    assert len(computed) > 1  # several suppression rounds, so the reuse has something to reuse
    diagnostics = afresh.metadata["disclosure_audit"].auditor_only  # never written with the output
    secondary = diagnostics["secondary_suppression"]
    assert secondary["rounds"] > 1 and secondary["cuts"] > 0  # the audit withheld more than the rules
    assert output_bytes(reused) == output_bytes(afresh)
    assert reused.metadata["disclosure_audit"].auditor_only == diagnostics
