"""A group expression over the truth or the flag column (`--group truth`, `--group flag`, `--group "CASE
WHEN truth = 1 THEN 'p' ELSE 'n' END"`) is read by misflag's disclosure model as one more attribute,
independent of the states. A reader knows that group `1` of `--group truth` holds only people with truth
1, so an "absent" row `a & 1` of a withheld group a says that a holds no one with truth 1, and its n
under `c & 1` is c's tp + fn (issue 21, after 44207af refused such a --where). The LP attacker of
tests/disclosure/attacker_group_ties.py writes that tie into its model.

Design (CELLS, from a search over random 3-5 group designs, seed 7): a holds 3 people, none flagged, all
with truth 0; c 35 (9 with truth 1: 7 tp, 2 fn). Misflag withholds a and c. With the tie the reader pins
c's counts: `--group g` then `--group g --group truth` in one register gives c's positives 75 - 22 - 44 - 0
= 9, its fn 2 and its tp 7, each exactly; `--group g --group flag` alone gives c's tp 7 (31 - 6 - 18 - 0).
misflag's own reading pinned nothing there: the pins came from the tie alone. Now a group expression
reading the truth or a decision is refused whenever a count is withheld, in this output or an earlier
release of the register (`decisions/_protect.py`, `_refuse_tied`), and nothing is recorded. Here: each
design's tied release is refused in one line with the register unchanged; a grouping that reads neither
still publishes beside the withholding release; the attacker is sound on the control's data (every
interval holds the count), and the control, with suppression off for the second release (nothing
withheld there, a register of its own), is caught by it (c's positives pinned at 9)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from misflag.disclosure import ReleaseRegister, check_outputs
from misflag.errors import InputError
from misflag.result import AuditResult
from tests.disclosure.attacker import COUNTED, Attacker
from tests.disclosure.attacker_group_ties import GroupTiedAttacker, people_per_cell

#: (group, flag, truth) -> people; a: 3 (none flagged, truth 0), b 52, c 35, d 58
CELLS = {
    ("a", 0, 0): 3,
    ("b", 0, 0): 1, ("b", 0, 1): 16, ("b", 1, 0): 29, ("b", 1, 1): 6,
    ("c", 0, 0): 13, ("c", 0, 1): 2, ("c", 1, 0): 13, ("c", 1, 1): 7,
    ("d", 0, 0): 13, ("d", 0, 1): 26, ("d", 1, 0): 1, ("d", 1, 1): 18,
}  # fmt: skip
CASE = "CASE WHEN truth = 1 THEN 'p' ELSE 'n' END"
#: the expression each design groups by beside g, the column it reads and what each of its labels means
TIED = {
    "truth": ("truth", {"0": 0, "1": 1}),
    "flag": ("flag", {"0": 0, "1": 1}),
    CASE: ("truth", {"n": 0, "p": 1}),
}
#: name -> (the releases in order: their group expressions, intersected; the expression tied)
DESIGNS = {
    "g then g x truth": ([["g"], ["g", "truth"]], "truth"),
    "g then g x CASE": ([["g"], ["g", CASE]], CASE),
    "g x flag alone": ([["g", "flag"]], "flag"),
}


def _log(folder: Path) -> Path:
    log = folder / "log.csv"
    log.write_text("g,flag,truth\n" + "".join(f"{g},{f},{t}\n" * n for (g, f, t), n in CELLS.items()))
    return log


def _label(expression: str, truth: int, flag: int) -> str:
    column, meaning = TIED[expression]
    return next(label for label, value in meaning.items() if value == (truth if column == "truth" else flag))


def _releases(folder: Path, design: str, min_cells: tuple[int, ...] = (10, 10)) -> list[AuditResult]:
    """The design's releases, each recorded in one register (a release with min_cell under 10 in a
    register of its own: nothing protects it)."""
    log = _log(folder)
    out = []
    for number, (groups, min_cell) in enumerate(zip(DESIGNS[design][0], min_cells, strict=False)):
        register = ReleaseRegister(folder / ("register.json" if min_cell == 10 else f"apart-{number}.json"))
        options = {"flag": "flag", "truth": "truth", "groups": groups, "intersect": True}
        out.append(register.audit(f"r{number}", log, **options, replicates=100, min_cell=min_cell))
    return out


def _readers(design: str, releases: list[AuditResult]) -> tuple[GroupTiedAttacker, Attacker, Any]:
    """The tied reader, misflag's own reading (no tie) and the people per cell of their model, by hand."""
    tied = DESIGNS[design][1]
    values = {"g": sorted({g for g, _, _ in CELLS}), tied: sorted(TIED[tied][1])}
    readers = GroupTiedAttacker(values, {tied: TIED[tied]}), Attacker(values)
    for reader in readers:
        for number, release in enumerate(releases):
            reader.read(number, release.rows(), {}, release.metadata["rows_audited"])
    people = {(g, _label(tied, t, f), t, f): n for (g, f, t), n in CELLS.items()}
    return readers[0], readers[1], people_per_cell(readers[0], people)


def _people(group: str, metric: str, part: str) -> int:
    """A count of group `group` (every state it counts), from CELLS."""
    states = COUNTED[metric][0 if part == "numerator" else 1]
    return sum(n for (g, f, t), n in CELLS.items() if g == group and (t, f) in states)


@pytest.mark.parametrize("design", list(DESIGNS))
def test_a_tied_release_beside_withheld_counts_is_refused_and_not_recorded(
    tmp_path: Path, design: str
) -> None:
    register = tmp_path / "register.json"
    releases, tied = DESIGNS[design]
    if len(releases) > 1:
        first = _releases(tmp_path, "g then g x truth", min_cells=(10,))[0].rows()
        assert {r["group"] for r in first if r["metric"] == "n" and r["suppressed"]} == {"a", "c"}
    before = register.read_bytes() if register.exists() else b""
    options = {"flag": "flag", "truth": "truth", "groups": releases[-1], "intersect": True}
    with pytest.raises(InputError) as refused:
        ReleaseRegister(register).audit("tied", _log(tmp_path), **options, replicates=100, min_cell=10)
    message = str(refused.value)
    assert "\n" not in message and "reads the truth or a decision" in message and repr(tied)[:24] in message
    assert (register.read_bytes() if register.exists() else b"") == before


def test_a_grouping_reading_neither_still_publishes_beside_the_withholding_release(tmp_path: Path) -> None:
    log = _log(tmp_path)
    register = ReleaseRegister(tmp_path / "register.json")
    register.audit("r0", log, flag="flag", truth="truth", groups=["g"], replicates=100, min_cell=10)
    then = register.audit(
        "r1",
        log,
        flag="flag",
        truth="truth",
        groups=["g"],
        where="g IN ('b', 'd')",
        replicates=100,
        min_cell=10,
    )
    assert then.metadata["release"] == "r1" and not any(
        r["suppressed"] for r in then.rows() if r["metric"] == "n"
    )


def test_the_tied_reader_is_sound_on_the_control_s_data(tmp_path: Path) -> None:
    tied, _, counts = _readers("g then g x truth", _releases(tmp_path, "g then g x truth", min_cells=(10, 1)))
    assert counts.sum() == 148 and counts[list(tied.contradicting)].sum() == 0  # the tie holds in CELLS
    intervals = tied.intervals()
    assert len(intervals) >= 20  # the first release withholds a and c: many counts are targets
    for columns, (low, high) in intervals.items():
        assert low - 1e-6 <= counts[list(columns)].sum() <= high + 1e-6


def test_the_control_without_suppression_in_the_second_release_pins_c(tmp_path: Path) -> None:
    releases = _releases(tmp_path, "g then g x truth", min_cells=(10, 1))
    tied, _, counts = _readers("g then g x truth", releases)
    pinned = {
        (r["group"], r["metric"], part, low, high)
        for _, low, high, r, part in tied.unpublished_pins(counts, 10)
    }
    positives = _people("c", "base_rate", "numerator")
    assert positives == 7 + 2
    assert ("c", "base_rate", "numerator", positives, positives) in pinned  # published as c & 1's n


@pytest.mark.parametrize("copy", ["truth", "flag"])
def test_a_column_that_copies_the_truth_or_the_flag_under_another_name_is_seen_in_the_data(
    tmp_path: Path, copy: str
) -> None:
    """No expression names the truth or the flag (`_refuse_tied` reads names): `--group g` then
    `--group g --group k` intersected, k a column equal to the truth (or the flag). The register's census
    of the input (`disclosure._census`) shows that each label of k holds one truth (flag), so the model
    ties k as the reader does: with the truth, c's positives are 75 - 22 - 44 - 0 = 9 (as in "g then g x
    truth"), and the joint audit refuses; nothing is recorded. Before the census, r1 was published, and
    the tied attacker (k read as the truth) pinned c's positives at 9, its fn at 2 and its tp at 7."""
    log = tmp_path / "log.csv"
    column = {"truth": 2, "flag": 1}[copy]
    log.write_text(
        "g,flag,truth,k\n"
        + "".join(f"{g},{f},{t},{(g, f, t)[column]}\n" * n for (g, f, t), n in CELLS.items())
    )
    path = tmp_path / "register.json"
    options = {"flag": "flag", "truth": "truth", "replicates": 100, "min_cell": 10}
    first = ReleaseRegister(path).audit("r0", log, groups=["g"], **options).rows()
    assert {r["group"] for r in first if r["metric"] == "n" and r["suppressed"]} == {"a", "c"}
    before = path.read_bytes()
    with pytest.raises(InputError) as refused:
        ReleaseRegister(path).audit("r1", log, groups=["g", "k"], intersect=True, **options)
    message = str(refused.value)
    assert "\n" not in message and "exposing withheld counts of earlier release(s) 'r0'" in message
    assert path.read_bytes() == before


def test_the_check_does_not_certify_outputs_whose_grouping_reads_the_truth(tmp_path: Path) -> None:
    """`disclosure check` read `--group truth` as one more attribute and certified the control's two
    outputs (nothing exposed) while the tied reader pins c's positives at 9 (75 - 22 - 44 - 0): now it
    refuses to certify them, in one line naming the expression, with or without the data."""
    releases = _releases(tmp_path, "g then g x truth", min_cells=(10, 1))
    tied, _, counts = _readers("g then g x truth", releases)
    pinned = {
        (r["group"], r["metric"], part, low) for _, low, high, r, part in tied.unpublished_pins(counts, 10)
    }
    assert ("c", "base_rate", "numerator", 9) in pinned
    saved = [release.save(tmp_path / f"{n}.json") for n, release in enumerate(releases)]
    for data in (None, tmp_path / "log.csv"):
        with pytest.raises(InputError) as refused:
            check_outputs(saved, min_cell=10, data=data)
        message = str(refused.value)
        assert "\n" not in message and message.startswith("cannot certify these outputs: 'truth' of output")
