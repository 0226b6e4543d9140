"""Splink settings are data, checked field by field before Splink sees them (issue 20, item 1).

Each hostile settings file is refused by `misflag linkage run` (DuckDB and Spark) with one line naming
the field, and the canaries hold: no Splink connection was ever opened (so no statement reached an
engine), the file the payload aimed to write does not exist, and the secret never reached an output.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from misflag.cli import main
from misflag.errors import RuleError
from misflag.linkage import _splink_runner
from misflag.linkage._splink_settings import (
    COMPARISON_FIELDS,
    LEVEL_FIELDS,
    RULE_FIELDS,
    SETTINGS_FIELDS,
    check_settings,
)
from misflag.linkage._synthetic import synthetic_records

SETTINGS_DIR = Path(__file__).resolve().parents[2] / "src/misflag/linkage/settings"
SECRET = "canary-splink-settings-77c1-never-print-me"
#: The issue's payload: tabs instead of spaces (Splink turns spaces in table names into _).
COPY_PAYLOAD = "x;COPY\t(SELECT\t42\tAS\ta)\tTO\t'x.csv';--"

Edit = Callable[[dict[str, Any], dict[str, Path]], None]


def _level(settings: dict[str, Any], key: str, value: Any) -> None:
    settings["comparisons"][0]["comparison_levels"][1][key] = value


#: (case id, edit of the shipped synthetic settings, words the refusal must contain).
HOSTILE: list[tuple[str, Edit, str]] = [
    ("tf copy", lambda s, w: _level(s, "tf_adjustment_column", COPY_PAYLOAD), "tf_adjustment_column"),
    (
        "tf attach",
        lambda s, w: _level(s, "tf_adjustment_column", f"x;ATTACH\t'{w['target']}'\tAS\tevil;--"),
        "tf_adjustment_column",
    ),
    (
        "tf read_text",
        lambda s, w: _level(s, "tf_adjustment_column", f"x;SELECT\t*\tFROM\tread_text('{w['secret']}');--"),
        "tf_adjustment_column",
    ),
    (
        "tf set",
        lambda s, w: _level(
            s,
            "tf_adjustment_column",
            f"x;SET\tlock_configuration=false;COPY\t(SELECT\t1)\tTO\t'{w['target']}';--",
        ),
        "tf_adjustment_column",
    ),
    (
        "tf reset",
        lambda s, w: _level(s, "tf_adjustment_column", "x;RESET\tlock_configuration;--"),
        "tf_adjustment_column",
    ),
    ("tf not a column", lambda s, w: _level(s, "tf_adjustment_column", "surname"), "a column of the input"),
    (
        "output column",
        lambda s, w: s["comparisons"][0].update(output_column_name='first_name" || (SELECT 42) || "'),
        "output_column_name",
    ),
    (
        "gamma prefix",
        lambda s, w: s.update(
            comparison_vector_value_column_prefix=f"g;COPY\t(SELECT\t1)\tTO\t'{w['target']}';--"
        ),
        "comparison_vector_value_column_prefix",
    ),
    (
        "mw prefix",
        lambda s, w: s.update(match_weight_column_prefix="mw_ ;DROP TABLE x"),
        "match_weight_column_prefix",
    ),
    (
        "tf prefix",
        lambda s, w: s.update(term_frequency_adjustment_column_prefix="tf-"),
        "term_frequency_adjustment",
    ),
    ("source column", lambda s, w: s.update(source_dataset_column_name="s d"), "source_dataset_column_name"),
    ("linker uid", lambda s, w: s.update(linker_uid="u;DETACH\tx"), "linker_uid"),
    (
        "unique id",
        lambda s, w: s.update(unique_id_column_name='record_id";SELECT 1;--'),
        "unique_id_column_name",
    ),
    (
        "arrays to explode",
        lambda s, w: s["blocking_rules_to_generate_predictions"][0].update(
            arrays_to_explode=[f"dob;COPY\t(SELECT\t1)\tTO\t'{w['target']}'"]
        ),
        "arrays_to_explode[0]",
    ),
    (
        "retained columns",
        lambda s, w: s.update(additional_columns_to_retain=["first_name, (SELECT 42) AS x"]),
        "additional_columns_to_retain[0]",
    ),
    (
        "unknown top field",
        lambda s, w: s.update(retain_matching_column=True),
        "did you mean 'retain_matching_columns'",
    ),
    (
        "unknown level field",
        lambda s, w: _level(s, "tf_adjustment_col", "x"),
        "did you mean 'tf_adjustment_column'",
    ),
    ("unknown comparison field", lambda s, w: s["comparisons"][0].update(sql="1=1"), "unknown field 'sql'"),
    (
        "unknown rule field",
        lambda s, w: s["blocking_rules_to_generate_predictions"][0].update(salt="x"),
        "unknown field 'salt'",
    ),
    (
        "prior as text",
        lambda s, w: s.update(probability_two_random_records_match="0.1; DROP"),
        "a number from 0 to 1",
    ),
    (
        "prior not finite",
        lambda s, w: s.update(probability_two_random_records_match=math.nan),
        "a number from 0 to 1",
    ),
    ("iterations", lambda s, w: s.update(max_iterations=10**9), "a whole number from 0 to 1000"),
    ("iterations bool", lambda s, w: s.update(max_iterations=True), "a whole number"),
    ("m as sql", lambda s, w: _level(s, "m_probability", "1; COPY (SELECT 1) TO 'x.csv'"), "m_probability"),
    ("label escape", lambda s, w: _level(s, "label_for_charts", "ok\x1b]52;c;cHduZWQ=\x07"), "printable"),
    ("dialect", lambda s, w: s.update(sql_dialect="duckdb; SELECT 1"), "one of duckdb, spark"),
    (
        "condition reset",
        lambda s, w: _level(s, "sql_condition", "RESET lock_configuration"),
        "not a statement",
    ),
    (
        "condition nested replace",
        lambda s, w: _level(
            s,
            "sql_condition",
            "replace(replace(first_name_l, 'a', 'aaaaaaaaaa'), 'a', 'aaaaaaaaaa') = first_name_r",
        ),
        "replace()",
    ),
    (
        "condition like",
        lambda s, w: _level(s, "sql_condition", "first_name_l LIKE '%a%a%a%b'"),
        "LIKE pattern",
    ),
    # Conditions pass the allowlist of pair expressions, not only a list of what is refused: functions
    # that no denylist named (regex backtracking, settings, hashing, text growth) are refused by name.
    (
        "condition regex",
        lambda s, w: _level(s, "sql_condition", "regexp_matches(first_name_l, '(a+)+$')"),
        "regular expressions (use LIKE or ILIKE) is not allowed",
    ),
    (
        "condition version",
        lambda s, w: _level(s, "sql_condition", "version() = first_name_r"),
        "current_version() is not allowed",
    ),
    (
        "condition hash",
        lambda s, w: _level(s, "sql_condition", "hash(first_name_l) = hash(first_name_r)"),
        "hash() is not allowed",
    ),
    (
        "condition split and join",
        lambda s, w: _level(
            s, "sql_condition", "array_to_string(string_split(first_name_l, ''), '-') = first_name_r"
        ),
        "array_to_string() is not allowed",
    ),
    (
        "condition md5",
        lambda s, w: _level(s, "sql_condition", "md5(first_name_l) = md5(first_name_r)"),
        "md5() is not allowed",
    ),
    (
        "blocking rule regex",
        lambda s, w: s["blocking_rules_to_generate_predictions"][0].update(
            blocking_rule="regexp_full_match(l.first_name, '(a|aa)+b') AND l.dob = r.dob"
        ),
        "is not allowed",
    ),
    ("too many comparisons", lambda s, w: s.update(comparisons=s["comparisons"] * 30), "at most 64"),
    ("comparisons not a list", lambda s, w: s.update(comparisons={"a": 1}), "non-empty list"),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("splink-settings")
    (folder / "secret.txt").write_text(SECRET, encoding="utf-8")
    pq.write_table(synthetic_records(300, seed=3), folder / "records.parquet")
    return {"folder": folder, "secret": folder / "secret.txt", "target": folder / "written.csv"}


def _shipped() -> dict[str, Any]:
    return dict(json.loads((SETTINGS_DIR / "synthetic.json").read_text(encoding="utf-8")))


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
@pytest.mark.parametrize(("case", "edit", "needle"), HOSTILE, ids=[case for case, _, _ in HOSTILE])
def test_hostile_settings_refused_before_any_engine(
    world: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: str,
    edit: Edit,
    needle: str,
    engine: str,
) -> None:
    settings = _shipped()
    edit(settings, world)
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(settings), encoding="utf-8")
    opened: list[str] = []
    real_db_api = _splink_runner._db_api
    monkeypatch.setattr(_splink_runner, "_db_api", lambda *a: opened.append("db") or real_db_api(*a))
    monkeypatch.chdir(tmp_path)  # where the relative 'x.csv' of the payload would land
    out = tmp_path / "pairs.parquet"
    capsys.readouterr()
    records = str(world["folder"] / "records.parquet")
    code = main(["linkage", "run", str(path), records, "--out", str(out), "--engine", engine])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured.err[-600:]
    assert len(lines) == 1 and lines[0].startswith("error: Splink settings"), captured.err[-600:]
    assert needle in lines[0], lines[0]
    assert opened == [], "a Splink connection was opened for hostile settings"
    assert not out.exists() and not (tmp_path / "x.csv").exists() and not world["target"].exists()
    assert SECRET not in captured.out + captured.err


def test_field_lists_are_splinks_own() -> None:
    """The accepted fields are exactly Splink 5's constructor parameters (plus the dialect tags Splink
    writes into saved models), so a new Splink field is noticed here rather than passed unchecked."""
    from splink.internals.blocking_rule_library import CustomRule
    from splink.internals.comparison_level_creator import ComparisonLevelCreator
    from splink.internals.comparison_level_library import CustomLevel
    from splink.internals.comparison_library import CustomComparison
    from splink.internals.settings import Settings
    from splink.internals.settings_creator import SettingsCreator

    def parameters(function: Callable[..., Any]) -> set[str]:
        return set(inspect.signature(function).parameters) - {"self"}

    creator = {f.name for f in dataclasses.fields(SettingsCreator)}
    assert set(SETTINGS_FIELDS) == creator | {"sql_dialect", "bayes_factor_column_prefix"}
    assert set(SETTINGS_FIELDS) - {"comparisons", "blocking_rules_to_generate_predictions"} <= (
        parameters(Settings.__init__) | {"link_type"}
    )
    assert set(COMPARISON_FIELDS) == parameters(CustomComparison.__init__)
    level = parameters(CustomLevel.__init__) | parameters(ComparisonLevelCreator.configure)
    assert set(LEVEL_FIELDS) == level | {"sql_dialect"}
    assert set(RULE_FIELDS) == parameters(CustomRule.__init__)


@pytest.mark.parametrize("name", ["synthetic.json", "febrl.json"])
def test_shipped_settings_pass_the_check(name: str) -> None:
    settings = json.loads((SETTINGS_DIR / name).read_text(encoding="utf-8"))
    check_settings(settings)
    refs = {
        "synthetic.json": ["record_id", "first_name", "last_name", "dob"],
        "febrl.json": [
            *("rec_id", "given_name", "surname", "date_of_birth", "soc_sec_id"),
            *("street_number", "postcode", "suburb", "state"),
        ],
    }[name]
    check_settings(settings, refs)
    with pytest.raises(RuleError, match="which the input lacks"):
        check_settings(settings, refs[:-1])


def test_a_trained_model_passes_and_runs_again(world: dict[str, Path]) -> None:
    """Splink's own saved model (dialect tags, trained m/u, its generated linker_uid) is accepted."""
    records = pq.read_table(world["folder"] / "records.parquet")
    trained = _splink_runner.link(SETTINGS_DIR / "synthetic.json", [records], seed=1)
    check_settings(trained.model, records.column_names)
    again = _splink_runner.link(trained.model, [records], seed=1)
    ids = {str(v) for v in records.column("record_id").to_pylist()}
    assert again.pairs.num_rows > 0 and set(again.pairs.column("id_l").to_pylist()) <= ids


def test_a_yaml_settings_file_reads_as_its_json(tmp_path: Path) -> None:
    """YAML (by suffix) is read by the same loader and checked the same way."""
    import yaml

    settings = _shipped()
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    assert _splink_runner.load_settings(path) == settings
    settings["comparisons"][0]["comparison_levels"][1]["tf_adjustment_column"] = COPY_PAYLOAD
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    with pytest.raises(RuleError, match="tf_adjustment_column"):
        _splink_runner.load_settings(path)
