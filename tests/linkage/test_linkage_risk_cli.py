"""`misflag linkage risk`: formats, rule files and one-line errors with exit code 2 for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from misflag.cli import main
from misflag.errors import InputError, RuleError
from misflag.linkage import assess_rule_risk, load_rule

BASE = ["linkage", "risk", "--population", "258300000", "--list", "1000000"]


def test_json_output_and_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "risk.json"
    assert main([*BASE, "--rule", "crosscheck", "--format", "json", "--save", str(bundle)]) == 0
    rows = json.loads(capsys.readouterr().out)
    metrics = {r["metric"] for r in rows}
    assert {"wrongful_match_per_100k", "wrong_per_true_match", "ratio_to_min"} <= metrics
    hispanic = next(
        r
        for r in rows
        if r["group"] == "Hispanic" and r["metric"] == "wrongful_match_per_100k" and r["attribute"] == "group"
    )
    assert hispanic["ci_low"] < hispanic["value"] < hispanic["ci_high"]
    assert hispanic["denominator"] == pytest.approx(258_300_000 * 0.16290, rel=1e-4)
    saved = json.loads(bundle.read_text())
    assert saved["kind"] == "linkage-risk" and "independent" in saved["summary"]
    assert saved["metadata"]["rule"]["name"] == "crosscheck"


def test_yaml_rule_file_matches_the_same_rule_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same rule read from YAML (CLI) and from a dict (API) gives the same numbers."""
    rule = tmp_path / "rule.yaml"
    rule.write_text(
        "name: mine\ncompare:\n  - {field: last_name, method: soundex}\n  - {field: dob, method: year}\n"
    )
    assert main([*BASE, "--rule", str(rule), "--format", "csv", "--prevalence", "0.01"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("attribute,group,stage,metric")
    api = assess_rule_risk(
        load_rule(rule).to_dict(), population_size=258_300_000, list_size=1_000_000, prevalence=0.01
    )
    white = next(line for line in lines if line.startswith("group,White,analytic,wrongful_match_per_100k,"))
    assert float(white.split(",")[4]) == pytest.approx(api.value("wrongful_match_per_100k", "White", "group"))


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        (
            '{"compare": [{"field": "middle_name", "method": "exact"}]}',
            ".json",
            "unknown field 'middle_name'",
        ),
        (
            '{"compare": [{"field": "last_name", "method": "jaro_winkler", "threshold": 1.5}]}',
            ".json",
            "outside [0, 1]",
        ),
        ('{"compare": [{"field": "last_name", "method": "exact"}', ".json", "does not parse"),
        ("compare: [field: last_name", ".yaml", "does not parse"),
        ('{"compare": [{"field": "dob", "method": "within_days"}]}', ".json", "integer `days`"),
    ],
)
def test_bad_rule_files_give_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, suffix: str, message: str
) -> None:
    rule = tmp_path / f"rule{suffix}"
    rule.write_text(content)
    assert main([*BASE, "--rule", str(rule)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--population-mix", '{"white": 0.6, "hispanic": 0.3}', "sum to 0.9, not 1"),
        ("--list-mix", '{"martian": 1.0}', "unknown group(s) martian"),
        ("--population-mix", "{not json", "does not parse"),
        ("--prevalence", "1.5", "--prevalence must be in (0, 1]"),
        ("--seed", "-1", "--seed must be a whole number of at least 0, got -1"),  # numpy's seeds
        ("--method", "guess", "unknown method 'guess'"),
    ],
)
def test_bad_options_give_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    assert main([*BASE, "--rule", "crosscheck", "--method", "both", "--replicates", "2", option, value]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1


def test_api_raises_typed_errors() -> None:
    with pytest.raises(RuleError, match="unknown field"):
        load_rule({"compare": [{"field": "ssn", "method": "exact"}]})
    with pytest.raises(RuleError, match="outside"):
        load_rule({"compare": [{"field": "first_name", "method": "jaro_winkler", "threshold": -0.1}]})
    with pytest.raises(InputError, match="positive whole number"):
        assess_rule_risk("crosscheck", population_size=0, list_size=10)


def test_rule_round_trips_as_data() -> None:
    for preset in ("crosscheck", "last-dob", "fuzzy-name-dob"):
        rule = load_rule(preset)
        assert load_rule(rule.to_dict()) == rule
