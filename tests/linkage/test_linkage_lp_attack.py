"""The LP attacker on `misflag linkage audit`'s withheld groups (issue 21's goal applied to the linkage audit).

FEBRL 4 is linked by `misflag linkage run` and audited by `misflag linkage audit` with two attributes:
the first letter of the state (l, f and m, misspellings, hold 2 people each, and a, 149, is withheld with
them) and of the given name (y has 13 people; x, the next smallest, is withheld with it). The first
letter keeps the state's misspellings to 11 groups, so the model stays small (the state itself has 41
groups under 20 people, about 100 s of CPU per reader). The reader takes every figure of the saved
bundle as an equation on whole counts and solves for the least and most each withheld count can hold,
with HiGHS (its MIP on one model through the disclosure tests' `WarmLp`, only the objective changed
between solves: on the published FEBRL audit all 132 LP optima were fractional, so the warm LP solved
first, then scipy's `milp` afresh, cost a third more).

The reader's unknowns, per attribute (no cross-table of two attributes is published, so each attribute
has its own equations, tied only through the overall row they share): per group, true and false pairs
touching it per score bin (the bins between every published threshold; true pairs also "never listed"),
people per bin of their highest wrong-link score (or none), and the overall row's pairs and people. A
person is in one group, so people add up to the overall row per bin; a pair touches one or two groups,
so per kind and bin the groups' pairs lie between the overall count and twice it, none above it (these
conditions are exactly those for a multigraph of pairs between groups to exist). A wrongly linked person
has a false pair at or above the threshold touching their group (at most two such people per pair), and
each such pair has a wrongly linked person in the group (at most N - 1 pairs each).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from scipy import sparse

from misflag.cli import main
from misflag.linkage._disclosure import Outcome
from tests.disclosure.attacker import WarmLp

SETTINGS = Path(__file__).resolve().parents[2] / "src/misflag/linkage/settings/febrl.json"
GROUPS = ("substr(state, 1, 1)", "substr(given_name, 1, 1)")
MIN_CELL = 20
THRESHOLDS = (0.5, 0.9)
BLOCKED_ON = ("given_name", "surname", "date_of_birth", "soc_sec_id", "postcode", "street_number")
#: Least and most of each (group, count) a reader can hold
Intervals = dict[tuple[str, str], tuple[float, float]]


@dataclass
class Reader:
    """One attribute's linear model of everything a saved linkage-audit bundle publishes."""

    bundle: dict[str, Any]
    attribute: str
    primary: set[str] | None = None  # groups known to be withheld as small (None: no rule known)
    columns: dict[tuple[Any, ...], int] = field(default_factory=dict)
    equal: list[tuple[dict[int, float], float]] = field(default_factory=list)
    at_most: list[tuple[dict[int, float], float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        rows = self.bundle["rows"]
        curves = self.bundle["extras"]["threshold_curves"]
        self.min_cell = int(self.bundle["metadata"]["min_cell"])
        self.audited = [float(t) for t in self.bundle["metadata"]["spec"]["thresholds"]]
        self.grid = sorted({float(r["threshold"]) for r in curves} | set(self.audited))
        self.groups = sorted({r["group"] for r in rows if r["attribute"] == self.attribute})
        self.withheld = {
            r["group"]: r["warning"] for r in rows if r["attribute"] == self.attribute and r["suppressed"]
        }
        # the rows of the records and pairs files, null where the overall row is withheld
        self.people_n = self.bundle["metadata"]["records"]["rows"]
        self.pairs_n = self.bundle["metadata"]["input"]["rows"]
        self.blocking = any(r["stage"] == "blocking" for r in rows)
        for unit in [*self.groups, None]:  # None: the overall row
            self._structure(unit)
        self._couple()
        shown_people = {}
        for row in rows:
            unit = None if row["attribute"] == "overall" else row["group"]
            if row["attribute"] in ("overall", self.attribute) and not row["suppressed"]:
                self._read(unit, row)
                if row["metric"] == "wrongful_link_rate" and unit is not None:
                    shown_people[unit] = row["denominator"]
        for curve in curves:
            unit = None if curve["attribute"] == "overall" else curve["group"]
            if curve["attribute"] in ("overall", self.attribute):
                self._read_curve(unit, curve, self.people_n if unit is None else shown_people[unit])
        if self.people_n is not None:
            self._eq(self.people(None), self.people_n)  # metadata: records rows
            listed = {**self.pairs(None, True, 0, listed=True), **self.pairs(None, False, 0)}
            self._eq(listed, self.pairs_n)  # metadata: pairs rows
        if self.primary is not None:  # which rule withheld each group: fewer than min_cell, or complementary
            smallest_shown = min(shown_people.values(), default=self.people_n or math.inf)
            for group in self.withheld:
                if group in self.primary:
                    self._le(self.people(group), self.min_cell - 1)
                else:
                    self._le({k: -v for k, v in self.people(group).items()}, -self.min_cell)
                    self._le(self.people(group), smallest_shown)

    # -- unknowns -------------------------------------------------------------------------------
    def _col(self, *key: Any) -> int:
        return self.columns.setdefault(key, len(self.columns))

    def _kinds(self) -> tuple[str, ...]:
        """False pairs, and true pairs (with --settings: those a blocking rule reaches, and the rest)."""
        return ("true-reached", "true-missed", "false") if self.blocking else ("true", "false")

    def _bins(self, kind: str) -> list[Any]:
        """Score bins: b = number of thresholds at or below the score; true pairs also "never listed"."""
        return (["unlisted"] if kind.startswith("true") else []) + list(range(len(self.grid) + 1))

    def pairs(
        self, unit: str | None, true: bool, j: int, listed: bool = False, reached: bool = False
    ) -> dict[int, float]:
        """Pairs touching the unit at score >= grid[j - 1] (j = 0: every listed pair; true, unlisted too);
        `reached`: only the true pairs a blocking rule reaches."""
        out: dict[int, float] = {}
        for kind in self._kinds():
            if kind.startswith("true") != true or (reached and kind != "true-reached"):
                continue
            chosen = [b for b in self._bins(kind) if b != "unlisted" and b >= j]
            if true and j == 0 and not listed:
                chosen.append("unlisted")
            out |= {self._col("pairs", unit, kind, b): 1.0 for b in chosen}
        return out

    def wrongly(self, unit: str | None, j: int) -> dict[int, float]:
        """People of the unit linked to someone else at score >= grid[j - 1]."""
        return {self._col("wrong", unit, b): 1.0 for b in range(j, len(self.grid) + 1)}

    def people(self, unit: str | None) -> dict[int, float]:
        return {self._col("wrong", unit, b): 1.0 for b in ["none", *range(len(self.grid) + 1)]}

    def _eq(self, terms: dict[int, float], value: float) -> None:
        self.equal.append((terms, float(value)))

    def _le(self, terms: dict[int, float], value: float) -> None:
        self.at_most.append((terms, float(value)))

    def _structure(self, unit: str | None) -> None:
        for kind in self._kinds():
            for b in self._bins(kind):
                self._col("pairs", unit, kind, b)
        for b in ["none", *range(len(self.grid) + 1)]:
            self._col("wrong", unit, b)

    def _couple(self) -> None:
        """People add up per bin; pairs touch one or two groups; wrong links need false pairs."""
        for b in ["none", *range(len(self.grid) + 1)]:
            terms = {self._col("wrong", g, b): 1.0 for g in self.groups}
            terms[self._col("wrong", None, b)] = -1.0
            self._eq(terms, 0)
        for kind in self._kinds():
            for b in self._bins(kind):
                total = self._col("pairs", None, kind, b)
                touching = {self._col("pairs", g, kind, b): 1.0 for g in self.groups}
                self._le({**{k: -v for k, v in touching.items()}, total: 1.0}, 0)  # total <= sum
                self._le({**touching, total: -2.0}, 0)  # sum <= 2 total
                for column in touching:
                    self._le({column: 1.0, total: -1.0}, 0)
        for unit in [*self.groups, None]:
            self._le({k: -v for k, v in self.people(unit).items()}, -1)  # each listed group holds someone
            for j in range(len(self.grid) + 1):
                wrong, false = self.wrongly(unit, j), self.pairs(unit, False, j)
                self._le({**wrong, **{k: -2.0 for k in false}}, 0)
                most = (self.people_n or 10**6) - 1.0  # a reader without the total: any large bound
                self._le({**false, **{k: -most for k in wrong}}, 0)

    # -- published figures ------------------------------------------------------------------------
    def _read(self, unit: str | None, row: dict[str, Any]) -> None:
        if row["stage"] == "blocking":  # true pairs, and those a blocking rule reaches
            self._eq(self.pairs(unit, True, 0), row["denominator"])
            if row["value"] is not None:
                self._eq(self.pairs(unit, True, 0, reached=True), round(row["value"] * row["denominator"]))
            return
        j = self.grid.index(float(row["stage"].removeprefix("p>="))) + 1
        tp, fp = self.pairs(unit, True, j), self.pairs(unit, False, j)
        true_pairs = self.pairs(unit, True, 0)
        fn = {**true_pairs, **{k: true_pairs.get(k, 0.0) - 1.0 for k in tp}}
        known: dict[str, tuple[dict[int, float], dict[int, float]]] = {
            "precision": (tp, {**tp, **fp}),
            "recall": (tp, true_pairs),
            "f1": (tp, {**fp, **true_pairs}),
            "wrongful_link_rate": (self.wrongly(unit, j), self.people(unit)),
        }
        counts = {"tp_count": tp, "fp_count": fp, "fn_count": fn}
        if row["metric"] in counts:
            self._eq(counts[row["metric"]], row["value"])
        elif row["metric"] in known:
            top, bottom = known[row["metric"]]
            self._eq(bottom, row["denominator"])
            if row["value"] is not None and row["metric"] != "f1":
                self._eq(top, round(row["value"] * row["denominator"]))

    def _read_curve(self, unit: str | None, curve: dict[str, Any], people: float) -> None:
        j = self.grid.index(float(curve["threshold"])) + 1
        tp, fp, true_pairs = self.pairs(unit, True, j), self.pairs(unit, False, j), self.pairs(unit, True, 0)
        self._eq(tp, curve["tp"])
        self._eq(fp, curve["fp"])
        self._eq(true_pairs, curve["tp"] + curve["fn"])
        if curve["wrongful_link_rate"] is not None:
            self._eq(self.wrongly(unit, j), round(curve["wrongful_link_rate"] * people))

    # -- the attack -------------------------------------------------------------------------------
    def targets(self) -> dict[tuple[str, str], dict[int, float]]:
        """Every sensitive count behind a withheld group's rows: people, and at each audited threshold
        its wrongly linked people and TP, FP and FN pairs; its true pairs, and those blocking reaches."""
        out: dict[tuple[str, str], dict[int, float]] = {}
        for group in self.withheld:
            out[(group, "people")] = self.people(group)
            out[(group, "true_pairs")] = self.pairs(group, True, 0)
            if self.blocking:
                out[(group, "reached")] = self.pairs(group, True, 0, reached=True)
            for t in self.audited:
                j = self.grid.index(t) + 1
                tp, true_pairs = self.pairs(group, True, j), self.pairs(group, True, 0)
                out[(group, f"wrongly_linked@{t:g}")] = self.wrongly(group, j)
                out[(group, f"tp@{t:g}")] = tp
                out[(group, f"fp@{t:g}")] = self.pairs(group, False, j)
                out[(group, f"fn@{t:g}")] = {k: 1.0 for k in true_pairs if k not in tp}
        return out

    def intervals(self) -> Intervals:
        """Least and most each target can hold over whole non-negative counts meeting every equation."""
        size = len(self.columns)

        def matrix(rows: list[tuple[dict[int, float], float]]) -> sparse.csr_matrix:
            data = [(i, k, v) for i, (terms, _) in enumerate(rows) for k, v in terms.items()]
            r, c, v = zip(*data, strict=True) if data else ((), (), ())
            return sparse.csr_matrix((v, (r, c)), shape=(len(rows), size))

        a_eq, b_eq = matrix(self.equal), np.array([v for _, v in self.equal])
        a_ub, b_ub = matrix(self.at_most), np.array([v for _, v in self.at_most])
        whole = WarmLp(a_eq, b_eq, a_ub, b_ub, whole=True)
        growable = _growable(a_eq, a_ub)
        targets, twin = self.targets(), self._twins()
        solved = {}
        for (group, count), terms in targets.items():
            if twin[group] == group:
                objective = np.zeros(size)
                objective[list(terms)] = 1.0
                low = whole.least(objective)  # counts are >= 0: the least is finite
                high = math.inf if growable & set(terms) else -whole.least(-objective)
                solved[(group, count)] = (low, high)
        out = {}
        for (group, count), terms in targets.items():  # a twin's target is its twin's, renamed
            swap = self._swap(group, twin[group])
            assert {swap.get(k, k) for k in terms} == set(targets[(twin[group], count)])
            out[(group, count)] = solved[(twin[group], count)]
        return out

    def _swap(self, one: str, other: str) -> dict[int, int]:
        """The unknowns of two groups exchanged (a key's second part is its group)."""
        if one == other:
            return {}
        renamed = {one: other, other: one}
        return {
            i: self.columns[(k[0], renamed[k[1]], *k[2:])] for k, i in self.columns.items() if k[1] in renamed
        }

    def _constraints(self, swap: dict[int, int]) -> Counter[tuple[Any, ...]]:
        """Every equation and inequality with its unknowns renamed by `swap`, as a multiset."""
        return Counter(
            (kind, frozenset((swap.get(k, k), v) for k, v in terms.items()), value)
            for kind, rows in (("=", self.equal), ("<=", self.at_most))
            for terms, value in rows
        )

    def _twins(self) -> dict[str, str]:
        """Each withheld group's twin: the first one (itself if none) whose unknowns can be exchanged with
        its own leaving every equation and inequality as it was. Exchanging them maps every whole solution to
        another, and each target of one group onto the same target of the other, so their intervals are
        equal: solved once. A figure the release gives of one group and not of the other breaks the twin."""
        model = self._constraints({})
        twin: dict[str, str] = {}
        for group in sorted(self.withheld):
            twin[group] = next(
                (
                    first
                    for first in dict.fromkeys(twin.values())
                    if self._constraints(self._swap(first, group)) == model
                ),
                group,
            )
        return twin


def _growable(a_eq: sparse.csr_matrix, a_ub: sparse.csr_matrix) -> set[int]:
    """The unknowns that can grow without bound: j with d_j > 0 for some direction d >= 0, A_eq d = 0,
    A_ub d <= 0. The model being feasible, max c.x (c >= 0) is unbounded exactly when c counts one of
    them. Each round maximises the sum of the directions (up to 1 each) of the unknowns not yet found,
    and adds those it moves; a round that moves none ends it. Asked for an unbounded maximum itself,
    HiGHS drops its warm basis and solves afresh, twice with WarmLp's `linprog` check."""
    size = a_eq.shape[1]
    cone = WarmLp(a_eq, np.zeros(a_eq.shape[0]), a_ub, np.zeros(a_ub.shape[0]))
    cone.highs.changeColsBounds(size, np.arange(size, dtype=np.int32), np.zeros(size), np.ones(size))
    found: set[int] = set()
    while True:
        rest = np.ones(size)
        rest[list(found)] = 0.0
        grows = -cone.least(-rest)
        assert cone.highs.getModelStatus() == cone.status.kOptimal  # d = 0 is feasible; d <= 1
        if grows <= 1e-6:
            return found
        moved = np.flatnonzero((np.asarray(cone.highs.getSolution().col_value) > 1e-7) & (rest > 0))
        assert moved.size, grows
        found |= {int(j) for j in moved}


# -- the data, the audit and the truth ---------------------------------------------------------------
#: The link and its true counts, made once per process: test_linkage_lp_audit.py reads the same ones
#: (tests/conftest.py schedules the two modules together); each test saves its bundle under its own name.
_LINKED: dict[str, Path] = {}
_TRUTH: dict[str, dict[tuple[str, str], int]] = {}


@pytest.fixture(scope="module")
def linked(febrl4: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """FEBRL 4's two files linked by `misflag linkage run` with the shipped settings."""
    if not _LINKED:
        _LINKED.update(_link(febrl4, tmp_path_factory.mktemp("febrl_lp")))
    return _LINKED


def _link(febrl4: Path, folder: Path) -> dict[str, Path]:
    """The two sides written to `folder`, and their pairs from `misflag linkage run`."""
    table = pq.read_table(febrl4)
    sides = []
    for source in "ab":
        side = folder / f"{source}.parquet"
        chosen = table.filter(pc.equal(table["source_dataset"], source))
        pq.write_table(chosen.drop_columns(["cluster_id", "source_dataset"]), side)
        sides.append(str(side))
    pairs = folder / "pairs.parquet"
    assert main(["linkage", "run", str(SETTINGS), *sides, "--out", str(pairs), "--seed", "0"]) == 0
    return {"folder": folder, "records": febrl4, "pairs": pairs}


def audit(linked: dict[str, Path], name: str) -> dict[str, Any]:
    """`misflag linkage audit` with both attributes; the saved bundle as a reader holds it."""
    saved = linked["folder"] / f"{name}.json"
    argv = ["linkage", "audit", str(linked["pairs"]), "--records", str(linked["records"])]
    argv += ["--id-column", "rec_id", "--truth", "cluster_id", "--source-column", "source_dataset"]
    argv += [*(x for g in GROUPS for x in ("--group", g)), "--min-cell", str(MIN_CELL)]
    argv += [*(x for t in THRESHOLDS for x in ("--threshold", str(t))), "--save", str(saved)]
    argv += ["--settings", str(SETTINGS)]  # blocking recall per group
    assert main([*argv, "--format", "csv"]) == 0
    bundle: dict[str, Any] = json.loads(saved.read_text())
    return bundle


def true_counts(linked: dict[str, Path], attribute: str) -> dict[tuple[str, str], int]:
    """Every target's true value, counted with pandas from the records and pairs."""
    records = pq.read_table(linked["records"]).to_pandas().set_index("rec_id")
    group = records[attribute.removeprefix("substr(").split(",")[0]].str[:1].fillna("(missing)")
    pairs = pd.read_parquet(linked["pairs"])
    a, b = (records[records.source_dataset == s].reset_index() for s in "ab")
    both = a.merge(b, on="cluster_id")
    true = both[["rec_id_x", "rec_id_y"]].set_axis(["id_l", "id_r"], axis=1)
    # the blocking rules of febrl.json (a missing value equals nothing, as in SQL)
    same = {c: both[f"{c}_x"].notna() & (both[f"{c}_x"] == both[f"{c}_y"]) for c in BLOCKED_ON}
    reached = same["given_name"] | same["surname"] | same["date_of_birth"] | same["soc_sec_id"]
    reached |= same["postcode"] & same["street_number"]
    true_keys = set(map(frozenset, zip(true.id_l, true.id_r, strict=True)))
    pairs["is_true"] = [frozenset(p) in true_keys for p in zip(pairs.id_l, pairs.id_r, strict=True)]
    out: dict[tuple[str, str], int] = {}

    def touching(frame: pd.DataFrame, g: str) -> int:
        return int(((group.loc[frame.id_l].to_numpy() == g) | (group.loc[frame.id_r].to_numpy() == g)).sum())

    for g in group.unique():
        out[(g, "people")] = int((group == g).sum())
        out[(g, "true_pairs")] = touching(true, g)
        out[(g, "reached")] = touching(true[reached.to_numpy()], g)
        for t in THRESHOLDS:
            above = pairs[pairs.score >= t]
            wrong = above[~above.is_true]
            people = set(wrong.id_l) | set(wrong.id_r)
            out[(g, f"wrongly_linked@{t:g}")] = sum(group.loc[p] == g for p in people)
            out[(g, f"tp@{t:g}")] = touching(above[above.is_true], g)
            out[(g, f"fp@{t:g}")] = touching(wrong, g)
            out[(g, f"fn@{t:g}")] = out[(g, "true_pairs")] - out[(g, f"tp@{t:g}")]
    return out


def rules_told(bundle: dict[str, Any], attribute: str) -> set[str] | None:
    """What a reader of the published reasons learns of the rule behind each withheld group: the groups
    whose reason says they are small (misflag's text before issue 21's fix: "fewer than N people in this
    group" or "withheld so that ... cannot be recovered"), or None when no reason names a rule."""
    reasons = {
        r["group"]: r["warning"] for r in bundle["rows"] if r["attribute"] == attribute and r["suppressed"]
    }
    if not any("fewer than" in why for why in reasons.values()):
        return None
    return {g for g, why in reasons.items() if "fewer than" in why and "cannot be recovered" not in why}


#: Each solved model's intervals, by (bundle, attribute, groups known to be small), the bundle held so its id
#: stays its own: a reader of reasons that names no rule solves the plain reader's model, asked for again.
_SOLVED: dict[tuple[int, str, frozenset[str] | None], tuple[dict[str, Any], Intervals]] = {}


def _solved(bundle: dict[str, Any], attribute: str, primary: set[str] | None) -> Intervals:
    """`Reader(bundle, attribute, primary).intervals()`, solved once per bundle and rule known."""
    key = (id(bundle), attribute, None if primary is None else frozenset(primary))
    if key not in _SOLVED:
        _SOLVED[key] = (bundle, Reader(bundle, attribute, primary).intervals())
    return _SOLVED[key][1]


def attack(
    bundle: dict[str, Any], truth: dict[str, dict[tuple[str, str], int]], reader: str
) -> tuple[dict[tuple[str, str, str], tuple[float, float]], list[tuple[str, str, str]]]:
    """Every withheld count's interval (attribute, group, count), and those pinned: from 1 to
    min_cell - 1 people, inside an interval narrower than ceil(min_cell / 2) that rules out zero.
    `reader`: "reader" (the figures alone), "reader-of-reasons" (and what the warnings say of the rule)
    or "rule-aware" (and which rule withheld each group, as the auditor knows, from the true sizes)."""
    intervals, pinned = {}, []
    min_cell = bundle["metadata"]["min_cell"]
    for attribute in truth:
        primary = {
            "reader": None,
            "reader-of-reasons": rules_told(bundle, attribute),
            "rule-aware": {
                g for g in withheld(bundle, attribute) if truth[attribute][(g, "people")] < min_cell
            },
        }[reader]
        for (group, count), (low, high) in _solved(bundle, attribute, primary).items():
            value = truth[attribute][(group, count)]
            assert low - 1e-6 <= value <= high + 1e-6, (attribute, group, count, value, low, high)
            intervals[(attribute, group, count)] = (low, high)
            if 1 <= value < min_cell and high - low < math.ceil(min_cell / 2) - 1e-6 and low > 1e-6:
                pinned.append((attribute, group, count))
    return intervals, pinned


@pytest.fixture(scope="module")
def truth(linked: dict[str, Path]) -> dict[str, dict[tuple[str, str], int]]:
    if not _TRUTH:  # counted once per process, as the link is made once
        _TRUTH.update({attribute: true_counts(linked, attribute) for attribute in GROUPS})
    counts = _TRUTH
    people = {a: {g: v for (g, c), v in counts[a].items() if c == "people"} for a in GROUPS}
    # the sizes the hand-worked intervals below rest on
    assert {g: people[GROUPS[0]][g] for g in ("l", "f", "m", "a", "(missing)")} == {
        "l": 2,
        "f": 2,
        "m": 2,
        "a": 149,
        "(missing)": 157,
    }
    assert min(n for g, n in people[GROUPS[0]].items() if g not in "lfma") == 157
    assert {g: people[GROUPS[1]][g] for g in ("y", "x", "v")} == {"y": 13, "x": 23, "v": 35}
    assert min(n for g, n in people[GROUPS[1]].items() if g not in "yx") == 35
    return counts


@pytest.fixture(scope="module")
def published(linked: dict[str, Path]) -> dict[str, Any]:
    return audit(linked, "published")


def withheld(bundle: dict[str, Any], attribute: str) -> set[str]:
    return {r["group"] for r in bundle["rows"] if r["attribute"] == attribute and r["suppressed"]}


@pytest.mark.parametrize("reader", ["reader", "reader-of-reasons", "rule-aware"])
def test_no_withheld_count_is_pinned(
    published: dict[str, Any], truth: dict[str, dict[tuple[str, str], int]], reader: str
) -> None:
    """The attack on the audit as published. Every withheld group gives the same reason, so the reader of
    reasons learns no rule; the rule-aware reader (the auditor, or the reasons misflag published before)
    also knows a group withheld as small holds 1 to 19 people, and one withheld to protect it 20 or more,
    at most the smallest shown group, and still pins nothing."""
    # l, f and m (2 people each) are small; three withheld groups still sum to 6, so each would lie in
    # [1, 4]: a (149) is withheld too. y (13) is small; x (23) is withheld with it.
    assert withheld(published, GROUPS[0]) == {"l", "f", "m", "a"}
    assert withheld(published, GROUPS[1]) == {"y", "x"}
    intervals, pinned = attack(published, truth, reader)
    assert pinned == []
    state, given = GROUPS
    reasons = {r["warning"] for r in published["rows"] if r["suppressed"]}
    assert reasons == {
        f"suppressed: withheld for disclosure control (--min-cell {MIN_CELL}): a small count, "
        "or a figure that would give one back"
    }
    assert rules_told(published, state) is None and rules_told(published, given) is None
    if (
        reader == "rule-aware"
    ):  # a in [20, 157] (157: "(missing)"); l in [155 - 19 - 19 - 157, 155 - 1 - 1 - 20]
        assert intervals[(state, "l", "people")] == pytest.approx((1, 19))
        # x in [20, 35] (35: v), so y in [36 - 35, 36 - 20]
        assert intervals[(given, "y", "people")] == pytest.approx((1, 16))
        assert intervals[(given, "x", "people")] == pytest.approx((20, 35))
    else:  # each listed group holds someone: [1, total - (groups - 1)]
        assert intervals[(state, "l", "people")] == pytest.approx((1, 155 - 3))
        assert intervals[(given, "y", "people")] == pytest.approx((1, 36 - 1))
    # pair counts: a pair may touch a shown group too, so only the shown groups' pairs bound them
    assert intervals[(given, "y", "tp@0.5")][0] == 0


def no_lp_audit(counts: Any, withheld: set[tuple[str, str]], *_: Any) -> Outcome:
    """The release as the rule left it: no LP audit, nothing more withheld."""
    return Outcome(withheld, None)


def _primary_only(sizes: dict[tuple[str, str], int], min_cell: int) -> dict[tuple[str, str], str]:
    return {key: "suppressed: fewer than some people" for key, n in sizes.items() if n < min_cell}


def _one_complement(sizes: dict[tuple[str, str], int], min_cell: int) -> dict[tuple[str, str], str]:
    """The rule before issue 21's attack: a second group only where exactly one would be withheld."""
    held = _primary_only(sizes, min_cell)
    for attribute in {a for a, _ in sizes if a != "overall"}:
        members = [k for k in sizes if k[0] == attribute]
        shown = sorted((sizes[k], k) for k in members if k not in held)
        if len(members) - len(shown) == 1:
            held[shown[0][1]] = "suppressed: withheld so that ... cannot be recovered by subtraction"
    return held


@pytest.mark.parametrize("rule", [_primary_only, _one_complement], ids=["primary-only", "one-complement"])
def test_weaker_suppression_is_broken_by_the_same_attacker(
    linked: dict[str, Path],
    truth: dict[str, dict[tuple[str, str], int]],
    monkeypatch: pytest.MonkeyPatch,
    rule: Any,
) -> None:
    """The control: three small groups of 2 add up to 6, so each holds 1 to 4 people (pinned); with the
    primary rule alone, y's 13 people are the overall row minus the shown groups."""
    monkeypatch.setattr("misflag.linkage._evaluate.withheld_groups", rule)
    monkeypatch.setattr("misflag.linkage._audit.protect", no_lp_audit)
    bundle = audit(linked, rule.__name__)
    intervals, pinned = attack(bundle, truth, "reader")
    state, given = GROUPS
    for group in ("l", "f", "m"):
        assert intervals[(state, group, "people")] == pytest.approx((1, 4))
        assert (state, group, "people") in pinned
    if rule is _primary_only:
        assert intervals[(given, "y", "people")] == pytest.approx((13, 13))
        assert (given, "y", "people") in pinned
    else:
        assert {p[:2] for p in pinned} == {(state, "l"), (state, "f"), (state, "m")}


def test_withheld_groups_whose_people_are_all_wrongly_linked(tmp_path: Path) -> None:
    """The case FEBRL does not play: everyone in the withheld groups is wrongly linked, so the withheld
    groups' wrongly linked people (16) are their people (16), both published by subtraction. A (30),
    B (12), C (4), --min-cell 10: C is small; B is withheld with it. Both give the same reason, so B + C
    = 16 leaves C in [1, 15]; knowing the rule (B in [10, 30]) would leave C in [1, 6], still not
    pinned, every one of them wrongly linked, C's wrongly linked people too."""
    sizes = {"A": 30, "B": 12, "C": 4}
    groups = [g for g, n in sizes.items() for _ in range(n)]
    records = pd.DataFrame({"id": [f"r{i}" for i in range(len(groups))], "grp": groups})
    records["cluster"] = np.arange(len(records)) // 2  # true pairs (r0, r1), (r2, r3), ...
    ids = records["id"].tolist()
    pairs = [(ids[i], ids[i + 1], 0.95) for i in range(0, len(ids), 2)]
    wrong = [(ids[i], ids[i + 2], 0.92) for i in range(30, len(ids) - 2)]  # r30 .. r45: B and C
    wrong += [(ids[i], ids[i + 2], 0.92) for i in range(0, 6)]  # six of A's people
    records.to_parquet(tmp_path / "records.parquet")
    pd.DataFrame(pairs + wrong, columns=["id_l", "id_r", "score"]).to_parquet(tmp_path / "pairs.parquet")
    saved = tmp_path / "audit.json"
    argv = [
        "linkage",
        "audit",
        str(tmp_path / "pairs.parquet"),
        "--records",
        str(tmp_path / "records.parquet"),
    ]
    argv += ["--truth", "cluster", "--group", "grp", "--min-cell", "10", "--threshold", "0.5"]
    assert main([*argv, "--save", str(saved), "--format", "csv"]) == 0
    bundle = json.loads(saved.read_text())
    assert withheld(bundle, "grp") == {"B", "C"}
    truth = {("B", "people"): 12, ("C", "people"): 4, ("B", "wrongly_linked@0.5"): 12}
    truth |= {("C", "wrongly_linked@0.5"): 4, ("B", "true_pairs"): 6, ("C", "true_pairs"): 2}
    truth |= {("B", "tp@0.5"): 6, ("C", "tp@0.5"): 2, ("B", "fn@0.5"): 0, ("C", "fn@0.5"): 0}
    truth |= {("B", "fp@0.5"): 12, ("C", "fp@0.5"): 4}  # r40-r42 and r41-r43 touch B and C
    for reader, c_range in (("reader", (1, 15)), ("reader-of-reasons", (1, 15)), ("rule-aware", (1, 6))):
        intervals, pinned = attack(bundle, {"grp": truth}, reader)
        assert pinned == []
        assert intervals[("grp", "C", "people")] == pytest.approx(c_range)
        assert intervals[("grp", "C", "wrongly_linked@0.5")] == pytest.approx(c_range)
