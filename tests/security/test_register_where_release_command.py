"""`misflag disclosure release` audited a saved bundle whose --where is not a value list apart from the
register's other releases of its input (review finding, after 651d8e3 linked such filters in `decisions
audit`): `--group g` (group a, 6 people, withheld) recorded, then `--group s --where "g <> 'a'"`, each
saved and protected on its own, was recorded too, and 106 - 100 = 6 gave a back. Now the command links
the filter by the cells it keeps on the file given as --input (then audits jointly and refuses, exit 3),
refuses it in one line without --input (exit 2, naming --input), and refuses a filter over a column no
release groups by; in a register file and in a ledger. The API's refusal without the input file names
that file as what is missing. The control that the subtraction pins a at 6 is
test_register_unlinked_where.py's `test_without_a_register_the_subtraction_gives_a_back`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from misflag.cli import main
from misflag.decisions import audit_decisions
from misflag.disclosure import ReleaseRegister
from misflag.errors import InputError
from misflag.ledger import Ledger
from tests.ledger._releases import released
from tests.security.test_register_unlinked_where import _log, _options


def _bundles(folder: Path, where: str) -> tuple[Path, Path, Path]:
    """The log, `--group g` and `--group s --where WHERE`, each saved as audited on its own."""
    log = _log(folder)
    first = audit_decisions(log, **_options(["g"])).save(folder / "by-g.json")
    second = audit_decisions(log, **_options(["s"], where)).save(folder / "filtered.json")
    return log, first, second


def _release(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["disclosure", "release", *args])
    return code, capsys.readouterr().err.strip()


def _names(register: Path) -> list[str]:
    return [r["name"] for r in json.loads(register.read_text(encoding="utf-8"))["releases"]]


def test_without_the_input_the_unlinked_filter_is_refused_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, first, second = _bundles(tmp_path, "g <> 'a'")
    register = tmp_path / "register.json"
    assert _release(capsys, str(first), "--register", str(register))[0] == 0
    code, err = _release(capsys, str(second), "--register", str(register))
    assert code == 2 and "\n" not in err
    assert err == (
        "error: the --where \"g <> 'a'\" of this output cannot be linked to the other releases of this input "
        "without the input file, which was not given, and earlier release 'by-g' withholds counts that a "
        "difference of totals would give back: give --input FILE, the file OUTPUT was audited from; a "
        "filter over the releases' group expressions s, g is then linked, any other refused"
    )
    assert _names(register) == ["by-g"]


def test_with_the_input_the_filter_is_linked_and_the_subtraction_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, first, second = _bundles(tmp_path, "g <> 'a'")
    register = tmp_path / "register.json"
    assert _release(capsys, str(first), "--register", str(register))[0] == 0
    before = register.read_text(encoding="utf-8")
    code, err = _release(capsys, str(second), "--register", str(register), "--input", str(log))
    assert code == 3 and "\n" not in err
    assert err.startswith("error: filtered would expose") and "'by-g'" in err
    assert register.read_text(encoding="utf-8") == before


def test_a_linked_filter_protected_jointly_is_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The control: `g <> 'c'` audited inside a register (protected jointly with `--group g`), saved,
    is recorded by the command with --input after `--group g`: linked, nothing more exposed."""
    log = _log(tmp_path)
    inner = ReleaseRegister(tmp_path / "inner.json")
    first = inner.audit("by g", log, **_options(["g"])).save(tmp_path / "by-g.json")
    second = inner.audit("no c", log, **_options(["s"], "g <> 'c'")).save(tmp_path / "no-c.json")
    register = tmp_path / "register.json"
    assert _release(capsys, str(first), "--register", str(register))[0] == 0
    code, err = _release(capsys, str(second), "--register", str(register), "--input", str(log))
    assert (code, err) == (0, "")
    assert _names(register) == ["by-g", "no-c"]


def test_a_filter_no_release_groups_by_is_refused_even_with_the_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, first, second = _bundles(tmp_path, "score > 0.5")
    register = tmp_path / "register.json"
    assert _release(capsys, str(first), "--register", str(register))[0] == 0
    code, err = _release(capsys, str(second), "--register", str(register), "--input", str(log))
    assert code == 2 and "\n" not in err
    assert err.startswith("error: the --where 'score > 0.5' of this output cannot be linked")
    assert "only a filter over their group expressions s, g can" in err
    assert _names(register) == ["by-g"]


def test_another_file_as_input_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, first, _ = _bundles(tmp_path, "g <> 'a'")
    other = tmp_path / "other.csv"
    other.write_text(log.read_text(encoding="utf-8") + "a,a0,0,0,0.1\n", encoding="utf-8")
    register = tmp_path / "register.json"
    code, err = _release(capsys, str(first), "--register", str(register), "--input", str(other))
    assert code == 2 and "\n" not in err and "is not the file output" in err
    assert not register.exists()


def test_the_ledger_links_and_refuses_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MISFLAG_LEDGER_KEY", str(tmp_path / "key.pem"))
    store = tmp_path / "ledger.sqlite"
    Ledger.open(str(store), key_path=tmp_path / "key.pem").close()
    log, first, second = _bundles(tmp_path, "g <> 'a'")
    assert _release(capsys, str(first), "--ledger", str(store))[0] == 0
    code, err = _release(capsys, str(second), "--ledger", str(store))
    assert code == 2 and "give --input FILE" in err
    code, err = _release(capsys, str(second), "--ledger", str(store), "--input", str(log))
    assert code == 3 and err.startswith("error: filtered would expose")
    assert [p["name"] for _, p in released(f"sqlite:///{store}")] == ["by-g"]


@pytest.mark.parametrize("through", ["recorded", "protecting"])
def test_the_api_without_the_input_file_names_it_as_missing(tmp_path: Path, through: str) -> None:
    """`ReleaseRegister.recorded(name, run)` and `protecting()` without `source` link no filter: the
    refusal says the file is missing and how to pass it, not that the filter's columns are the cause."""
    log = _log(tmp_path)
    register = ReleaseRegister(tmp_path / "register.json")
    register.audit("by g", log, **_options(["g"]))
    with pytest.raises(InputError) as refused:
        if through == "recorded":
            register.recorded("no a", lambda: audit_decisions(log, **_options(["s"], "g <> 'a'")))
        else:
            with register.protecting():
                audit_decisions(log, **_options(["s"], "g <> 'a'"))
    assert str(refused.value) == (
        "the --where \"g <> 'a'\" of this audit cannot be linked to the other releases of this input "
        "without the input file, which was not given, and earlier release 'by g' withholds counts that a "
        "difference of totals would give back: pass the audited file as source "
        "(ReleaseRegister.recorded(name, run, source) or protecting(source)); a filter over the releases' "
        "group expressions s, g is then linked, any other refused"
    )
    exposing = "cannot be published without exposing withheld counts"
    with register.protecting(log), pytest.raises(InputError, match=exposing):  # the control: linked
        audit_decisions(log, **_options(["s"], "g <> 'a'"))
