"""Weighted mode tells nothing below --min-cell about a group's sampled people (decisions._disclosure,
decisions._weights_trust).

The reviewer's design (2026-12-07, on ab6471c): 60 people of race A and 60 of B audited whole at weight 1,
and one more person of B, alone in a stratum sampled at weight 10. Two readers gave that person's flag and
truth (a count of 1) from B's published rates (2cb16d1): which of B's rates take the unweighted Wilson
interval of their own counts (a rate audited whole at weight 1 takes it, decisions._metrics
`_audited_whole`), and which are a ratio of their published denominator (value x denominator a whole
number). The reader needs no weight of 1: a rate is a ratio of its published denominator whenever every
row behind it has one weight, whatever it is (review of 218f64b: with everyone else at weight 2 and the
person at 7, or everyone else at 3 or 2 and the person at 1, the ratio reader gave the person in 16 of 16
logs). Each weight class of a group (its audited rows at one weight; its rows of unknown truth) is now a
count like any other: a class of 1 to --min-cell - 1 people withholds every weighted rate of the group (and
of the overall row, where the class is small there too), decided from the counts per weight class, never per
flag or truth, with the one public reason; the protection (complementary suppression, the disclosure audit)
then keeps them from being subtracted back. The readers are kept as attacks that pass when they are
defeated (this log has a third group C of 60), with controls where the rule rightly publishes (--min-cell 1;
two sampled people at --min-cell 2) and the readers still read the class, so they are not vacuous.

The design warning is the group's, the same on every weighted rate of it whatever the single-row stratum's
person's flag and truth, and never on a withheld row; a single-row stratum is a weight class of one person,
so its group's rates are published only at --min-cell 1.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from misflag._withheld import public_reason
from misflag.decisions import audit_decisions
from misflag.decisions._weights_trust import ONE_ROW_NOTE

MIN_CELL = 10
#: The rates that read the audited truth, so are weighted; n and the selection rate read the flag alone.
WEIGHTED_RATES = ("base_rate", "fpr", "fnr", "precision", "fdr", "for", "npv", "accuracy")
#: The four flag x truth of the single sampled person.
PERSONS = [(0, 0), (1, 0), (0, 1), (1, 1)]
#: The groups the sampled person is behind: B and the overall row.
HOLDERS = [("race", "B"), ("overall", "all")]
#: The person's weight: 7, where no rate of B is a ratio of its denominator by coincidence (at 10 a flagged
#: negative's FPR, 24/54, is also 20/45, and the ratio reader gives nothing for that log).
WEIGHT = 7.0

Row = dict[str, Any]


def _log(
    flag: int,
    truth: int | None,
    weight: float = WEIGHT,
    copies: int = 1,
    others: int = 0,
    other_group: str = "B",
    other_weight: float = 5.0,
    majority: float = 1.0,
) -> pd.DataFrame:
    """The reviewer's design with a third group C of 60, the 180 at weight `majority`: `copies` sampled
    people of B with `flag` and `truth` at `weight`, and `others` more of `other_group` at `other_weight`
    (random classes). A `truth` of None: the person is outside the audit sample (truth unknown)."""
    rng = np.random.default_rng(0)
    rows = [
        {"race": race, "w": majority, "flag": int(rng.random() < 0.3), "truth": int(rng.random() < 0.3)}
        for race in "ABC"
        for _ in range(60)
    ]
    rows += [{"race": "B", "w": weight, "flag": flag, "truth": truth}] * copies
    rows += [
        {
            "race": other_group,
            "w": other_weight,
            "flag": int(rng.random() < 0.3),
            "truth": int(rng.random() < 0.3),
        }
        for _ in range(others)
    ]
    return pd.DataFrame(rows)


class _Audits:
    """Each log and --min-cell audited once per module (several tests read the same output; the rows are
    only read). The log as `_log` makes it from the same arguments, written as a CSV file in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.done: dict[tuple[Any, ...], list[Row]] = {}

    def rows(self, flag: int, truth: int | None, min_cell: int = MIN_CELL, **log: Any) -> list[Row]:
        key = (flag, truth, min_cell, *sorted(log.items()))
        if key not in self.done:
            path = self.folder / f"log_{len(self.done)}.csv"
            _log(flag, truth, **log).to_csv(path, index=False)
            result = audit_decisions(
                str(path), flag="flag", truth="truth", groups=["race"], weight="w", replicates=100,
                min_cell=min_cell,
            )  # fmt: skip
            self.done[key] = result.rows()
        return self.done[key]


@pytest.fixture(scope="module")
def audits(tmp_path_factory: pytest.TempPathFactory) -> _Audits:
    return _Audits(tmp_path_factory.mktemp("weighted_logs"))


def _rates(rows: list[Row], attribute: str, group: str) -> dict[str, Row]:
    """One group's rows by metric."""
    return {r["metric"]: r for r in rows if (r["attribute"], r["group"]) == (attribute, group)}


def _counts_wilson(row: Row) -> bool:
    """The row's interval is statsmodels' Wilson interval of its value x denominator of its denominator."""
    low, high = proportion_confint(row["value"] * row["denominator"], row["denominator"], method="wilson")
    return bool(abs(low - row["ci_low"]) < 1e-9 and abs(high - row["ci_high"]) < 1e-9)


def _counts_ratio(row: Row) -> bool:
    """The row's value x its denominator is a whole number: a ratio of weight-1 rows (or a coincidence)."""
    product = row["value"] * row["denominator"]
    return bool(abs(product - round(product)) < 1e-9)


def _reader(rates: dict[str, Row], outside: Callable[[Row], bool]) -> tuple[int | None, int | None]:
    """The (flag, truth) a reader gives the group's sampled people from which rates `outside` says they are
    not behind: FPR's denominator and not FNR's, truth 1; precision's and not NPV's, flag 0 (None: no
    answer, a rate withheld among them)."""
    if any(rates[m]["value"] is None for m in ("fpr", "fnr", "precision", "npv")):
        return None, None
    fpr, fnr, precision, npv = (outside(rates[m]) for m in ("fpr", "fnr", "precision", "npv"))
    truth = 1 if fpr and not fnr else 0 if fnr and not fpr else None
    flag = 0 if precision and not npv else 1 if npv and not precision else None
    return flag, truth


#: The two readers: which rates take the Wilson interval of their own counts, which are a ratio of them.
READERS = (_counts_wilson, _counts_ratio)


@pytest.mark.parametrize(("flag", "truth"), PERSONS)
def test_the_readers_no_longer_tell_the_sampled_person(audits: _Audits, flag: int, truth: int) -> None:
    """Attack: neither reader gives the single sampled person's flag or truth from B or the overall row
    (on 2cb16d1 both gave it from B in each of the four logs)."""
    rows = audits.rows(flag, truth)
    for outside in READERS:
        for attribute, group in HOLDERS:
            assert _reader(_rates(rows, attribute, group), outside) == (None, None), (outside, group)


@pytest.mark.parametrize(("flag", "truth"), PERSONS)
def test_control_at_min_cell_1_the_readers_read_the_person(audits: _Audits, flag: int, truth: int) -> None:
    """Control: --min-cell 1 withholds nothing (a count of 1 is not under it) and both readers give the
    person's flag and truth from B's rates and from the overall row's, as they did before the rule."""
    rows = audits.rows(flag, truth, min_cell=1)
    for outside in READERS:
        for attribute, group in HOLDERS:
            assert _reader(_rates(rows, attribute, group), outside) == (flag, truth), (outside, group)


@pytest.mark.parametrize(("flag", "truth"), PERSONS)
def test_two_sampled_people_of_one_class(audits: _Audits, flag: int, truth: int) -> None:
    """A sampled stratum of two audited rows, both of one class: two is under --min-cell 10, so the readers
    are defeated; at --min-cell 2 the rule publishes them (two is not under it) and the readers read their
    common class, a count of 2 the output is allowed to give at that --min-cell."""
    withheld, published = audits.rows(flag, truth, copies=2), audits.rows(flag, truth, min_cell=2, copies=2)
    for outside in READERS:
        for attribute, group in HOLDERS:
            assert _reader(_rates(withheld, attribute, group), outside) == (None, None), (outside, group)
        assert _reader(_rates(published, "race", "B"), outside) == (flag, truth), outside


#: The review of 218f64b's logs: (everyone else's weight, the person's weight). B's rows other than the
#: person's have one weight, so each of B's rates the person is not behind is a ratio of its denominator;
#: 218f64b counted B's rows at a weight other than 1 (61 or 0) and published, the ratio reader gave the
#: person's flag and truth in 16 of 16 logs of each (seeds 0-3).
MAJORITY = [(2.0, WEIGHT), (3.0, 1.0), (2.0, 1.0)]


@pytest.mark.parametrize(("majority", "weight"), MAJORITY)
@pytest.mark.parametrize(("flag", "truth"), PERSONS)
def test_the_readers_need_no_weight_of_1(
    audits: _Audits, majority: float, weight: float, flag: int, truth: int
) -> None:
    """Attack: everyone else at one weight other than the person's, 1 or not: neither reader gives the
    person's flag or truth from B or the overall row (the person is a weight class of one in both)."""
    rows = audits.rows(flag, truth, weight=weight, majority=majority)
    for outside in READERS:
        for attribute, group in HOLDERS:
            assert _reader(_rates(rows, attribute, group), outside) == (None, None), (outside, group)


@pytest.mark.parametrize(("majority", "weight"), MAJORITY)
@pytest.mark.parametrize(("flag", "truth"), [(0, 1), (1, 0)])
def test_control_majority_weight_at_min_cell_1(
    audits: _Audits, majority: float, weight: float, flag: int, truth: int
) -> None:
    """Control: at --min-cell 1 the ratio reader gives the person's flag and truth (both flags, both
    truths) from B's rates and the overall row's in each of the three logs, so the attack is not vacuous."""
    rows = audits.rows(flag, truth, min_cell=1, weight=weight, majority=majority)
    for attribute, group in HOLDERS:
        assert _reader(_rates(rows, attribute, group), _counts_ratio) == (flag, truth), group


def test_weight_classes_of_min_cell_are_published(audits: _Audits) -> None:
    """Control: everyone else at weight 2 and ten people of B at weight 7 (both classes at least
    --min-cell): every weighted rate of B and the overall row is published."""
    rows = audits.rows(0, 1, copies=10, majority=2.0)
    for attribute, group in HOLDERS:
        rates = _rates(rows, attribute, group)
        assert not any(rates[m]["suppressed"] for m in WEIGHTED_RATES), (attribute, group)


@pytest.mark.parametrize("flag", [0, 1])
def test_an_unaudited_person_is_a_weight_class(audits: _Audits, flag: int) -> None:
    """Attack: everyone audited at weight 1 but one person of B outside the audit sample (truth unknown):
    the rates whose denominators that person may be in (precision if flagged, NPV if not) take the design
    interval, so the Wilson reader gives the person's flag, a count of 1. Unaudited rows are a weight class
    of their own: B's and the overall row's weighted rates are withheld and the reader gives nothing.
    Control: at --min-cell 1 it reads the flag from both."""
    withheld, published = audits.rows(flag, None), audits.rows(flag, None, min_cell=1)
    for attribute, group in HOLDERS:
        assert _reader(_rates(withheld, attribute, group), _counts_wilson) == (None, None), group
        assert _reader(_rates(published, attribute, group), _counts_wilson) == (flag, None), group


def _withheld(rows: list[Row]) -> set[tuple[str, str, str, str]]:
    return {(r["attribute"], r["group"], r["stage"], r["metric"]) for r in rows if r["suppressed"]}


@pytest.mark.parametrize(("majority", "weight"), [(1.0, WEIGHT), *MAJORITY])
def test_the_rule_is_the_groups_not_the_class(audits: _Audits, majority: float, weight: float) -> None:
    """The same rows are withheld whatever the person's flag and truth, each with the one public reason;
    every weighted rate of B and the overall row is among them, B's n and selection rate are not."""
    outputs = [audits.rows(flag, truth, weight=weight, majority=majority) for flag, truth in PERSONS]
    assert all(_withheld(rows) == _withheld(outputs[0]) for rows in outputs)
    for rows in outputs:
        reasons = {r["warning"] for r in rows if r["suppressed"] and r["metric"] in WEIGHTED_RATES}
        assert reasons == {public_reason(MIN_CELL)}
        for attribute, group in HOLDERS:
            rates = _rates(rows, attribute, group)
            assert all(rates[m]["suppressed"] for m in WEIGHTED_RATES), (attribute, group)
        assert not any(_rates(rows, "race", "B")[m]["suppressed"] for m in ("n", "selection_rate"))


def _totals(frame: pd.DataFrame, group: str | None) -> dict[str, tuple[float, float]]:
    """A group's (None: everyone's) weighted numerator and denominator of each weighted rate, from the log
    (pandas): what a reader who knew every weight would hold for a published row."""
    part = frame if group is None else frame[frame["race"] == group]
    w, flag, truth = part["w"], part["flag"] == 1, part["truth"] == 1
    cells = {"tp": flag & truth, "fp": flag & ~truth, "tn": ~flag & ~truth, "fn": ~flag & truth}
    parts = {
        "base_rate": (("tp", "fn"), ("tp", "fn", "fp", "tn")),
        "fpr": (("fp",), ("fp", "tn")),
        "fnr": (("fn",), ("fn", "tp")),
        "precision": (("tp",), ("tp", "fp")),
        "fdr": (("fp",), ("tp", "fp")),
        "for": (("fn",), ("fn", "tn")),
        "npv": (("tn",), ("tn", "fn")),
        "accuracy": (("tp", "tn"), ("tp", "tn", "fp", "fn")),
    }

    def total(names: tuple[str, ...]) -> float:
        return float(w[np.logical_or.reduce([cells[name] for name in names])].sum())

    return {metric: (total(top), total(bottom)) for metric, (top, bottom) in parts.items()}


def _subtract(rows: list[Row], frame: pd.DataFrame, metric: str) -> tuple[float, float] | None:
    """B's weighted totals of `metric` as a reader who knew every weight would get them: from B's row
    when published, else the overall row's minus A's and C's when all three are published (None: not)."""
    published = {r["group"] for r in rows if r["metric"] == metric and not r["suppressed"]}
    if "B" in published:
        return _totals(frame, "B")[metric]
    if not {"all", "A", "C"} <= published:
        return None
    overall, a, c = (_totals(frame, g)[metric] for g in (None, "A", "C"))
    return overall[0] - a[0] - c[0], overall[1] - a[1] - c[1]


def test_subtraction_does_not_give_the_groups_weighted_rates_back(audits: _Audits) -> None:
    """Attack: C holds nine more people at the person's weight, so the overall row's class of it (ten) is
    published; B's weighted rates are withheld (a class of one), and no reader subtracts them back from the
    overall row and the other groups, even one who knew every weight (the protection withholds another
    group's as well)."""
    log = {"others": 9, "other_group": "C", "other_weight": WEIGHT}
    frame, rows = _log(0, 1, **log), audits.rows(0, 1, **log)
    assert all(not r["suppressed"] for r in rows if r["group"] == "all")
    assert all(_subtract(rows, frame, metric) is None for metric in WEIGHTED_RATES)


def test_control_were_b_alone_withheld_subtraction_gives_its_rates_back(audits: _Audits) -> None:
    """Control: in the --min-cell 1 output (nothing withheld) with B's rate rows taken out, as if B's alone
    were withheld, the overall row minus A's and C's gives B's weighted totals, whose ratio is the value
    B's own row published, so the attack above is not vacuous."""
    log = {"others": 9, "other_group": "C", "other_weight": WEIGHT}
    frame, rows = _log(0, 1, **log), audits.rows(0, 1, min_cell=1, **log)
    published = _rates(rows, "race", "B")
    alone = [{**r, "suppressed": r["suppressed"] or r["group"] == "B"} for r in rows]
    for metric in WEIGHTED_RATES:
        recovered = _subtract(alone, frame, metric)
        assert recovered is not None, metric
        assert recovered[0] / recovered[1] == pytest.approx(published[metric]["value"], rel=1e-12), metric


def _warned(rows: list[Row]) -> set[tuple[str, str]]:
    """The (group, metric) rows carrying the single-row warning."""
    return {(r["group"], r["metric"]) for r in rows if ONE_ROW_NOTE in (r["warning"] or "")}


def _warning_rows(audits: _Audits, flag: int, truth: int, min_cell: int = 1) -> list[Row]:
    """The person alone at weight 7 beside nine more people of B sampled at weight 5: at --min-cell 1 B's
    rates are published (the person is a weight class of one, withheld at any larger --min-cell), the
    single-row stratum warned."""
    rows = audits.rows(flag, truth, min_cell, others=9)
    return [r for r in rows if r["group"] in ("A", "B")]


def test_fnr_and_fpr_rows_of_the_group_warn_alike(audits: _Audits) -> None:
    """The reviewer's repro (the person a cleared positive): B's FPR row warns as its FNR row does, and so
    does every other weighted rate of B; nothing of A (audited whole) warns."""
    rows = _warning_rows(audits, flag=0, truth=1)
    published = {(r["group"], r["metric"]) for r in rows if not r["suppressed"]}
    assert {("B", "fpr"), ("B", "fnr")} <= _warned(rows)
    assert _warned(rows) == {("B", rate) for rate in WEIGHTED_RATES} & published
    assert len(_warned(rows)) == len(WEIGHTED_RATES)


@pytest.mark.parametrize(("flag", "truth"), [(0, 0), (1, 0), (1, 1)])
def test_the_warning_does_not_tell_the_persons_flag_or_truth(audits: _Audits, flag: int, truth: int) -> None:
    """Whichever flag and truth the single sampled person has, the same rows carry the warning."""
    assert _warned(_warning_rows(audits, flag, truth)) == _warned(_warning_rows(audits, flag=0, truth=1))


def test_a_withheld_row_never_carries_the_warning(audits: _Audits) -> None:
    """At --min-cell 10 B's weight classes of one and nine people are under it and its rates are withheld:
    the rows give their reason and no warning."""
    rows = _warning_rows(audits, flag=0, truth=1, min_cell=MIN_CELL)
    rates = [r for r in rows if r["group"] == "B" and r["metric"] in WEIGHTED_RATES]
    assert rates and all(r["suppressed"] for r in rates)
    assert _warned(rows) == set()
