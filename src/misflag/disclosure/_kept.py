"""What audits keep between them: reader models of the very same outputs (the decision audit audits its
last pattern twice where its round reused intervals of earlier rounds, docs/disclosure.md, "How it is
met", and the second audit need not build the model again), and each universe's feasible points
(`Carried`).

An audit's own solves start from the points its earlier audits' own models found (`_intervals.start`):
they decide which counts it solves, so the bases its exposed counts' LPs start from, so their pins (the
optimiser's cuts). Where an audit took the probe's intervals (`_intervals.probe`), its own model did not
solve, and those points are found only if a later audit must solve on its own model (one that finds a
count exposed): `replay` then solves the earlier audit as it would have (the random LPs from the same
basis, then `own`), so that the cuts, and with them the patterns, are those of an audit without the probe.
"""

from __future__ import annotations

from collections.abc import Callable

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


#: Feasible points kept per universe between audits (each is checked again before it certifies anything).
MAX_POINTS = 64


class Carried:
    """One universe's points: those its audits' own models found (`exact`, or `replay` to find them)
    and `extra`, the probe's, which certify counts too but never steer an audit's own model."""

    def __init__(
        self,
        exact: list[np.ndarray] | None = None,
        replay: Callable[[], list[np.ndarray]] | None = None,
        extra: list[np.ndarray] | None = None,
    ) -> None:
        self._exact = exact or []
        self._replay = replay
        self.extra = (extra or [])[-MAX_POINTS:]
        self.exposed: frozenset[bytes] = frozenset()  # the counts (columns) the audit found exposed

    @property
    def known(self) -> bool:
        """Whether the own models' points are known without solving."""
        return self._replay is None

    def exact(self) -> list[np.ndarray]:
        """The points the own models found (solving the audits that took the probe's intervals, once)."""
        if self._replay is not None:
            self._exact, self._replay = self._replay(), None
        return self._exact

    def every(self) -> list[np.ndarray]:
        """Every point known without solving: any of them certifies counts."""
        return [*self._exact, *self.extra] if self.known else self.extra

    def then(self, found: list[np.ndarray]) -> list[np.ndarray]:
        """The own models' points followed by `found` (the next audit's own points), the last MAX_POINTS."""
        return [*self.exact(), *found][-MAX_POINTS:]
