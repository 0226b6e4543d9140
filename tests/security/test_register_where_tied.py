"""A --where on the truth or the flag column (`truth = 0`, `flag = 1`) was linked to the register's other
releases as a value list, its column read as one more group expression independent of the states
(`disclosure._load._restriction`). A reader knows better: a release filtered to `truth = 0` lists only
groups holding someone with truth 0, and its n of a group is that group's tn + fp in the unfiltered
release (review suspicion, checked here with the LP attacker of tests/disclosure/attacker_ties.py, which
writes that tie into its model). `--group g` withholds a (3 people, 1 flagged) and b; `--group g --where
"flag = 1"` was published beside it by the joint audit (b's n: 34), and the tied reader pins a's flagged
count at exactly 1 (protection level 5): 63 flagged in all and 28 in c (the first release's selection
rates), 63 - 28 - 34 = 1. A search over 14 random designs (4 to 5 groups) found such pins in 6 with
`truth = 0` and 2 with `flag = 1`. Now such a filter is never linked
(`disclosure._where_cells._tied`) and is refused beside a release that withholds counts. The control
switches the check off, and the input's census (which alone sees the tie in the data and refuses too):
the joint audit publishes, the tied reader pins a, misflag's own reading (the attacker without the tie)
does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import misflag.disclosure._releases as releases
import misflag.disclosure._where_cells as where_cells
from misflag.cli import main
from misflag.decisions import audit_decisions
from misflag.disclosure import ReleaseRegister
from misflag.errors import InputError
from misflag.result import AuditResult
from tests.disclosure.attacker import COUNTED, Attacker
from tests.disclosure.attacker_ties import TiedAttacker

#: (group, flag, truth) -> people: a holds 3, one of them flagged; b 63 (34 flagged), c 63 (28 flagged)
CELLS = {
    ("a", 0, 0): 2, ("a", 1, 0): 1,
    ("b", 0, 0): 24, ("b", 0, 1): 5, ("b", 1, 0): 12, ("b", 1, 1): 22,
    ("c", 0, 0): 7, ("c", 0, 1): 28, ("c", 1, 0): 20, ("c", 1, 1): 8,
}  # fmt: skip
PROTECTION = 5  # ceil(10 / 2)


def _log(folder: Path) -> Path:
    log = folder / "log.csv"
    rows = "".join(f"{g},{f},{t}\n" * n for (g, f, t), n in CELLS.items())
    log.write_text("g,flag,truth\n" + rows, encoding="utf-8")
    return log


def _options(where: str | None = None) -> dict[str, Any]:
    return {"flag": "flag", "truth": "truth", "groups": ["g"], "where": where, "replicates": 100}


def _both(tmp_path: Path, where: str) -> tuple[AuditResult, AuditResult]:
    log = _log(tmp_path)
    register = ReleaseRegister(tmp_path / "register.json")
    return register.audit("by g", log, **_options()), register.audit("filtered", log, **_options(where))


def _people(group: str, metric: str, part: str) -> int:
    """A count of the first release (every state), from CELLS: the people in the states it counts."""
    numerator, denominator = COUNTED[metric]
    states = numerator if part == "numerator" else denominator
    return sum(n for (g, f, t), n in CELLS.items() if g == group and (t, f) in states)


def _pinned(reader: Attacker, first: AuditResult, second: AuditResult, where: dict[str, str]) -> set[Any]:
    """(group, metric, part, low, high) of each sensitive count (1 to 9 people) the first release
    withholds that `reader`, who read both, holds inside fewer than PROTECTION people, ruling out zero."""
    reader.read(0, first.rows(), {}, first.metadata["rows_audited"])
    reader.read(1, second.rows(), where, second.metadata["rows_audited"])
    return {
        (row["group"], row["metric"], part, low, high)
        for columns, (low, high) in reader.intervals().items()
        for number, row, part in reader.targets[columns][:1]
        if number == 0
        and row["metric"] in COUNTED
        and 1 <= _people(row["group"], row["metric"], part) < 10
        and high - low < PROTECTION - 1e-6
        and low > 1e-6
    }


@pytest.mark.parametrize(
    "where",
    ["truth = 0", "flag = 1", "truth IN (0)", "g = 'b' AND flag = 1", "flag > 0", "g <> 'a' OR truth = 1"],
)
def test_a_filter_on_the_truth_or_the_flag_is_refused_beside_a_withholding_release(
    tmp_path: Path, where: str
) -> None:
    with pytest.raises(InputError) as refused:
        _both(tmp_path, where)
    assert str(refused.value) == (
        f"the --where {where!r} of this audit cannot be linked to the other releases of this input in the "
        "release register (it reads a column of the truth or of a decision, so it keeps people by what the "
        "figures count: no such filter is linked), and earlier release 'by g' withholds counts that a "
        'difference of totals would give back; filter by values (--where "g IN (...)") or use a separate '
        "register"
    )
    assert [r["name"] for r in ReleaseRegister(tmp_path / "register.json").releases] == ["by g"]


def test_the_control_without_the_check_the_tied_reader_pins_a(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(where_cells, "_tied", lambda output, expressions: False)
    monkeypatch.setattr(releases, "take_census", lambda *args: None)  # the census sees the tie too
    first, second = _both(tmp_path, "flag = 1")
    assert {r["group"] for r in first.rows() if r["metric"] == "n" and r["suppressed"]} == {"a", "b"}
    assert next(r["value"] for r in second.rows() if r["metric"] == "n" and r["group"] == "b") == 34
    groups = ["a", "b", "c"]
    tied = TiedAttacker({"g": groups})
    pinned = _pinned(tied, first, second, {"flag": "1"})
    assert ("a", "selection_rate", "numerator", 1.0, 1.0) in pinned  # a's flagged: 63 - 28 - 34
    assert _people("a", "selection_rate", "numerator") == 1
    untied = Attacker({"g": groups, "flag": ["1", "another value"]})
    assert _pinned(untied, first, second, {"flag": "1"}) == set()  # misflag's own reading: nothing


def test_with_the_name_check_off_the_census_alone_sees_the_tie(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The input's census (`disclosure._census`) shows that each value of the filter's column holds one
    flag: the joint audit ties it as the reader does, and refuses what the control publishes."""
    monkeypatch.setattr(where_cells, "_tied", lambda output, expressions: False)
    with pytest.raises(InputError) as refused:
        _both(tmp_path, "flag = 1")
    assert "\n" not in str(refused.value) and str(refused.value).startswith("this audit cannot be published")
    assert [r["name"] for r in ReleaseRegister(tmp_path / "register.json").releases] == ["by g"]


def test_a_value_list_on_a_group_is_still_linked_and_published(tmp_path: Path) -> None:
    _, second = _both(tmp_path, "g = 'c'")
    assert second.metadata["disclosure_audit"]["secondary_suppression"]["earlier_releases"] == ["by g"]
    assert [r["name"] for r in ReleaseRegister(tmp_path / "register.json").releases] == ["by g", "filtered"]


def test_the_release_command_refuses_it_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = _log(tmp_path)
    first = audit_decisions(log, **_options()).save(tmp_path / "by-g.json")
    second = audit_decisions(log, **_options("flag = 1")).save(tmp_path / "flagged.json")
    register = str(tmp_path / "register.json")
    assert main(["disclosure", "release", str(first), "--register", register]) == 0
    capsys.readouterr()
    assert main(["disclosure", "release", str(second), "--register", register, "--input", str(log)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: the --where 'flag = 1' of this output cannot be linked") and "\n" not in err
