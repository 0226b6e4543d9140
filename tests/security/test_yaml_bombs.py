"""YAML alias bombs: every settings, rule and mapping file is read by one loader that refuses anchors and
aliases at the first one, before any node is built, so a 1 KB "billion laughs" file (8 levels of 10
aliases: 10^8 strings once expanded) is refused with one line instead of filling memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from misflag.cli import main
from misflag.errors import RuleError
from misflag.inventory._mapping import builtin_mappings, read_mapping
from misflag.io import read_data_file
from misflag.io._files import load_yaml
from misflag.io._yaml import _NoAliasLoader

REFUSAL = "anchors and aliases"


def billion_laughs(levels: int = 8, width: int = 10) -> str:
    """The issue's bomb: `levels` anchors, each a list of `width` aliases of the one before."""
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


BOMB = billion_laughs()
#: Small files with one anchor or alias each: refused by construct, not by size.
SMALL = {
    "one alias": "a: &x 1\nb: *x\n",
    "anchor only": "a: &x 1\n",
    "merge key": "base: &b {flag: x}\nspec:\n  <<: *b\n",
    "anchor in a list": "items:\n  - &i {a: 1}\n  - *i\n",
}


def test_the_bomb_is_the_issues_shape() -> None:
    assert len(BOMB.encode()) < 1024
    assert BOMB.count("&a") == 9 and BOMB.count("*a") == 80  # 8 levels of 10 aliases over one list


@pytest.mark.parametrize("text", [BOMB, *SMALL.values()], ids=["bomb", *SMALL])
def test_loader_refuses_anchors_before_building_anything(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Canary: constructing Python objects never starts (the refusal comes while composing nodes)."""

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("a node was constructed")

    monkeypatch.setattr(_NoAliasLoader, "construct_document", never)
    with pytest.raises(yaml.YAMLError) as refused:
        load_yaml(text)
    assert REFUSAL in str(refused.value).splitlines()[0]


def test_plain_yaml_still_loads_and_shipped_mappings_read() -> None:
    assert load_yaml("a: 1\nb: [x, 'y']\nc: {d: null}\n") == {"a": 1, "b": ["x", "y"], "c": {"d": None}}
    assert {m.year for m in builtin_mappings()} >= {2023, 2024, 2025}


def test_python_tags_are_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "tagged.yaml"
    path.write_text("a: !!python/object/apply:os.system ['touch pwned']\n", encoding="utf-8")
    with pytest.raises(RuleError):
        read_data_file(path, "rule file", RuleError)
    assert not Path("pwned").exists() and not (tmp_path / "pwned").exists()


@pytest.fixture()
def bomb(tmp_path: Path) -> Path:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB, encoding="utf-8")
    return path


def _one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured.err[-500:]
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err[-500:]
    return lines[0]


def test_every_reader_refuses_the_bomb(
    bomb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """decisions audit --settings, linkage risk --rule and --population-mix, linkage run and audit
    settings, biometrics --settings, inventory --mapping: one line naming the construct; no output written."""
    log = tmp_path / "log.csv"
    log.write_text("id,flag,truth\n1,1,0\n2,0,0\n3,1,1\n", encoding="utf-8")
    out = tmp_path / "out.parquet"
    risk = ["linkage", "risk", "--population", "1000", "--list", "10"]
    records = tmp_path / "records.csv"
    records.write_text("record_id,dob\n1,2000\n2,2001\n", encoding="utf-8")
    commands = [
        ["decisions", "audit", str(log), "--settings", str(bomb), "--save", str(out)],
        [*risk, "--rule", str(bomb), "--save", str(out)],
        [*risk, "--rule", "last-dob", "--population-mix", str(bomb), "--save", str(out)],
        ["linkage", "run", str(bomb), str(records), "--out", str(out)],
        ["linkage", "audit", str(records), "--records", str(records), "--settings", str(bomb)],
        ["biometrics", "audit", str(log), "--settings", str(bomb), "--save", str(out)],
        ["inventory", "load", "--mapping", str(bomb), "--save", str(out)],
    ]
    for argv in commands:
        line = _one_line(capsys, argv)
        assert REFUSAL in line and "bomb.yaml" in line, (argv, line)
    assert not out.exists()
    with pytest.raises(RuleError, match=REFUSAL):
        read_mapping(bomb)


def test_json_settings_have_no_aliases_to_expand(tmp_path: Path) -> None:
    """JSON has no aliases: the same structure must be written out, so its size is the file's size."""
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"a": [["lol"] * 10] * 10}), encoding="utf-8")
    assert len(read_data_file(path, "settings file")["a"]) == 10
