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
from typing import TYPE_CHECKING

import numpy as np

from misflag._text import clipped, printable, shown
from misflag.biometrics._clustered import Clustered
from misflag.biometrics._groups import Grouping, linked_subsets, suppress
from misflag.biometrics._reader import EARLIER, RATES, SHOWN, WHOLE, Figure, Reader, Release, published
from misflag.biometrics._released import earlier_figures
from misflag.biometrics._scan import Profile
from misflag.biometrics._spec import BiometricSpec
from misflag.errors import InputError, literal

if TYPE_CHECKING:
    from misflag.disclosure._goal import AuditSummary

#: Rounds of further suppression before every label but the overall row is withheld whole.
MAX_ROUNDS = 40


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
    release.earlier = earlier_figures(spec, prof, release)  # the register's earlier releases, if any
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


@dataclass
class Outcome:
    """The levels the audit settled on and its summary for the metadata (None: nothing withheld)."""

    levels: list[np.ndarray]
    summary: AuditSummary | None


def protect(release: Release, levels: list[np.ndarray], min_cell: int) -> Outcome:
    """Audit the release at these levels and withhold more until no sensitive withheld count is pinned.
    Builds and solves nothing when no sensitive count is withheld. With earlier releases of the same
    scores (`release.earlier`), their figures are in the reader's model too and their sensitive withheld
    counts are audited as this output's; a count an earlier release publishes is known, not withheld.
    When even this output withheld whole leaves one pinned, InputError names the earlier releases."""
    protection = math.ceil(min_cell / 2)
    levels = [level.copy() for level in levels]
    earlier = release.earlier
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
        known = {f.key() for f in earlier.shown}
        targets = [f for f in _sensitive(withheld + earlier.withheld, min_cell) if f.key() not in known]
        if not targets:
            return Outcome(levels, _summary(protection, withheld, None, rounds, 0))
        shown = [
            f
            for g, grouping in enumerate(release.groupings)
            for label in range(len(grouping.labels))
            for f in release.figures(g, label)
            if published(f, int(levels[g][label]))
        ]
        # an earlier figure this output publishes too is one equation, this output's (its label can withhold it)
        mine = {f.key() for f in shown}
        audit = Reader(release, shown + [f for f in earlier.shown if f.key() not in mine], protection)
        found = [(target, audit.interval(target)) for target in targets]
        narrow = [target for target, (low, high, _) in found if not audit.protects(low, high)]
        if not narrow:
            solved = [(low, high) for _, (low, high, exact) in found if exact and low > 0]
            narrowest = min(solved, key=lambda ends: ends[1] - ends[0], default=None)
            return Outcome(levels, _summary(protection, withheld, narrowest, rounds, len(targets)))
        if earlier.releases and all((level == WHOLE).all() for level in levels):
            raise InputError(_refusal(release, found, narrow))
        rounds += 1
        if rounds > MAX_ROUNDS:  # every label but the overall row whole; then that too
            rest = levels[1:] if any((level < WHOLE).any() for level in levels[1:]) else levels
            for level in rest:
                level[:] = WHOLE
            continue
        sizes = {(f.grouping, f.label): f.value for f in shown if f.metric == "n"}
        sizes.update({(f.grouping, f.label): f.value for f, _ in figures if f.metric == "n"})
        _withhold_more(levels, audit, shown, narrow, sizes)


def _refusal(
    release: Release, found: list[tuple[Figure, tuple[float, float, bool]]], narrow: list[Figure]
) -> str:
    """One line: the earlier releases this output cannot be published beside, and one count they pin."""
    first = narrow[0]
    low, high, _ = next(ends for target, ends in found if target is first)
    if first.grouping == EARLIER:
        what = release.earlier.names[first.label]
    else:
        grouping = release.groupings[first.grouping]
        what = f"{grouping.attribute} = {grouping.labels[first.label]}, {first.metric}"
    names = ", ".join(literal(shown(name)) for name in release.earlier.releases)
    return (
        f"this audit cannot be published without exposing withheld counts together with earlier release(s) "
        f"{names} of these scores in the release register (e.g. {literal(printable(clipped(what, 160)))}: "
        f"{low:g} to {high:g} comparisons); "
        "audit coarser groups, or publish from the scores of another audit"
    )


def _withhold_more(
    levels: list[np.ndarray],
    audit: Reader,
    shown: list[Figure],
    narrow: list[Figure],
    sizes: dict[tuple[int, int], int],
) -> None:
    """For each pinned count (one per label raised this round), the cheapest label bounding it one step further."""
    raised: set[tuple[int, int]] = set()
    for target in narrow:
        # this output's labels only: an earlier release's figures stay published whatever it withholds
        candidates = {c for c in audit.bounding_labels(target) if c[0] != EARLIER} or {
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
        key = figure.key()
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
    from misflag.disclosure._audit import reader_summary  # not on the start-up path: 6 ms
    from misflag.disclosure._goal import guarantee

    # counted per (label, figure) as the rows withhold them: which figures share their unknowns depends on
    # which keys the data holds (a cross cell with no genuine pair), so a count of distinct ones would not
    return reader_summary(
        "integer programming over every published count and rate x denominator (HiGHS: the "
        "relaxed LP through highspy where its solution is whole, else the MIP through scipy)",
        protection,
        len(withheld),
        guarantee(protection, unit="comparisons"),
        checked,
        checked,
        narrowest,
        rounds,
    )
