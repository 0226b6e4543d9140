"""A --where the reader's model could not read as value lists (anything but `expression = 'value'` or `IN
(...)`) was audited apart from the register's other releases of the same input, so a difference of totals
went unseen (review finding): `--group g` withholds group a (6 people); `--group s --where "g <> 'a'"`
then published everyone's n but a's, and 106 - 100 = 6. Now a filter over the releases' group expressions
is linked by the cells it keeps (`disclosure._where_cells`) and audited jointly, and any other filter
beside a release withholding counts is refused in one line, nothing recorded; in the register file, the
ledger and on the command line. The control: without a register the subtraction still works. The LP
attacker is `disclosure check` with the data, reading the filter as the value list a reader works out from
the first release's group labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from misflag.cli import main
from misflag.decisions import audit_decisions
from misflag.disclosure import ReleaseRegister, check_outputs
from misflag.errors import ExpressionError, InputError
from misflag.ledger import Ledger
from misflag.result import AuditResult
from tests.ledger._releases import released
from tests.security.test_register_min_cell import CELLS

#: the size of group a, by hand from CELLS (3 + 2 + 1), and everyone (6 + 40 + 60)
A_PEOPLE, EVERYONE = 6, 106


def _log(folder: Path) -> Path:
    """g; s, g and the flag (a0, a1, ...); flag; truth; score (0.9 where flagged, else 0.1)."""
    log = folder / "log.csv"
    rows = "".join(f"{g},{g}{f},{f},{t},{0.9 if f else 0.1}\n" * n for (g, f, t), n in CELLS.items())
    log.write_text("g,s,flag,truth,score\n" + rows, encoding="utf-8")
    return log


def _options(groups: list[str], where: str | None = None) -> dict[str, Any]:
    return {"flag": "flag", "truth": "truth", "groups": groups, "where": where, "replicates": 100}


def _n(result: AuditResult, group: str) -> float | None:
    return next(r["value"] for r in result.rows() if r["metric"] == "n" and r["group"] == group)


def _read_as_values(saved: Path, values: str) -> Path:
    """The saved output with its --where as the value list a reader works out (the attacker's copy)."""
    bundle = json.loads(saved.read_text(encoding="utf-8"))
    bundle["metadata"]["spec"]["where"] = values
    copy = saved.with_name(f"read-{saved.name}")
    copy.write_text(json.dumps(bundle), encoding="utf-8")
    return copy


def test_without_a_register_the_subtraction_gives_a_back(tmp_path: Path) -> None:
    """The control: two audits protected apart publish everyone (106) and everyone but a (100)."""
    log = _log(tmp_path)
    first = audit_decisions(log, **_options(["g"]))
    second = audit_decisions(log, **_options(["s"], "g <> 'a'"))
    assert _n(first, "a") is None
    assert _n(first, "all") == EVERYONE and _n(second, "all") == EVERYONE - A_PEOPLE
    saved = [
        first.save(tmp_path / "1.json"),
        _read_as_values(second.save(tmp_path / "2.json"), "g IN ('b', 'c')"),
    ]
    exposed = check_outputs(saved, min_cell=10, data=log).audit.exposed
    pinned = [i for i in exposed if i.target.rows[0][1:3] == ("g", "a") and i.target.rows[0][4] == "n"]
    assert [(i.low, i.high) for i in pinned] == [(A_PEOPLE, A_PEOPLE)]


def test_in_the_register_the_subtraction_is_linked_and_refused(tmp_path: Path) -> None:
    log, path = _log(tmp_path), tmp_path / "register.json"
    register = ReleaseRegister(path)
    register.audit("by g", log, **_options(["g"]))
    with pytest.raises(InputError) as refused:
        register.audit("by s without a", log, **_options(["s"], "g <> 'a'"))
    message = str(refused.value)
    assert "'by g'" in message and "g = a, n" in message and "\n" not in message
    assert [r["name"] for r in ReleaseRegister(path).releases] == ["by g"]  # nothing recorded


def test_a_linked_filter_is_published_and_the_attacker_pins_nothing(tmp_path: Path) -> None:
    """`g <> 'c'` keeps a and b: linked, audited jointly, published (s's b0 withheld: s follows the flag);
    the LP attacker over both outputs (the filter read as g IN ('a', 'b')) finds no sensitive count
    narrower than the protection level."""
    log = _log(tmp_path)
    register = ReleaseRegister(tmp_path / "register.json")
    first = register.audit("by g", log, **_options(["g"]))
    second = register.audit("by s without c", log, **_options(["s"], "g <> 'c'"))
    assert _n(second, "all") == EVERYONE - 60
    # s follows the flag (the census sees it): b0's 27 (b's flag 0) beside the first release's flag-0
    # people of a and b (everyone's npv denominator 65 - c's 34 = 31) would pin a's at 31 - 27 = 4
    assert _n(second, "b0") is None
    secondary = second.metadata["disclosure_audit"]["secondary_suppression"]
    assert secondary["earlier_releases"] == ["by g"]
    saved = [
        first.save(tmp_path / "1.json"),
        _read_as_values(second.save(tmp_path / "2.json"), "g IN ('a', 'b')"),
    ]
    assert check_outputs(saved, min_cell=10, data=log).audit.exposed == []


@pytest.mark.parametrize("where", ["score > 0.5", "g <> 'a' AND score > 0.5", "s <> 'a0' OR score < 0.5"])
def test_a_filter_over_a_column_no_release_groups_by_is_refused(tmp_path: Path, where: str) -> None:
    log, path = _log(tmp_path), tmp_path / "register.json"
    register = ReleaseRegister(path)
    register.audit("by g", log, **_options(["g"]))
    with pytest.raises(InputError) as refused:
        register.audit("filtered", log, **_options(["s"], where))
    assert str(refused.value) == (
        f"the --where {where!r} of this audit cannot be linked to the other releases of this input in the "
        "release register (only a filter over their group expressions s, g can), and earlier release 'by g' "
        "withholds counts that a difference of totals would give back; filter by values "
        '(--where "s IN (...)") or use a separate register'
    )
    assert [r["name"] for r in ReleaseRegister(path).releases] == ["by g"]


def test_an_earlier_unlinked_filter_refuses_a_later_audit_that_withholds(tmp_path: Path) -> None:
    """The flagged people's overall figures (nothing withheld) are recorded; `--group g`, which withholds
    a, is then refused: 'high scores' and the overall figures of everyone would give a's flagged back."""
    log, path = _log(tmp_path), tmp_path / "register.json"
    register = ReleaseRegister(path)
    high = register.audit("high scores", log, **_options([], "score > 0.5"))
    assert not any(r["suppressed"] for r in high.rows())
    with pytest.raises(InputError) as refused:
        register.audit("by g", log, **_options(["g"]))
    assert str(refused.value).startswith(
        "the --where 'score > 0.5' of earlier release 'high scores' cannot be linked"
    )
    assert "and this audit withholds counts" in str(refused.value)
    assert [r["name"] for r in ReleaseRegister(path).releases] == ["high scores"]


@pytest.mark.parametrize(
    "where",
    [
        "g <> 'a' OR (SELECT 1) = 1",
        "g <> 'a' OR read_text('/etc/passwd') <> ''",
        "g <> 'a'; DROP TABLE input",
    ],
)
def test_a_hostile_filter_is_still_refused_by_the_allowlist(tmp_path: Path, where: str) -> None:
    log, path = _log(tmp_path), tmp_path / "register.json"
    register = ReleaseRegister(path)
    register.audit("by g", log, **_options(["g"]))
    with pytest.raises(ExpressionError):
        register.audit("hostile", log, **_options(["s"], where))
    assert [r["name"] for r in ReleaseRegister(path).releases] == ["by g"]


def test_the_command_line_refuses_in_one_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, path = _log(tmp_path), tmp_path / "register.json"
    audit = [
        "decisions",
        "audit",
        str(log),
        "--flag",
        "flag",
        "--truth",
        "truth",
        "--release-register",
        str(path),
    ]
    assert main([*audit, "--group", "g"]) == 0
    for where in ("g <> 'a'", "score > 0.5"):
        capsys.readouterr()
        assert main([*audit, "--group", "s", "--where", where]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "'1: g'" in err and "\n" not in err, err
    assert [r["name"] for r in ReleaseRegister(path).releases] == ["1: g"]


def test_the_ledger_links_and_refuses_alike(tmp_path: Path) -> None:
    log, store = _log(tmp_path), tmp_path / "ledger.sqlite"
    Ledger.open(str(store)).close()
    audit_decisions(log, **_options(["g"]), ledger=str(store))
    for where in ("g <> 'a'", "score > 0.5"):
        with pytest.raises(InputError) as refused:
            audit_decisions(log, **_options(["s"], where), ledger=str(store))
        assert "'1: g'" in str(refused.value)
    linked = audit_decisions(log, **_options(["s"], "g <> 'c'"), ledger=str(store))
    assert linked.metadata["release"] == "2: s where g <> 'c'"
    assert [p["name"] for _, p in released(f"sqlite:///{store}")] == ["1: g", "2: s where g <> 'c'"]
