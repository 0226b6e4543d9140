"""One universe's LP as one HiGHS model (`highspy`), re-solved from its last basis for each objective: the
solver behind the disclosure audit (`_audit`), with a fresh solve by scipy's HiGHS where the warm model
gives no verdict, and rows that can be taken out and put back (for the audit's alternative cuts)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from misflag._highs import silent_stdout
from misflag.disclosure._fixed import Substitution, substitute
from misflag.disclosure._matrix import SparseRows
from misflag.disclosure._model import Source
from misflag.errors import MisflagError

if TYPE_CHECKING:
    import highspy

TOLERANCE = 1e-6
#: How far a kept point may miss an equation (relative to its right-hand side) and still count as feasible.
FEASIBLE = 1e-7


class Problem:
    """One universe's LP as one HiGHS model (highspy): each objective is solved from the last basis."""

    def __init__(
        self,
        position: np.ndarray,
        a_eq: SparseRows | None,
        b_eq: np.ndarray,
        a_ub: SparseRows | None,
        b_ub: np.ndarray,
        sources: list[frozenset[Source]] | None = None,
    ) -> None:
        self.position, self.a_eq, self.b_eq, self.a_ub, self.b_ub = position, a_eq, b_eq, a_ub, b_ub
        self.free = int((position >= 0).sum())
        self.highs: highspy.Highs | None = None
        self.sources = sources or [frozenset()] * b_eq.size
        self.duals = np.zeros(b_eq.size)  # the last solve's equality duals
        self._rows_of: dict[frozenset[Source], list[int]] | None = None
        self._reduced: Substitution | None = None  # `beside`: the LP without the unknowns fixed
        self._primal = False  # `beside`: the primal simplex after the first solve
        self._presolve = "choose"  # `beside`: "off" (the substitution is its presolve)

    def pins(self) -> frozenset[frozenset[Source]]:
        """The equalities with a nonzero dual in the last solve (its optimum rests on them), each as the
        rows that publish it; equalities no row publishes (none here) are left out."""
        used = np.nonzero(np.abs(self.duals) > TOLERANCE)[0]
        return frozenset(self.sources[row] for row in used if self.sources[row])

    def rows_publishing(self, equations: Iterable[frozenset[Source]]) -> set[int]:
        """The equality rows of these equations (each named, as in `pins`, by the rows that publish it)."""
        if self._rows_of is None:
            self._rows_of = {}
            for row, source in enumerate(self.sources):
                self._rows_of.setdefault(source, []).append(row)
        return {row for equation in equations for row in self._rows_of.get(equation, ())}

    def free_rows(self, rows: list[int]) -> None:
        """Equality rows taken out of the model (left free), as if their figures were withheld: one call
        to HiGHS for all of them (one per row cost 18,244 calls on benchmark seed 2)."""
        index = np.asarray(rows, dtype=np.int32)
        free = np.full(index.size, np.inf)
        # highspy's stubs (1.16) omit changeRowsBounds; its binding has it
        self._model().changeRowsBounds(index.size, index, -free, free)  # type: ignore[attr-defined]

    def restore_rows(self, rows: list[int]) -> None:
        index = np.asarray(rows, dtype=np.int32)
        bound = self.b_eq[index]
        self._model().changeRowsBounds(index.size, index, bound, bound)  # type: ignore[attr-defined]

    def beside(self) -> Problem:
        """The same LP as a second HiGHS model, for the probe: the unknowns its equations alone fix
        substituted out (`_fixed`: on benchmark seed 0, 88 of 252 unknowns and 205 of 819 equations
        left, its solves 2.5 times faster), solved afresh without HiGHS's presolve (the substitution is
        one: a first solve took 2.5 ms against 5), then by the primal simplex from the last basis (a new
        objective leaves a basis primal feasible). Its solves leave this model untouched, and it reports
        no duals (`pins`): the probe's path steers nothing."""
        other = Problem(self.position, self.a_eq, self.b_eq, self.a_ub, self.b_ub, self.sources)
        other._reduced = substitute(self.a_eq, self.b_eq, self.a_ub, self.b_ub, self.free)
        other._primal, other._presolve = True, "off"
        return other

    def full(self, point: np.ndarray) -> np.ndarray:
        """A point over the free unknowns as one over every unknown (those fixed at 0 as 0)."""
        out = np.zeros(self.position.size)
        out[self.position >= 0] = point
        return out

    def feasible(self, point: np.ndarray) -> np.ndarray | None:
        """An earlier point over every unknown, over the free ones, if it satisfies these equations."""
        if point.size != self.position.size or np.any(np.abs(point[self.position < 0]) > FEASIBLE):
            return None
        free = point[self.position >= 0]
        if np.any(free < -FEASIBLE):
            return None
        for matrix, bound, equal in ((self.a_eq, self.b_eq, True), (self.a_ub, self.b_ub, False)):
            if matrix is None:
                continue
            miss = matrix.times(free) - bound
            allowed = FEASIBLE * np.maximum(1.0, np.abs(bound))
            if np.any((np.abs(miss) if equal else miss) > allowed):
                return None
        return free

    def _model(self) -> highspy.Highs:
        """The HiGHS model, built at the first solve: equalities, then the at-least rows, counts >= 0
        (over the unknowns left, where fixed ones are substituted out)."""
        if self.highs is not None:
            return self.highs
        import highspy  # here, at the first solve: an output with nothing to solve never loads HiGHS

        reduced, columns = self._reduced, self.free
        if reduced is None:
            empty = SparseRows.none(columns)
            equal, at_most = self.a_eq or empty, self.a_ub or empty
            b_eq, b_ub = self.b_eq, self.b_ub
        else:
            equal, at_most, b_eq, b_ub = reduced.a_eq, reduced.a_ub, reduced.b_eq, reduced.b_ub
            columns = reduced.kept.size
        matrix = equal.below(at_most)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = columns, matrix.shape[0]
        lp.col_cost_ = np.zeros(columns)
        lp.col_lower_, lp.col_upper_ = np.zeros(columns), np.full(columns, np.inf)
        lp.row_lower_ = np.concatenate([b_eq, np.full(b_ub.size, -np.inf)])
        lp.row_upper_ = np.concatenate([b_eq, b_ub])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = matrix.column_wise()
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = columns, matrix.shape[0]
        with silent_stdout():  # HiGHS 1.16 prints a banner from its C++ constructor
            self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        self.highs.setOptionValue("presolve", self._presolve)
        self.highs.passModel(lp)
        return self.highs

    def solve(self, objective: np.ndarray) -> tuple[float, np.ndarray | None]:
        """The least value of the objective (-inf when unbounded, with no point) and a point reaching it."""
        import highspy

        highs = self._model()
        costs, offset = (objective, 0.0) if self._reduced is None else self._reduced.objective(objective)
        highs.changeColsCost(costs.size, np.arange(costs.size, dtype=np.int32), costs.astype(float))
        highs.run()
        status = highs.getModelStatus()
        if status == highspy.HighsModelStatus.kUnboundedOrInfeasible:  # presolve cannot tell: solve plainly
            highs.setOptionValue("presolve", "off")
            highs.run()
            highs.setOptionValue("presolve", self._presolve)
            status = highs.getModelStatus()
        self.duals = np.zeros(self.b_eq.size)
        if status == highspy.HighsModelStatus.kUnbounded:
            return float("-inf"), None
        if status != highspy.HighsModelStatus.kOptimal:  # e.g. "Unknown" after a warm start: solve afresh
            return self._solve_afresh(objective, highs.modelStatusToString(status))
        if self._primal:
            highs.setOptionValue("simplex_strategy", 4)  # HiGHS's primal simplex, from this basis on
            self._primal = False
        solution = highs.getSolution()
        point = np.asarray(solution.col_value)
        if self._reduced is not None:
            return float(highs.getObjectiveValue()) + offset, self._reduced.lift(point)
        self.duals = np.asarray(solution.row_dual)[: self.b_eq.size]
        return float(highs.getObjectiveValue()), point

    def _solve_afresh(self, objective: np.ndarray, warm_status: str) -> tuple[float, np.ndarray | None]:
        """The same LP solved from scratch by scipy's HiGHS, for when the warm-started model gives no
        verdict; a second failure means the published figures contradict each other."""
        from scipy.optimize import linprog

        solved = linprog(
            objective,
            A_ub=self.a_ub.to_scipy() if self.a_ub is not None else None,
            b_ub=self.b_ub if self.a_ub is not None else None,
            A_eq=self.a_eq.to_scipy() if self.a_eq is not None else None,
            b_eq=self.b_eq if self.a_eq is not None else None,
            bounds=(0, None),
            method="highs",
        )
        if solved.status == 3:
            return float("-inf"), None
        if solved.status != 0:
            raise MisflagError(
                "the published figures are inconsistent (the disclosure audit's LP: "
                f"{warm_status}, then {solved.message})"
            )
        if self.a_eq is not None:
            self.duals = np.asarray(solved.eqlin.marginals)
        return float(solved.fun), np.asarray(solved.x)
