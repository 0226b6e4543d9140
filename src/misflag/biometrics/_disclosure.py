"""The biometric release audited by linear programming before anything is written (docs/biometrics.md,
"Suppression"; the goal is docs/disclosure.md's).

The reader's unknowns are whole, non-negative counts of comparisons per histogram key (every group
expression's value and the genuine flag) and score band (between consecutive operating thresholds, so
a count at or above any threshold is a sum of bands). Every published count (`n`, `impostor_n`,
`genuine_n`) and every published rate times its published denominator (false matches, misses) is an
equation over them; every listed label holds at least one comparison, and every group (the overall row
included) at least one impostor and one genuine pair (the audit refuses others). Each sensitive
withheld count (1 to `min_cell` - 1) must have a feasible range, over whole counts, at least
ceil(min_cell / 2) wide or reaching 0: its least and most are sought with HiGHS (the relaxed LP through
highspy where its solution is whole, else the MIP through scipy), and only solutions checked against
every constraint count, so a solver's miss can only make the audit withhold more. While one does not, the cheapest label whose
published equations bound it (nonzero duals of the relaxed LP, HiGHS) is withheld one step further
(its rates and kind counts, then whole), and the release is audited again. Only keys that exist in the
data are unknowns: a reader who does not know which combinations exist has more freedom, never less.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from misflag.biometrics._clustered import Clustered
from misflag.biometrics._groups import Grouping, linked_subsets, suppress
from misflag.biometrics._scan import Profile
from misflag.biometrics._spec import BiometricSpec

if TYPE_CHECKING:
    import highspy

    from misflag.disclosure._audit import AuditSummary

#: A label's publication levels: everything shown; its rates and kind counts withheld (`n` and
#: `subjects_n` kept, as the decision audit keeps `n` of a group whose rates rest on a thin denominator);
#: withheld whole.
SHOWN, RATES, WHOLE = 0, 1, 2
#: Random objectives solved first: their whole-number solutions certify most counts without solves of their own.
RANDOM_POINTS = 4
#: Rounds of further suppression before every label but the overall row is withheld whole.
MAX_ROUNDS = 40
DUAL = 1e-7
#: How far from a whole number a relaxed LP's solution may be and still be read as whole.
WHOLE_TOLERANCE = 1e-9


def plan(
    spec: BiometricSpec,
    prof: Profile,
    all_groupings: list[Grouping],
    clustered: dict[str, Clustered],
    matched: np.ndarray,
    thresholds: Sequence[float],
) -> tuple[dict[str, np.ndarray], AuditSummary | None]:
    """Every grouping's publication levels, and the LP audit's summary (None when nothing is withheld;
    nothing is solved unless a sensitive count is): the rules first (`primary`), then the audit of what
    they leave."""
    levels = primary(spec, prof, all_groupings, clustered)
    release = Release(all_groupings, prof.y, prof.n, matched, thresholds)
    outcome = protect(release, [levels[g.attribute] for g in all_groupings], spec.min_cell)
    return {
        g.attribute: level for g, level in zip(all_groupings, outcome.levels, strict=True)
    }, outcome.summary


def primary(
    spec: BiometricSpec, prof: Profile, all_groupings: list[Grouping], clustered: dict[str, Clustered]
) -> dict[str, np.ndarray]:
    """Levels by the rules: labels under `min_cell` comparisons (or subjects), the overall row included,
    and the complementary rule of `suppress`, withheld whole; a label whose impostor or genuine pairs
    number 1 to min_cell - 1 has its rates withheld (each is a rate's denominator, and n less the other)."""
    hidden = _all_hidden(spec, prof, all_groupings, clustered)
    out = {}
    for grouping in all_groupings:
        kinds = [grouping.total(prof.n * (prof.y == y)) for y in (0, 1)]
        thin = np.logical_or.reduce([(count >= 1) & (count < spec.min_cell) for count in kinds])
        out[grouping.attribute] = np.where(hidden[grouping.attribute], WHOLE, np.where(thin, RATES, SHOWN))
    return out


def _all_hidden(
    spec: BiometricSpec, prof: Profile, all_groupings: list[Grouping], clustered: dict[str, Clustered]
) -> dict[str, np.ndarray]:
    """Withheld labels of every grouping; the cross cells last, since every other grouping whose labels
    are sums of whole cells (the same/different-group split, a --group equal to --group-a) constrains them."""
    hidden = {
        g.attribute: _hidden(spec, prof, g, clustered.get(g.attribute), [])
        for g in all_groupings
        if g.kind != "cross"
    }
    for cross in (g for g in all_groupings if g.kind == "cross"):
        linked = [
            subset
            for other in all_groupings
            if other.kind in {"group", "pairing"}
            for subset in linked_subsets(cross, other, hidden[other.attribute])
        ]
        hidden[cross.attribute] = _hidden(spec, prof, cross, clustered.get(cross.attribute), linked)
    return hidden


def _hidden(
    spec: BiometricSpec,
    prof: Profile,
    grouping: Grouping,
    clustered: Clustered | None,
    linked: list[tuple[np.ndarray, bool]],
) -> np.ndarray:
    sizes = grouping.total(prof.n.astype(float))
    if clustered is not None:
        sizes = np.where(clustered.subjects < spec.min_cell, 0, sizes)
    if grouping.kind == "overall":  # an input under min_cell: its one row would give every cell away
        return sizes < spec.min_cell
    every = np.arange(len(grouping.labels))
    subsets = [every]
    if grouping.kind == "cross":
        diagonal = np.asarray([a == b for a, b in (name.split(" × ", 1) for name in grouping.labels)])
        subsets += [every[diagonal], every[~diagonal]]
    flags = [False] * len(subsets) + [withheld for _, withheld in linked]
    return suppress(sizes, spec.min_cell, subsets + [cells for cells, _ in linked], flags)


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
        self.band_of_point = np.searchsorted(unique, np.asarray(thresholds, dtype=float))
        self.bands = unique.size + 1
        first = [int(np.flatnonzero(self.band_of_point == u)[0]) for u in range(unique.size)]
        above = np.asarray(matched, dtype=float)[:, first] if first else np.zeros((n.size, 0))
        edges = np.column_stack([n.astype(float), above, np.zeros(n.size)])
        self.truth = (edges[:, :-1] - edges[:, 1:]).ravel()  # key-major: key k's bands are k*B .. k*B+B-1
        self.y = y
        self.total = float(n.sum())

    def _columns(self, keys: np.ndarray, low: int = 0, high: int | None = None) -> np.ndarray:
        bands = np.arange(low, self.bands if high is None else high)
        return (np.flatnonzero(keys)[:, None] * self.bands + bands[None, :]).ravel()

    def figures(self, g: int, label: int) -> list[Figure]:
        """Every count a label's rows publish when shown: n, kind counts, false matches and misses."""
        grouping = self.groupings[g]
        inside = grouping.index == label
        impostor, genuine = inside & (self.y == 0), inside & (self.y == 1)
        out = [("n", self._columns(inside)), ("impostor_n", self._columns(impostor))]
        out.append(("genuine_n", self._columns(genuine)))
        for j, band in enumerate(self.band_of_point):
            out.append((f"false_matches@{j}", self._columns(impostor, band + 1)))
            if grouping.kind in {"overall", "group"}:
                out.append((f"misses@{j}", self._columns(genuine, 0, band + 1)))
        return [Figure(g, label, metric, c, round(float(self.truth[c].sum()))) for metric, c in out]

    def lower_bounds(self) -> list[np.ndarray]:
        """What the reader knows without any figure: every listed label holds a comparison, every group an
        impostor and a genuine pair (the audit refuses others). Each as the columns that sum to >= 1."""
        rows = []
        for grouping in self.groupings:
            for label in range(len(grouping.labels)):
                inside = grouping.index == label
                rows.append(self._columns(inside))
                if grouping.kind in {"overall", "group"}:
                    rows += [self._columns(inside & (self.y == 0)), self._columns(inside & (self.y == 1))]
        return rows

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


@dataclass
class Outcome:
    """The levels the audit settled on and its summary for the metadata (None: nothing withheld)."""

    levels: list[np.ndarray]
    summary: AuditSummary | None


def protect(release: Release, levels: list[np.ndarray], min_cell: int) -> Outcome:
    """Audit the release at these levels and withhold more until no sensitive withheld count is pinned.
    Builds and solves nothing when no sensitive count is withheld."""
    protection = math.ceil(min_cell / 2)
    levels = [level.copy() for level in levels]
    rounds = 0
    while True:
        figures = [
            (f, published(f, int(levels[g][label])))
            for g, grouping in enumerate(release.groupings)
            for label in range(len(grouping.labels))
            if levels[g][label] > SHOWN
            for f in release.figures(g, label)
        ]
        withheld = [f for f, shown in figures if not shown]
        targets = _sensitive(withheld, min_cell)
        if not targets:
            return Outcome(levels, _summary(protection, withheld, None, rounds, 0))
        shown = [
            f
            for g, grouping in enumerate(release.groupings)
            for label in range(len(grouping.labels))
            for f in release.figures(g, label)
            if published(f, int(levels[g][label]))
        ]
        audit = _Audit(release, shown, protection)
        found = [(target, audit.interval(target)) for target in targets]
        narrow = [target for target, (low, high, _) in found if not audit.protects(low, high)]
        if not narrow:
            solved = [(low, high) for _, (low, high, exact) in found if exact and low > 0]
            narrowest = min(solved, key=lambda ends: ends[1] - ends[0], default=None)
            return Outcome(levels, _summary(protection, withheld, narrowest, rounds, len(targets)))
        rounds += 1
        if rounds > MAX_ROUNDS:  # every label but the overall row whole; then that too
            rest = levels[1:] if any((level < WHOLE).any() for level in levels[1:]) else levels
            for level in rest:
                level[:] = WHOLE
            continue
        sizes = {(f.grouping, f.label): f.value for f in shown if f.metric == "n"}
        sizes.update({(f.grouping, f.label): f.value for f, _ in figures if f.metric == "n"})
        _withhold_more(levels, audit, shown, narrow, sizes)


def _withhold_more(
    levels: list[np.ndarray],
    audit: _Audit,
    shown: list[Figure],
    narrow: list[Figure],
    sizes: dict[tuple[int, int], int],
) -> None:
    """For each pinned count (one per label raised this round), the cheapest label bounding it one step further."""
    raised: set[tuple[int, int]] = set()
    for target in narrow:
        candidates = audit.bounding_labels(target) or {
            (f.grouping, f.label) for f in shown if np.intersect1d(f.columns, target.columns).size
        }
        candidates = {c for c in candidates if levels[c[0]][c[1]] < WHOLE}
        if candidates & raised:
            continue
        if not candidates:  # nothing bounds it that can still be withheld: withhold everything
            for level in levels:
                level[:] = WHOLE
            return
        ordered = sorted(
            candidates, key=lambda c: (int(c[0] == 0), sizes[c] * (1 + int(levels[c[0]][c[1]])), c)
        )
        # the cheapest step that frees the count in the relaxed LP, else the cheapest (the next round goes on)
        chosen = next((c for c in ordered if audit.frees(target, c, int(levels[c[0]][c[1]]) + 1)), ordered[0])
        levels[chosen[0]][chosen[1]] += 1
        raised.add(chosen)


def _sensitive(withheld: list[Figure], min_cell: int) -> list[Figure]:
    """Withheld counts of 1 to min_cell - 1, one per distinct set of unknowns."""
    seen: set[bytes] = set()
    out = []
    for figure in withheld:
        key = np.sort(figure.columns).tobytes()
        if 1 <= figure.value < min_cell and key not in seen:
            seen.add(key)
            out.append(figure)
    return out


def _summary(
    protection: int, withheld: list[Figure], narrowest: tuple[float, float] | None, rounds: int, checked: int
) -> AuditSummary | None:
    """The audit's result as metadata (None: nothing withheld, which the rows show too). Published: only
    what a reader works out from the rows (the method, the level, how many counts they withhold, the
    guarantee as a statement), the same whatever the withheld cells hold; the sensitive counts checked,
    the narrowest interval and the rounds depend on the withheld values: `auditor_only`, never written."""
    if not withheld:
        return None
    from misflag.disclosure._audit import AuditSummary, guarantee  # not on the start-up path: 6 ms

    # counted per (label, figure) as the rows withhold them: which figures share their unknowns depends on
    # which keys the data holds (a cross cell with no genuine pair), so a count of distinct ones would not
    published: dict[str, object] = {
        "method": "integer programming over every published count and rate x denominator (HiGHS: the "
        "relaxed LP through highspy where its solution is whole, else the MIP through scipy)",
        "protection_level": protection,
        "withheld_counts": len(withheld),
        "guarantee": guarantee(protection, unit="comparisons"),
    }
    return AuditSummary(
        published,
        {
            "withheld_counts_checked": checked,
            "withheld_counts_protected": checked,
            "narrowest_interval": None if narrowest is None else {"low": narrowest[0], "high": narrowest[1]},
            "rounds_of_further_suppression": rounds,
        },
    )


class _Audit:
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
        import highspy
        from scipy.sparse import vstack

        from misflag.disclosure._lp import silent_stdout

        matrix = vstack([self.a_eq, self.a_low]).tocsc()
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = matrix.shape[1], matrix.shape[0]
        lp.col_cost_ = np.zeros(matrix.shape[1])
        lp.col_lower_, lp.col_upper_ = np.zeros(matrix.shape[1]), np.full(matrix.shape[1], self.ceiling)
        lp.row_lower_ = np.concatenate([self.b_eq, np.ones(self.a_low.shape[0])])
        lp.row_upper_ = np.concatenate([self.b_eq, np.full(self.a_low.shape[0], np.inf)])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = (
            matrix.indptr,
            matrix.indices,
            matrix.data,
        )
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = matrix.shape[1], matrix.shape[0]
        with silent_stdout():  # HiGHS prints a banner from its C++ constructor
            self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        self.highs.passModel(lp)
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
