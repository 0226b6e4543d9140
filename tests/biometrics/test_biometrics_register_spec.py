"""The biometric release register through the one spec: the Python API (`audit_biometrics`), the spec
form (`run_biometrics`) and a `--settings` file record and protect exactly as the CLI flags do.

The pair of `test_biometrics_lp_attack_two_releases.py` (the cross table after the report-card layout)
is published through a register file by each entry; every entry publishes the CLI's rows, row for row,
and records the same releases. The scipy `milp` reader of that test pins nothing across the API's two
outputs. The register fields round-trip through `to_dict`/`from_dict` (and JSON); naming two places to
record is the spec's own refusal: a typed `InputError` from the API, one line and exit 2 from `--settings`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from misflag.biometrics import BiometricSpec, audit_biometrics, run_biometrics
from misflag.cli import main
from misflag.errors import InputError, MisflagError
from misflag.result import AuditResult
from tests.biometrics.test_biometrics_lp_attack import SMALL_PAIR, scores
from tests.biometrics.test_biometrics_lp_attack_two_releases import (
    AUDIT,
    WITH_GROUP,
    exposed,
    saved_rows,
    together,
)

KEYWORDS: dict[str, Any] = {
    "score": "score",
    "genuine": "genuine",
    "threshold": 0.5,
    "group_a": "ga",
    "group_b": "gb",
}
#: The names the pair is recorded under, whichever entry records it.
NAMES = ["1: biometrics by ga, ga × gb", "2: biometrics ga × gb"]


@pytest.fixture
def score_file(tmp_path: Path) -> Path:
    path = tmp_path / "scores.parquet"
    scores(SMALL_PAIR).to_parquet(path)
    return path


def cli_pair(score_file: Path, register: Path, folder: Path) -> list[Path]:
    """The pair through the CLI flags, saved."""
    saved = [folder / "cli-first.json", folder / "cli-second.json"]
    for options, save in zip((WITH_GROUP, []), saved, strict=True):
        command = ["biometrics", "audit", str(score_file), *AUDIT, *options]
        assert main([*command, "--release-register", str(register), "--save", str(save)]) == 0
    return saved


def rows_of(result: AuditResult) -> list[dict[str, Any]]:
    """An in-memory result's rows as `saved_rows` reads a saved one (rows_audited as the overall n)."""
    rows: list[dict[str, Any]] = json.loads(json.dumps(result.rows(), default=str))
    audited = result.metadata["rows_audited"]
    if audited is not None:
        rows.append(
            {"attribute": "overall", "group": "all", "stage": "all", "metric": "n", "suppressed": False}
            | {"value": audited, "denominator": audited}
        )
    return rows


def names(register: Path) -> list[str]:
    return [r["name"] for r in json.loads(register.read_text(encoding="utf-8"))["releases"]]


def test_the_api_publishes_and_records_what_the_cli_does(score_file: Path, tmp_path: Path) -> None:
    cli = [saved_rows(path) for path in cli_pair(score_file, tmp_path / "cli.json", tmp_path)]
    register = tmp_path / "api.json"
    first = audit_biometrics(str(score_file), **KEYWORDS, group="ga", release_register=register)
    second = audit_biometrics(score_file, **KEYWORDS, release_register=str(register))
    assert [rows_of(first), rows_of(second)] == cli
    assert names(register) == names(tmp_path / "cli.json") == NAMES
    assert not exposed(SMALL_PAIR, together(rows_of(first), rows_of(second)))
    # the output names no register: its spec has the path null and protect_releases true
    spec = second.metadata["spec"]
    assert (spec["release_register"], spec["protect_releases"], spec["ledger"]) == (None, True, None)
    assert "api.json" not in json.dumps(second.metadata, default=str)
    assert second.metadata["release"] == NAMES[1]


def test_the_spec_form_and_a_settings_file_publish_what_the_cli_does(
    score_file: Path, tmp_path: Path
) -> None:
    cli = [saved_rows(path) for path in cli_pair(score_file, tmp_path / "cli.json", tmp_path)]
    base = BiometricSpec(score="score", genuine="genuine", thresholds=(0.5,), group_a="ga", group_b="gb")
    by_spec = tmp_path / "spec.json"
    first = run_biometrics(replace(base, group="ga", release_register=by_spec), str(score_file))
    second = run_biometrics(replace(base, release_register=by_spec), str(score_file))
    assert [rows_of(first), rows_of(second)] == cli
    by_settings = tmp_path / "settings-register.json"
    saved = []
    for group in ("ga", None):
        settings = tmp_path / f"settings-{group}.json"
        spec = replace(base, group=group, release_register=by_settings)
        settings.write_text(spec.to_json(), encoding="utf-8")
        saved.append(tmp_path / f"settings-out-{group}.json")
        command = ["biometrics", "audit", str(score_file), "--settings", str(settings)]
        assert main([*command, "--save", str(saved[-1])]) == 0
    assert [saved_rows(path) for path in saved] == cli
    assert names(by_spec) == names(by_settings) == NAMES


def test_a_register_flag_beside_settings_records_there(score_file: Path, tmp_path: Path) -> None:
    """`--settings` without a register and `--release-register` on the command line: recorded there."""
    settings = tmp_path / "settings.json"
    spec = BiometricSpec(score="score", genuine="genuine", thresholds=(0.5,), group_a="ga", group_b="gb")
    settings.write_text(spec.to_json(), encoding="utf-8")
    register = tmp_path / "releases.json"
    command = ["biometrics", "audit", str(score_file), "--settings", str(settings)]
    assert main([*command, "--release-register", str(register), "--save", str(tmp_path / "o.json")]) == 0
    assert names(register) == ["1: biometrics ga × gb"]


def test_the_register_fields_round_trip(tmp_path: Path) -> None:
    base = BiometricSpec(score="score", genuine="genuine", thresholds=(0.5,))
    for spec in (
        replace(base, release_register=tmp_path / "r.json"),
        replace(base, protect_releases=True),
        replace(base, ledger="postgresql://auditor:secret@db/ledger"),
        base,
    ):
        data = json.loads(spec.to_json())
        assert BiometricSpec.from_dict(data) == spec
    assert json.loads(replace(base, release_register=tmp_path / "r.json").to_json())[
        "release_register"
    ] == str(tmp_path / "r.json")
    assert {k: base.to_dict()[k] for k in ("release_register", "protect_releases", "ledger")} == {
        "release_register": None,
        "protect_releases": False,
        "ledger": None,
    }


@pytest.mark.parametrize(
    "places",
    [
        {"release_register": "r.json", "protect_releases": True},
        {"release_register": "r.json", "ledger": "ledger.sqlite"},
        {"protect_releases": True, "ledger": "ledger.sqlite"},
    ],
)
def test_two_places_to_record_are_refused_by_the_api(
    score_file: Path, tmp_path: Path, places: dict[str, Any]
) -> None:
    with pytest.raises(InputError) as refused:
        audit_biometrics(str(score_file), **KEYWORDS, **places)
    assert isinstance(refused.value, MisflagError)
    assert str(refused.value) == (
        "give one of release_register, protect_releases and ledger: a release is recorded in one place"
    )
    assert not (tmp_path / "r.json").exists() and not Path("r.json").exists()


@pytest.mark.parametrize(
    ("places", "flags"),
    [
        ({"release_register": "r.json", "protect_releases": True}, []),
        ({"ledger": "ledger.sqlite"}, ["--protect-releases"]),
        ({"protect_releases": True}, ["--release-register", "r.json"]),
    ],
)
def test_two_places_to_record_are_one_line_from_settings(
    score_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    places: dict[str, Any],
    flags: list[str],
) -> None:
    spec = BiometricSpec(score="score", genuine="genuine", thresholds=(0.5,)).to_dict()
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(spec | places), encoding="utf-8")
    save = tmp_path / "out.json"
    command = ["biometrics", "audit", str(score_file), "--settings", str(settings), *flags]
    assert main([*command, "--save", str(save)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: give one of --release-register, --protect-releases and --ledger: a release is recorded in one place"
    )
    assert not save.exists() and not (tmp_path / "r.json").exists()
