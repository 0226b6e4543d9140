"""Cost-aware secondary suppression: the cheapest set of groups to withhold, as a MILP solved by HiGHS.

The formulation is the cut (Benders) form of tau-ARGUS's "optimal" and sdcTable's "OPT" methods
(Fischetti and Salazar-Gonzalez): binary variables say what is withheld, the cost is the people whose
figures are withheld, and the attacker's LPs supply the constraints. Each exposed count's two LPs rest on
the equations with a nonzero dual (its `pins`); while none of them is withheld, the reader's bounds
still hold, so every later pattern must withhold at least one of them (a cut). The master problem is
solved again with every cut so far until the audit finds nothing exposed; the audit, not this model,
decides what is published.

Per group u (an attribute's value, as published): `rates[u]` withholds every figure but n (cost: its
people), `whole[u]` withholds the group (cost: twice its people: its size too). An equation published by
a group's n is removed by `whole`; one published by its rates, by either.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from misflag.disclosure._matrix import SparseRows
from misflag.disclosure._model import Source

Group = tuple[str, str | None]  # (attribute, group as published)
#: one equation: the rows that publish it (all must be withheld to remove it)
Equation = frozenset[Source]
#: one cut: at least one of these equations must be removed
Cut = frozenset[Equation]


@dataclass(frozen=True)
class Choice:
    """The master problem's answer: groups whose rates are withheld, groups withheld whole, its cost."""

    rates: frozenset[Group]
    whole: frozenset[Group]
    cost: float
    proven: bool  # False: the time limit stopped HiGHS before it proved the pattern cheapest


def cheapest(sizes: dict[Group, float], cuts: Iterable[Cut], time_limit: float) -> Choice | None:
    """The least costly pattern meeting every cut; None when no pattern can (or HiGHS found none in time).
    HiGHS stops at `time_limit` seconds with the best pattern it has (`proven` False)."""
    ordered = _canonical(cuts)
    groups = sorted({(s[1], s[2]) for cut in ordered for eq in cut for s in eq}, key=str)
    index = {group: k for k, group in enumerate(groups)}
    count = len(groups)
    # variables: rates (count), whole (count), then one "removed" indicator per equation spanning groups
    cost = [sizes.get(g, 1.0) for g in groups] + [2.0 * sizes.get(g, 1.0) for g in groups]
    rows: list[list[tuple[int, float]]] = []
    lower: list[float] = []
    upper: list[float] = []
    for k in range(count):  # a group is withheld for its rates or whole, not both
        rows.append([(k, 1.0), (count + k, 1.0)])
        lower.append(-np.inf)
        upper.append(1.0)
    extra: dict[Equation, int] = {}
    for cut in ordered:
        terms: dict[int, float] = {}
        for equation in cut:
            needs = _needs(equation)
            if len(needs) == 1:
                for variable in _removes(index, count, *needs[0]):
                    terms[variable] = 1.0
                continue
            if equation not in extra:  # removed only when every group publishing it withholds it
                extra[equation] = variable = 2 * count + len(extra)
                cost.append(0.0)
                for group, kind in needs:
                    rows.append([(variable, 1.0), *((v, -1.0) for v in _removes(index, count, group, kind))])
                    lower.append(-np.inf)
                    upper.append(0.0)
            terms[extra[equation]] = 1.0
        if not terms:
            return None
        rows.append(list(terms.items()))
        lower.append(1.0)
        upper.append(np.inf)
    matrix = SparseRows.from_rows(
        [(np.array([c for c, _ in row], dtype=np.int64), np.array([v for _, v in row])) for row in rows],
        len(cost),
    )
    solved = _solve(np.asarray(cost), matrix, np.asarray(lower), np.asarray(upper), 2 * count, time_limit)
    if solved is None:
        return None
    x, objective, proven = solved
    picked = np.round(x[: 2 * count]).astype(bool)
    return Choice(
        frozenset(g for g, on in zip(groups, picked[:count], strict=True) if on),
        frozenset(g for g, on in zip(groups, picked[count:], strict=True) if on),
        objective,
        proven,
    )


def _solve(
    cost: np.ndarray,
    matrix: SparseRows,
    lower: np.ndarray,
    upper: np.ndarray,
    integers: int,
    time_limit: float,
) -> tuple[np.ndarray, float, bool] | None:
    """The MILP (the first `integers` variables binary, the rest in [0, 1]) solved by HiGHS through
    highspy, the library the LP audit already loaded (scipy.optimize.milp cost 0.3-0.5 s to import):
    the best pattern found, its cost, and whether HiGHS proved it optimal (None when it found none)."""
    import highspy  # loaded by the LP audit already, when anything was withheld

    from misflag._highs import silent_stdout

    size = cost.size
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = size, matrix.shape[0]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, np.zeros(size), np.ones(size)
    lp.row_lower_, lp.row_upper_ = lower, upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = matrix.column_wise()
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = size, matrix.shape[0]
    kinds = [highspy.HighsVarType.kInteger] * integers + [highspy.HighsVarType.kContinuous] * (
        size - integers
    )
    lp.integrality_ = kinds
    with silent_stdout():  # HiGHS prints a banner from its C++ constructor
        highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("time_limit", float(time_limit))
    highs.setOptionValue("random_seed", 0)  # the same input, the same pattern
    highs.passModel(lp)
    highs.run()
    status = highs.getModelStatus()
    if highs.getInfo().primal_solution_status != 2:  # no feasible pattern (infeasible, or none in time)
        return None
    x = np.asarray(highs.getSolution().col_value)
    return x, float(highs.getInfo().objective_function_value), status == highspy.HighsModelStatus.kOptimal


def _canonical(cuts: Iterable[Cut]) -> list[list[Equation]]:
    """The cuts, and each cut's equations, in one fixed order (by their rows as text). Cuts arrive as
    sets, whose order follows Python's per-process string hashing; the MILP's rows and variables follow
    this order instead, so that the same cuts give the same pattern in every process (HiGHS breaks ties
    between equally cheap patterns by the order of its rows)."""

    def key(equation: Equation) -> list[str]:
        return sorted(map(repr, equation))

    by_cut = [sorted(cut, key=key) for cut in cuts]
    return sorted(by_cut, key=lambda cut: [key(equation) for equation in cut])


def _needs(equation: Equation) -> list[tuple[Group, str]]:
    """Per group publishing the equation, what must be withheld: "n" (the group whole) or "detail"."""
    kinds: dict[Group, str] = {}
    for _, attribute, group, kind in equation:
        if kinds.get((attribute, group)) != "n":
            kinds[(attribute, group)] = kind
    return sorted(kinds.items(), key=str)


def _removes(index: dict[Group, int], count: int, group: Group, kind: str) -> list[int]:
    """The variables any one of which withholds that part of the group."""
    k = index[group]
    return [count + k] if kind == "n" else [k, count + k]
