"""A saved bundle is anyone's file: its --where, edited to a construct the allowlist refuses, reaches
`disclosure release --input`'s linking of the filter (`disclosure._where_cells`). It is refused in one
line naming the construct (exit 2, nothing recorded) before any engine starts or the input is read: the
filter is parsed and allowlisted first, so a hostile one costs its parse. The control: the bundle's own
filter (`g <> 'a'`) is linked on the input, which starts an engine, and refused jointly (exit 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import misflag.engine
from tests.security.test_register_where_release_command import _bundles, _names, _release

#: (filter over g, the construct the message names): each reads only g, so it is not tied to a state and
#: reaches the linking
HOSTILE = [
    ("g <> (SELECT 'a')", "a subquery"),
    ("g <> CAST(read_text('/etc/passwd') AS VARCHAR)", "the function read_text()"),
    ("g <> 'a' OR getenv('HOME') IS NULL", "the function getenv()"),
]


@pytest.fixture
def engines(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The engines started (by name) while the test runs."""
    started: list[str] = []
    real = misflag.engine.get_engine

    def counted(name: str, *args: object, **kwargs: object) -> object:
        started.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(misflag.engine, "get_engine", counted)
    return started


@pytest.mark.parametrize(("where", "construct"), HOSTILE)
def test_a_hostile_filter_in_a_bundle_is_refused_before_an_engine_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], engines: list[str], where: str, construct: str
) -> None:
    log, first, second = _bundles(tmp_path, "g <> 'a'")
    bundle = json.loads(second.read_text(encoding="utf-8"))
    bundle["metadata"]["spec"]["where"] = where
    second.write_text(json.dumps(bundle), encoding="utf-8")
    register = tmp_path / "register.json"
    assert _release(capsys, str(first), "--register", str(register))[0] == 0
    before, engines[:] = register.read_text(encoding="utf-8"), []
    code, err = _release(capsys, str(second), "--register", str(register), "--input", str(log))
    assert code == 2 and "\n" not in err and "Traceback" not in err
    assert f"{construct} is not allowed" in err, err
    assert engines == []
    assert register.read_text(encoding="utf-8") == before and _names(register) == ["by-g"]


def test_the_bundles_own_filter_is_linked_on_the_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], engines: list[str]
) -> None:
    log, first, second = _bundles(tmp_path, "g <> 'a'")
    register = tmp_path / "register.json"
    assert _release(capsys, str(first), "--register", str(register))[0] == 0
    engines[:] = []
    code, err = _release(capsys, str(second), "--register", str(register), "--input", str(log))
    assert code == 3 and err.startswith("error: filtered would expose"), err
    assert "duckdb" in engines and _names(register) == ["by-g"]
