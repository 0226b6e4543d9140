"""A long or hostile value given to the linkage, inventory and web options is echoed by its start and
length through `misflag._text.shown`, never whole, never as terminal control. Before, `--method` with
10,000 characters printed all of them, and an ESC in it reached the terminal as `\\x1b` only by luck of
repr (an object's repr could carry it raw)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from misflag.api import create_app
from misflag.cli import main
from misflag.errors import MisflagError
from misflag.linkage import assess_rule_risk

#: The service answers only to loopback host names.
BASE_URL = "http://127.0.0.1:8000"
RISK = ["linkage", "risk", "--population", "258300000", "--list", "1000000", "--rule", "crosscheck"]


def test_a_ten_thousand_character_method_is_named_by_its_start(capsys: pytest.CaptureFixture[str]) -> None:
    value = "\x1b[2J" + "m" * 9_996
    assert main([*RISK, "--replicates", "2", "--method", value]) == 2
    said = capsys.readouterr().err.strip()
    expected = "error: unknown method '\\x1b[2J" + "m" * 36 + "...' (10,000 characters); choose one of"
    assert said.startswith(expected), said[:300]
    assert "\x1b" not in said and len(said) < 200


def test_a_settings_value_holding_a_placeholder_is_shown_as_written() -> None:
    """`{seed}` as a method name stays `'{seed}'` in the message, not the parameter's name."""
    with pytest.raises(MisflagError) as refused:
        assess_rule_risk("crosscheck", population_size=1000, list_size=10, method="{seed}")
    assert str(refused.value).startswith("unknown method '{seed}'; choose one of"), str(refused.value)


@pytest.mark.parametrize("kind", ["x" * 5_000, "\u202eevil"])
def test_an_unknown_workbench_audit_is_named_by_its_start(tmp_path: Path, kind: str) -> None:
    with TestClient(create_app(data_dir=tmp_path), base_url=BASE_URL) as client:
        answer: Any = client.get(f"/audits/{kind}", headers={"accept": "application/json"})
    assert answer.status_code == 404
    detail = answer.json()["detail"]
    expected = {
        "x" * 5_000: "no audit called '"
        + "x" * 40
        + "...' (5,000 characters); the workbench at / lists them",
        "\u202eevil": "no audit called '\\u202eevil'; the workbench at / lists them",
    }
    assert detail == expected[kind]
