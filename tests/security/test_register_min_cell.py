"""A later audit of the same data at a lower --min-cell, in the same release register, must not give back
what an earlier release withheld (review finding): the joint LP audit judged the earlier release's withheld
counts by the later audit's min_cell, so `--group g` at min_cell 10 (group a, 6 people, withheld) followed
by `--where "g = 'b'" --min-cell 1` was published with nothing more withheld, and a reader solving both
outputs pinned a's size at exactly 6 (14 counts exposed at --min-cell 10). Now each earlier release's
withheld counts stay sensitive below the min_cell it was made at. The reader here is `disclosure check`
with the data, at the earlier release's min_cell; the control switches the rule off."""

from __future__ import annotations

from pathlib import Path

import pytest

import misflag.disclosure._register as register_module
from misflag.decisions import audit_decisions
from misflag.disclosure import ReleaseRegister, check_outputs

#: (group, flag, truth) -> people: group a has 6
CELLS = {
    ("a", 0, 0): 3, ("a", 1, 1): 2, ("a", 0, 1): 1,
    ("b", 0, 0): 19, ("b", 0, 1): 8, ("b", 1, 0): 7, ("b", 1, 1): 6,
    ("c", 0, 0): 25, ("c", 1, 1): 21, ("c", 0, 1): 9, ("c", 1, 0): 5,
}  # fmt: skip


def _release_then_lower(tmp_path: Path) -> list[Path]:
    log = tmp_path / "log.csv"
    log.write_text(
        "g,flag,truth\n" + "".join(f"{g},{f},{t}\n" * n for (g, f, t), n in CELLS.items()), encoding="utf-8"
    )
    register = ReleaseRegister(tmp_path / "register.json")
    saved = []
    for number, (where, min_cell) in enumerate(((None, 10), ("g = 'b'", 1))):
        result = register.recorded(
            f"release {number}",
            lambda where=where, min_cell=min_cell: audit_decisions(
                log, flag="flag", truth="truth", groups=["g"], where=where, min_cell=min_cell, replicates=100
            ),
        )
        saved.append(result.save(tmp_path / f"out{number}.json"))
    return [log, *saved]


def test_a_lower_min_cell_later_gives_nothing_back(tmp_path: Path) -> None:
    log, *outputs = _release_then_lower(tmp_path)
    check = check_outputs(outputs, min_cell=10, data=log)
    assert check.audit.exposed == []


def test_the_control_judged_by_the_later_min_cell_a_is_pinned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(register_module.Releases, "min_cell_of", lambda self, outputs: 1)
    log, *outputs = _release_then_lower(tmp_path)
    exposed = check_outputs(outputs, min_cell=10, data=log).audit.exposed
    assert any(i.low == i.high == 6 for i in exposed), [(i.low, i.high) for i in exposed]
