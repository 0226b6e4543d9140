"""A reader's model built from a kept layout (`disclosure._equations._layout`: each row's unknowns, worked
out once for outputs of the same shape) against the same model built with every layout read afresh: the
same equations in the same order (columns, right-hand sides, coefficients, what publishes them), the same
at-least rows, unknowns fixed at 0 and withheld counts. Secondary suppression publishes the same rows
round after round, so the rounds' models are built from one layout; outputs of another shape (another
--where, other labels) must not be. The decision audits of the three COMPAS specs are byte-identical
with the layouts kept and read afresh, and keeping them reads fewer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from misflag.disclosure import Output
from misflag.disclosure import _equations as equations
from misflag.disclosure._model import Model, Target, Universe
from tests.disclosure.compas_specs import SPEC_IDS, SPECS, compas_log, output_bytes
from tests.disclosure.test_alternative_cuts import _table
from tests.disclosure.test_certified_by_points import _output


@pytest.fixture(autouse=True)
def _no_kept_layouts() -> Iterator[None]:
    equations._LAYOUTS.clear()
    yield
    equations._LAYOUTS.clear()


def _afresh(universe: Universe) -> tuple[Model, list[Target]]:
    """The model with every layout read afresh (the kept ones are put back after)."""
    kept = dict(equations._LAYOUTS)
    equations._LAYOUTS.clear()
    try:
        return equations.build(universe, 0)
    finally:
        equations._LAYOUTS.clear()
        equations._LAYOUTS.update(kept)


def _written(model: Model, targets: list[Target]) -> Any:
    """Everything a model and its targets hold, as plain values (arrays as lists), in their order."""

    def array(a: np.ndarray | None) -> Any:
        return None if a is None else (a.dtype.str, a.tolist())

    assert model.zero is not None
    return (
        [(k, array(c), v, array(w)) for k, (c, v, w) in model.equalities.items()],
        sorted((k, sorted(s)) for k, s in model.sources.items()),
        [(k, array(c), v) for k, (c, v, _) in model.inequalities.items()],
        np.flatnonzero(model.zero).tolist(),
        [(t.universe, array(t.columns), t.rows, sorted(t.ratio_weights.items())) for t in targets],
    )


def _withheld_otherwise(output: Output, seed: int) -> Output:
    """The same rows, other ones withheld (as another round of secondary suppression publishes them)."""
    rng = np.random.default_rng(seed)
    rows = [dict(row, suppressed=bool(rng.random() < 0.4)) for row in output.rows]
    for row in rows:
        if row["suppressed"]:
            row["value"] = None
    return dataclasses.replace(output, rows=rows)


@pytest.mark.parametrize("seed", range(6))
def test_rounds_built_from_one_layout_equal_models_built_afresh(seed: int) -> None:
    first = _output(_table(seed), ["a", "b"])
    equations.build(Universe([first]), 0)
    assert len(equations._LAYOUTS) == 1
    for other in range(3):
        output = _withheld_otherwise(first, 100 * seed + other)
        kept = equations.build(Universe([output]), 0)
        assert len(equations._LAYOUTS) == 1  # the same shape: the kept layout was used
        assert _written(*kept) == _written(*_afresh(Universe([output])))


def _without(output: Output, value: str) -> Output:
    """The output as a --where a != value publishes it: its restriction lists the other values."""
    values = frozenset(row["group"] for row in output.rows if row["attribute"] == "a") - {value}
    rows = [r for r in output.rows if value not in str(r["group"]).split(" & ")]
    return dataclasses.replace(output, rows=rows, restriction={"a": values})


@pytest.mark.parametrize("seed", range(3))
def test_another_shape_reads_its_own_layout(seed: int) -> None:
    first = _output(_table(seed), ["a", "b"])
    equations.build(Universe([first, _without(first, "z")]), 0)
    # the same rows, another restriction (a --where), then other labels for the same rows (explicit keys):
    # each a layout of its own, and the models those of a build afresh
    restricted = dataclasses.replace(first, restriction={"a": frozenset({"x", "y"})})
    relabelled = dataclasses.replace(first, keys={("a", "x"): ("y",), ("a", "y"): ("x",)})
    for output in (restricted, relabelled):
        read = len(equations._LAYOUTS)
        kept = equations.build(Universe([output, _without(first, "z")]), 0)
        assert len(equations._LAYOUTS) > read
        assert _written(*kept) == _written(*_afresh(Universe([output, _without(first, "z")])))


def test_the_control_a_shape_without_the_restriction_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison above fails when the shape leaves out what decides a layout (here the --where)."""
    shape = equations._shape
    monkeypatch.setattr(equations, "_shape", lambda universe, output: shape(universe, output)[:3])
    first = _output(_table(0), ["a", "b"])
    equations.build(Universe([first]), 0)
    # one value listed, the first: the universe lists a's values in the same order, so the same signature
    restricted = dataclasses.replace(first, restriction={"a": frozenset({"x"})})
    kept = equations.build(Universe([restricted]), 0)
    assert _written(*kept) != _written(*_afresh(Universe([restricted])))


def test_kept_arrays_cannot_be_written() -> None:
    model, targets = equations.build(Universe([_output(_table(1), ["a", "b"])]), 0)
    with pytest.raises(ValueError, match="read-only"):
        targets[0].columns[0] = -1
    columns = next(iter(model.inequalities.values()))[0]
    with pytest.raises(ValueError, match="read-only"):
        columns[0] = -1


@pytest.fixture(scope="module")
def compas(compas_csv: Path) -> pa.Table:
    return compas_log(compas_csv)


@pytest.mark.parametrize("run", SPECS, ids=SPEC_IDS)
def test_the_audits_are_byte_identical_with_layouts_read_afresh(
    run: Callable[[pa.Table], Any], compas: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[int] = []
    read = equations._read_layout

    def counted(universe: Universe, output: Output) -> Any:
        reads.append(1)
        return read(universe, output)

    monkeypatch.setattr(equations, "_read_layout", counted)
    kept = run(compas)
    kept_reads = len(reads)
    reads.clear()
    monkeypatch.setattr(equations, "_layout", counted)  # every output of every model read afresh
    afresh = run(compas)
    assert 0 < kept_reads <= len(reads)
    print(f"layouts read: {kept_reads} kept, {len(reads)} afresh")
    assert output_bytes(kept) == output_bytes(afresh)
    assert kept.metadata["disclosure_audit"].auditor_only == afresh.metadata["disclosure_audit"].auditor_only
