"""The reader of a biometric release (biometrics/_disclosure.py audits it; docs/biometrics.md,
"Suppression"): the unknowns, whole non-negative counts of comparisons per histogram key and score band;
every count a label publishes as an equation over them (`Release`); and each withheld count's least and
most over whole numbers, found with HiGHS, only checked solutions counting (`Reader`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from misflag.biometrics._groups import Grouping

if TYPE_CHECKING:
    import highspy

#: A label's publication levels: everything shown; its rates and kind counts withheld (`n` and
#: `subjects_n` kept, as the decision audit keeps `n` of a group whose rates rest on a thin denominator);
#: withheld whole.
SHOWN, RATES, WHOLE = 0, 1, 2
#: Random objectives solved first: their whole-number solutions certify most counts without solves of their own.
RANDOM_POINTS = 4
DUAL = 1e-7
#: How far from a whole number a relaxed LP's solution may be and still be read as whole.
WHOLE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Figure:
    """One count over the unknowns (the columns it sums): which label publishes it, under which metric,
    and its true value."""

    grouping: int
    label: int
    metric: str
    columns: np.ndarray
    value: int

    def at(self, point: np.ndarray) -> float:
        return float(point[self.columns].sum())

    def key(self) -> bytes:
        """The set of unknowns it sums, as a key: two figures with the same key are the same count."""
        return np.sort(self.columns).tobytes()


#: The `grouping` of a figure an earlier release publishes or withholds (never this audit's to withhold).
EARLIER = -1


@dataclass
class Earlier:
    """What earlier releases of the same scores (the release register) put in the reader's model of this
    one (`biometrics/_released.py`): their published figures, their withheld ones, the listed labels'
    least counts, and each figure's name for a message (by its `label`)."""

    releases: tuple[str, ...] = ()
    shown: list[Figure] = field(default_factory=list)
    withheld: list[Figure] = field(default_factory=list)
    lower: list[np.ndarray] = field(default_factory=list)
    names: list[str] = field(default_factory=list)


class Release:
    """What a reader of the audit's rows can write down: every label's counts over the unknowns."""

    def __init__(
        self,
        groupings: Sequence[Grouping],
        y: np.ndarray,
        n: np.ndarray,
        matched: np.ndarray,
        thresholds: Sequence[float],
    ) -> None:
        self.groupings = list(groupings)
        unique = np.unique(np.asarray(thresholds, dtype=float))
        self.thresholds = unique  # the distinct thresholds, internal units, ascending: band u + 1 is above u
        self.band_of_point = np.searchsorted(unique, np.asarray(thresholds, dtype=float))
        self.bands = unique.size + 1
        first = [int(np.flatnonzero(self.band_of_point == u)[0]) for u in range(unique.size)]
        above = np.asarray(matched, dtype=float)[:, first] if first else np.zeros((n.size, 0))
        edges = np.column_stack([n.astype(float), above, np.zeros(n.size)])
        self.truth = (edges[:, :-1] - edges[:, 1:]).ravel()  # key-major: key k's bands are k*B .. k*B+B-1
        self.y = y
        self.total = float(n.sum())
        self.earlier = Earlier()

    def columns(self, keys: np.ndarray, low: int = 0, high: int | None = None) -> np.ndarray:
        """The unknowns of these keys (a mask) in bands low .. high - 1 (all bands by default)."""
        bands = np.arange(low, self.bands if high is None else high)
        return (np.flatnonzero(keys)[:, None] * self.bands + bands[None, :]).ravel()

    def figures(self, g: int, label: int) -> list[Figure]:
        """Every count a label's rows publish when shown: n, kind counts, false matches and misses."""
        grouping = self.groupings[g]
        inside = grouping.index == label
        impostor, genuine = inside & (self.y == 0), inside & (self.y == 1)
        out = [("n", self.columns(inside)), ("impostor_n", self.columns(impostor))]
        out.append(("genuine_n", self.columns(genuine)))
        for j, band in enumerate(self.band_of_point):
            out.append((f"false_matches@{j}", self.columns(impostor, band + 1)))
            if grouping.kind in {"overall", "group"}:
                out.append((f"misses@{j}", self.columns(genuine, 0, band + 1)))
        return [Figure(g, label, metric, c, round(float(self.truth[c].sum()))) for metric, c in out]

    def lower_bounds(self) -> list[np.ndarray]:
        """What the reader knows without any figure: every listed label holds a comparison, every group an
        impostor and a genuine pair (the audit refuses others). Each as the columns that sum to >= 1."""
        rows = []
        for grouping in self.groupings:
            for label in range(len(grouping.labels)):
                inside = grouping.index == label
                rows.append(self.columns(inside))
                if grouping.kind in {"overall", "group"}:
                    rows += [self.columns(inside & (self.y == 0)), self.columns(inside & (self.y == 1))]
        return rows + self.earlier.lower

    def matrix(self, rows: list[np.ndarray]) -> Any:
        """Rows of column sets as one sparse 0/1 matrix (scipy), for HiGHS."""
        from scipy.sparse import csr_matrix

        lengths = [r.size for r in rows]
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        indices = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        return csr_matrix((np.ones(indices.size), indices, indptr), shape=(len(rows), self.truth.size))


def published(figure: Figure, level: int) -> bool:
    """Whether a label at this level publishes the figure: `n` unless withheld whole, the rest when shown."""
    return level == SHOWN or (level == RATES and figure.metric == "n")


class Reader:
    """The reader's model for one set of published figures, and the whole-number points found in it."""

    def __init__(self, release: Release, shown: list[Figure], protection: int) -> None:
        from scipy.optimize import Bounds, LinearConstraint

        self.release, self.shown, self.protection = release, shown, protection
        self.a_low = release.matrix(release.lower_bounds())
        self.a_eq = release.matrix([f.columns for f in shown])
        self.b_eq = np.asarray([float(f.value) for f in shown])
        # no count exceeds this in a bounded solution; an unbounded one reads as a wide interval
        self.ceiling = 2 * release.total + 2 * protection + 1
        self.constraints = [LinearConstraint(self.a_low, 1, np.inf)]
        if shown:
            self.constraints.append(LinearConstraint(self.a_eq, self.b_eq, self.b_eq))
        self.bounds = Bounds(0, self.ceiling)
        self.points = [release.truth]
        self.highs: highspy.Highs | None = None
        rng = np.random.default_rng(0)
        for _ in range(RANDOM_POINTS):
            self._point(rng.standard_normal(release.truth.size))

    def _point(self, objective: np.ndarray) -> np.ndarray | None:
        """A whole-number solution minimising the objective, kept as a point once checked against every
        constraint (None if HiGHS gives none that holds): the relaxed LP's, when whole (then it is the
        integer optimum too, and about ten times cheaper here), else the MIP's. HiGHS's MIP presolve (scipy
        1.17.1) returned 16 as the least of a count whose true least is 10 on one of the sweep's tables,
        so it is off, and only checked points prove anything: a set of counts the reader cannot rule out."""
        import highspy
        from scipy.optimize import milp

        model = self._relaxed_model()
        model.changeColsCost(objective.size, np.arange(objective.size, dtype=np.int32), objective)
        model.run()
        if model.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            relaxed = np.asarray(model.getSolution().col_value)
            if np.all(np.abs(relaxed - np.round(relaxed)) < WHOLE_TOLERANCE):
                point = self._checked(relaxed)
                if point is not None:
                    return point
        found = milp(
            objective,
            constraints=self.constraints,
            integrality=np.ones(objective.size),
            bounds=self.bounds,
            options={"presolve": False},
        )
        return None if found.x is None else self._checked(found.x)

    def _relaxed_model(self) -> highspy.Highs:
        """The relaxed LP as one HiGHS model (highspy), built at the first solve and re-solved from its
        last basis for each objective: equations, then the at-least-one rows, counts in 0..ceiling."""
        if self.highs is not None:
            return self.highs
        from scipy.sparse import vstack

        from misflag._highs import relaxed_model

        matrix = vstack([self.a_eq, self.a_low]).tocsc()
        self.highs = relaxed_model(
            matrix,
            np.full(matrix.shape[1], self.ceiling),
            np.concatenate([self.b_eq, np.ones(self.a_low.shape[0])]),
            np.concatenate([self.b_eq, np.full(self.a_low.shape[0], np.inf)]),
        )
        return self.highs

    def _checked(self, solution: np.ndarray) -> np.ndarray | None:
        """The solution rounded to whole counts, kept as a point if it meets every constraint exactly."""
        point = np.round(solution)
        holds = (
            np.all(point >= 0)
            and np.all(point <= self.ceiling)
            and np.all(self.a_low @ point >= 1)
            and (not self.shown or np.array_equal(self.a_eq @ point, self.b_eq))
        )
        if not holds:
            return None
        self.points.append(point)
        return point

    def interval(self, target: Figure) -> tuple[float, float, bool]:
        """Values of the count at points the reader cannot rule out: its least and most when both solves
        hold (True), or as soon as they show it protected (False). Never wider than the reader's range."""
        values = [target.at(point) for point in self.points]
        objective = np.zeros(self.release.truth.size)
        objective[target.columns] = 1.0
        solved = 0
        for sign in (1.0, -1.0):
            if self.protects(min(values), max(values)):
                return min(values), max(values), False
            point = self._point(sign * objective)
            if point is not None:
                values.append(target.at(point))
                solved += 1
        return min(values), max(values), solved == 2

    def protects(self, low: float, high: float) -> bool:
        return low == 0 or high - low >= self.protection

    def _relaxed(self, target: Figure, kept: np.ndarray) -> list[Any]:
        """The count's least and most in the relaxed LP over the published equations `kept` (a mask)."""
        from scipy.optimize import linprog

        objective = np.zeros(self.release.truth.size)
        objective[target.columns] = 1.0
        return [
            linprog(
                sign * objective,
                A_ub=-self.a_low,
                b_ub=-np.ones(self.a_low.shape[0]),
                A_eq=self.a_eq[kept] if kept.any() else None,
                b_eq=self.b_eq[kept] if kept.any() else None,
                bounds=(0, self.ceiling),
                method="highs",
            )
            for sign in (1.0, -1.0)
        ]

    def bounding_labels(self, target: Figure) -> set[tuple[int, int]]:
        """Labels whose published equations bound the count in the relaxed LP (nonzero duals)."""
        if not self.shown:
            return set()
        out = set()
        for found in self._relaxed(target, np.ones(len(self.shown), dtype=bool)):
            if found.status == 0:
                rows = np.flatnonzero(np.abs(found.eqlin.marginals) > DUAL)
                out |= {(self.shown[row].grouping, self.shown[row].label) for row in rows}
        return out

    def frees(self, target: Figure, label: tuple[int, int], level: int) -> bool:
        """Whether withholding the label to this level leaves the count a protected range in the relaxed LP."""
        kept = np.asarray(
            [(f.grouping, f.label) != label or published(f, level) for f in self.shown], dtype=bool
        )
        low, high = self._relaxed(target, kept)
        if low.status != 0 or high.status != 0:
            return False
        return self.protects(math.ceil(low.fun - 1e-6), math.floor(-high.fun + 1e-6))
