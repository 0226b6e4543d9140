"""Reader models kept between audits of the very same outputs: the decision audit audits its last
pattern twice (docs/disclosure.md, "How it is met"), and the second audit need not build the model again."""

from __future__ import annotations

import numpy as np

from misflag.disclosure._equations import build
from misflag.disclosure._matrix import SparseRows
from misflag.disclosure._model import Model, Output, Source, Target, Universe

_Matrices = tuple[np.ndarray, SparseRows | None, np.ndarray, SparseRows | None, np.ndarray]


class Kept:
    """One universe's reader model: its targets at once, its matrices when first asked for (an output
    whose withheld counts are none of them sensitive needs none)."""

    def __init__(self, linked: list[Output], number: int) -> None:
        self.linked = linked
        universe = Universe(linked)
        self.signature = universe.signature
        self.model: Model
        self.targets: list[Target]
        self.model, self.targets = build(universe, number)
        self._matrices: _Matrices | None = None
        self._sources: list[frozenset[Source]] | None = None

    def matrices(self) -> _Matrices:
        if self._matrices is None:
            self._matrices = self.model.matrices()
        return self._matrices

    def sources(self) -> list[frozenset[Source]]:
        if self._sources is None:
            self._sources = self.model.equality_sources()
        return self._sources


class Models:
    """Each universe's reader model, kept for the next audit of the very same outputs: the same objects
    (an output is not changed once published), linked in the same universe. A second audit of one
    publication then solves exactly the system the first built, without building it again; any other
    outputs get a model of their own. Each audit still starts its own HiGHS model from these matrices
    (no basis is carried over), so it solves as it would have after a fresh build."""

    def __init__(self) -> None:
        self._kept: dict[int, Kept] = {}

    def get(self, number: int, linked: list[Output]) -> Kept:
        kept = self._kept.get(number)
        if (
            kept is None
            or len(kept.linked) != len(linked)
            or any(a is not b for a, b in zip(kept.linked, linked, strict=True))
        ):
            kept = self._kept[number] = Kept(linked, number)
        return kept
