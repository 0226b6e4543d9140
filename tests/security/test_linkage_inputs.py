"""Hostile inputs to the linkage and inventory commands: blocking rules, Splink settings SQL, `--group`
expressions and file names with quotes. Each hostile case is refused with one line (exit 2 from the CLI,
a typed error from the API), and a canary proves nothing was read, written or installed. The engines
behind them are locked once their inputs are in (defence in depth for SQL the allowlist never sees:
Splink's comparisons)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from misflag.cli import main
from misflag.errors import EngineError, ExpressionError, MisflagError
from misflag.inventory import load_inventories
from misflag.io import check_expression
from misflag.linkage import LinkageAuditSpec, audit_linkage
from misflag.linkage._evaluate import PairsData
from misflag.linkage._synthetic import synthetic_records

SECRET = "canary-linkage-5e1d-never-print-me"
SETTINGS = Path(__file__).resolve().parents[2] / "src/misflag/linkage/settings/synthetic.json"
COLUMNS = ["record_id", "person_id", "group", "first_name", "last_name", "dob", "error"]


def _corpus() -> list[tuple[str, str]]:
    spec = importlib.util.spec_from_file_location(
        "misflag_hostile_corpus", Path(__file__).with_name("corpus.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.corpus())


CORPUS = _corpus()

#: Blocking rules over record pairs that must be refused; {secret} and {target} are the canary's paths.
HOSTILE_RULES = [
    "l.dob = r.dob AND length(read_text('{secret}')) > 0",
    "l.dob = r.dob AND (SELECT count(*) FROM read_csv('{secret}')) > 0",
    "l.dob = r.dob; COPY (SELECT 1) TO '{target}'",
    "l.dob = r.dob) OR (SELECT 1 FROM read_text('{secret}')",
    "l.dob = r.dob -- and a comment",
    "l.dob = r.dob /* hidden */",
    "l.dob = r.dob AND getenv('HOME') IS NOT NULL",
    "l.dob = r.dob AND current_setting('home_directory') IS NOT NULL",
    "COLUMNS('first_.*') IS NOT NULL",
    "l.* = r.*",
    "x.dob = r.dob",
    "dob = dob",
    "l.dob = r.dob AND l.no_such_column = 1",
    'l.dob = r.dob AND CAST(l.dob AS "main.integer) IS NULL OR (SELECT 1) = 1 OR CAST(1 AS main.integer") = 1',
    "l.dob = r.dob AND list_transform([1], x -> x) IS NOT NULL",
    "l.dob = r.dob AND st_distance(st_point(0, 0), st_point(1, 1)) > 0",
    "l.dob = r.dob AND query('SELECT 1') IS NOT NULL",
    "l.dob = r.dob AND reflect('java.lang.Runtime', 'getRuntime') IS NOT NULL",
    "l.dob = r.dob AND " + "(" * 400 + "1 = 1" + ")" * 400,
    "",
    "   ",
]

#: `--group` expressions over the records that must be refused.
HOSTILE_GROUPS = [
    "(SELECT string_agg(content, '') FROM read_text('{secret}'))",
    "\"group\"; COPY (SELECT 1) TO '{target}'",
    "COLUMNS('first_.*')",
    "*",
    "getenv('HOME')",
    "read_text('{secret}')",
    'l."group"',
    '"group" -- note',
    "   ",
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Records, pairs (neighbours in person order: true and false pairs), a secret and a write target."""
    folder = tmp_path_factory.mktemp("linkage-canary")
    (folder / "secret.txt").write_text(f"{SECRET}\n", encoding="utf-8")
    records = synthetic_records(400, seed=5).sort_by([("person_id", "ascending"), ("record_id", "ascending")])
    pq.write_table(records, folder / "records.parquet")
    ids = [str(v) for v in records.column("record_id").to_pylist()]
    rng = np.random.default_rng(5)
    pairs = pa.table({"id_l": ids[:-1], "id_r": ids[1:], "score": rng.uniform(0.0, 1.0, len(ids) - 1)})
    pq.write_table(pairs, folder / "pairs.parquet")
    return {
        "folder": folder,
        "secret": folder / "secret.txt",
        "target": folder / "written.txt",
        "records": folder / "records.parquet",
        "pairs": folder / "pairs.parquet",
    }


def _installed_extensions() -> set[str]:
    rows = duckdb.connect().sql("SELECT extension_name FROM duckdb_extensions() WHERE installed").fetchall()
    return {row[0] for row in rows}


@pytest.fixture(scope="module")
def extensions_before() -> set[str]:
    return _installed_extensions()


def _aimed(text: str, world: dict[str, Path]) -> str:
    return text.replace("{secret}", str(world["secret"])).replace("{target}", str(world["target"]))


def _settings_with(world: dict[str, Path], name: str, edit: Any) -> Path:
    settings = json.loads(SETTINGS.read_text(encoding="utf-8"))
    edit(settings)
    path = world["folder"] / "settings" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(settings), encoding="utf-8")
    return path


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str], outputs: list[str]) -> str:
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    outputs += [captured.out, captured.err]
    lines = captured.err.strip().splitlines()
    assert code == 2, (argv, captured.err[-500:])
    assert len(lines) == 1 and lines[0].startswith("error: ") and len(lines[0]) < 600, captured.err[-500:]
    return lines[0]


def _untouched(world: dict[str, Path], outputs: list[str], before: set[str], kept: set[str]) -> None:
    assert not any(SECRET in text for text in outputs), "the canary's content reached an output"
    assert not world["target"].exists(), "a hostile input wrote a file"
    assert {p.name for p in world["folder"].iterdir()} <= {
        "secret.txt",
        "records.parquet",
        "pairs.parquet",
    } | kept
    assert _installed_extensions() == before, "an extension was installed"


@pytest.mark.parametrize(("kind", "text"), CORPUS, ids=[f"{i}-{kind}" for i, (kind, _) in enumerate(CORPUS)])
def test_blocking_rule_check_refuses_the_corpus(kind: str, text: str) -> None:
    with pytest.raises(ExpressionError) as refused:
        check_expression(text, COLUMNS, "blocking rule", qualifiers=("l", "r"))
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 400


def test_shipped_blocking_rules_pass_the_check() -> None:
    for path in SETTINGS.parent.glob("*.json"):
        settings = json.loads(path.read_text(encoding="utf-8"))
        names = {c["output_column_name"] for c in settings["comparisons"]} | set(COLUMNS)
        names |= {"given_name", "surname", "date_of_birth", "soc_sec_id", "postcode", "street_number"}
        for rule in settings["blocking_rules_to_generate_predictions"]:
            rendered = check_expression(rule["blocking_rule"], names, "blocking rule", qualifiers=("l", "r"))
            assert rendered.startswith(("l.", "("))


def test_hostile_blocking_rules_refused_by_linkage_audit(
    world: dict[str, Path], extensions_before: set[str], capsys: pytest.CaptureFixture[str]
) -> None:
    outputs: list[str] = []
    base = ["--records", str(world["records"]), "--id-column", "record_id", "--truth", "person_id"]
    for index, rule in enumerate(HOSTILE_RULES):
        aimed = _aimed(rule, world)

        def put(settings: dict[str, Any], aimed: str = aimed) -> None:
            settings["blocking_rules_to_generate_predictions"][0]["blocking_rule"] = aimed

        settings = _settings_with(world, f"rule{index}.json", put)
        line = _refused(
            capsys, ["linkage", "audit", str(world["pairs"]), *base, "--settings", str(settings)], outputs
        )
        assert "blocking rule" in line or "Splink settings" in line, line
        spec = LinkageAuditSpec(id_column="record_id", cluster_column="person_id", blocking_rules=(aimed,))
        with pytest.raises(MisflagError) as refused:
            audit_linkage(world["pairs"], world["records"], spec=spec)
        outputs.append(str(refused.value))
    _untouched(world, outputs, extensions_before, {"settings"})


def test_hostile_group_refused_by_linkage_audit_and_sample(
    world: dict[str, Path], extensions_before: set[str], capsys: pytest.CaptureFixture[str]
) -> None:
    outputs: list[str] = []
    for group in HOSTILE_GROUPS:
        aimed = _aimed(group, world)
        audit = ["linkage", "audit", str(world["pairs"]), "--records", str(world["records"])]
        audit += ["--id-column", "record_id", "--truth", "person_id", "--group", aimed]
        _refused(capsys, audit, outputs)
        sample = ["linkage", "sample", str(world["pairs"]), "--out", str(world["target"]), "--size", "20"]
        sample += ["--records", str(world["records"]), "--id-column", "record_id", "--group", aimed]
        _refused(capsys, sample, outputs)
        spec = LinkageAuditSpec(id_column="record_id", cluster_column="person_id", groups=(aimed,))
        with pytest.raises(MisflagError):
            audit_linkage(world["pairs"], world["records"], spec=spec)
    _untouched(world, outputs, extensions_before, {"settings"})


def test_the_audit_engine_is_locked_once_its_inputs_are_in(world: dict[str, Path]) -> None:
    """Defence in depth: SQL that never passed the allowlist still cannot read, write or reconfigure."""
    spec = LinkageAuditSpec(id_column="record_id", cluster_column="person_id", groups=('"group"',))
    data = PairsData(spec, world["pairs"], world["records"])
    try:
        for statement in (
            f"SELECT * FROM read_text('{world['secret']}')",
            f"COPY (SELECT 1) TO '{world['target']}'",
            "SET enable_external_access = true",
            "INSTALL spatial",
        ):
            with pytest.raises(EngineError) as refused:
                data.engine.sql(statement)
            assert SECRET not in str(refused.value)
        assert data.scalar("SELECT COUNT(*) FROM rec") == 400  # the inputs are still readable
    finally:
        data.engine.close()
    assert not world["target"].exists()


LOCKED = "disabled by configuration"  # DuckDB's message when the sandbox stops a file access
QUERY = "may not hold a query or read a table"


@pytest.mark.parametrize(
    ("where", "sql", "needle"),
    [
        ("comparison", "(SELECT count(*) FROM read_text('{secret}')) > 0", QUERY),
        ("comparison", "dob_l = dob_r AND (SELECT count(*) FROM read_csv('{secret}')) > 0", QUERY),
        ("comparison", "dob_l IN (SELECT content FROM read_text('{secret}'))", QUERY),
        ("comparison", "st_distance(st_point(0, 0), st_point(1, 1)) > 0", "st_distance() is not allowed"),
        ("comparison", "reflect('java.lang.Runtime', 'getRuntime') IS NOT NULL", "calls reflect()"),
        ("comparison", "java_method('java.lang.System', 'exit', 1) = 1", "calls java_method()"),
        ("comparison", "getenv('HOME') IS NOT NULL", "calls getenv()"),
        ("blocking", "l.dob = r.dob AND (SELECT count(*) FROM read_text('{secret}')) > 0", QUERY),
        ("blocking", "l.dob = r.dob AND EXISTS (SELECT 1 FROM glob('{folder}/*'))", QUERY),
    ],
)
def test_splink_settings_sql_cannot_read_write_or_install(
    world: dict[str, Path],
    extensions_before: set[str],
    capsys: pytest.CaptureFixture[str],
    where: str,
    sql: str,
    needle: str,
) -> None:
    """Splink runs the settings' SQL itself: its connection allows no file and installs nothing."""
    aimed = _aimed(sql, world).replace("{folder}", str(world["folder"]))

    def put(settings: dict[str, Any]) -> None:
        if where == "blocking":
            settings["blocking_rules_to_generate_predictions"][0]["blocking_rule"] = aimed
        else:
            settings["comparisons"][0]["comparison_levels"][1]["sql_condition"] = aimed

    settings = _settings_with(world, f"splink-{where}.json", put)
    out = world["folder"] / "pairs-out.parquet"
    outputs: list[str] = []
    line = _refused(
        capsys, ["linkage", "run", str(settings), str(world["records"]), "--out", str(out)], outputs
    )
    assert needle in line, line
    assert not out.exists() and not list(world["folder"].glob("pairs-out*"))
    _untouched(world, outputs, extensions_before, {"settings"})


def test_splink_connection_is_locked(world: dict[str, Path], extensions_before: set[str]) -> None:
    """Defence in depth behind the settings check: the connection Splink is given reads no file, writes
    none, loads or installs no extension and keeps its configuration."""
    from misflag.linkage._splink_runner import _db_api

    api = _db_api("duckdb", str(world["folder"]))
    connection = api._con
    for statement in (
        f"SELECT count(*) FROM read_text('{world['secret']}')",
        f"SELECT count(*) FROM glob('{world['folder']}/*')",
        f"COPY (SELECT 1) TO '{world['target']}'",
        f"ATTACH '{world['target']}' AS x",
        "INSTALL spatial",
        "SET enable_external_access = true",
        "SET autoinstall_known_extensions = true",
    ):
        with pytest.raises(duckdb.Error) as refused:
            connection.execute(statement)
        assert SECRET not in str(refused.value)
    assert connection.execute("SELECT 1 + 1").fetchone() == (2,)
    _untouched(world, [], extensions_before, {"settings"})


def test_splink_settings_copy_statement_writes_nothing(
    world: dict[str, Path], extensions_before: set[str], capsys: pytest.CaptureFixture[str]
) -> None:
    copy = f"COPY (SELECT 1) TO '{world['target']}'"
    outputs: list[str] = []
    for index, text in enumerate(
        [
            f"l.dob = r.dob; {copy}",
            f"dob_l = dob_r; {copy}",
            f"dob_l = dob_r THEN 1 END; {copy}; SELECT CASE WHEN 1",
        ]
    ):

        def put(settings: dict[str, Any], text: str = text, index: int = index) -> None:
            if index == 0:
                settings["blocking_rules_to_generate_predictions"][0]["blocking_rule"] = text
            else:
                settings["comparisons"][0]["comparison_levels"][1]["sql_condition"] = text

        settings = _settings_with(world, f"copy{index}.json", put)
        out = world["folder"] / "copy-out.parquet"
        _refused(capsys, ["linkage", "run", str(settings), str(world["records"]), "--out", str(out)], outputs)
        assert not out.exists()
    _untouched(world, outputs, extensions_before, {"settings"})


@pytest.mark.parametrize(
    "name",
    [
        "o'brien.parquet",
        'say "hi".parquet',
        "x'); COPY (SELECT 1) TO 'written.txt'; --.parquet",
        "a''b.parquet",
    ],
)
def test_file_names_with_quotes_are_read_as_names(
    world: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """Paths reach SQL only as quoted literals: a quote in a file name is part of the name."""
    records, pairs = tmp_path / ("records " + name), tmp_path / ("pairs " + name)
    records.write_bytes(world["records"].read_bytes())
    pairs.write_bytes(world["pairs"].read_bytes())
    settings = tmp_path / ("settings " + name.replace(".parquet", ".json"))
    settings.write_text(SETTINGS.read_text(encoding="utf-8"), encoding="utf-8")
    argv = ["linkage", "audit", str(pairs), "--records", str(records), "--id-column", "record_id"]
    argv += ["--truth", "person_id", "--settings", str(settings), "--format", "json"]
    capsys.readouterr()
    assert main(argv) == 0, capsys.readouterr().err
    rows = json.loads(capsys.readouterr().out)
    assert {"precision", "recall", "blocking_recall"} <= {row["metric"] for row in rows}
    sample = tmp_path / ("sample " + name.replace(".parquet", ".csv"))
    argv = ["linkage", "sample", str(pairs), "--out", str(sample), "--size", "20", "--records", str(records)]
    assert main([*argv, "--id-column", "record_id", "--group", '"group"']) == 0
    assert sample.is_file()
    assert not (tmp_path / "written.txt").exists() and not Path("written.txt").exists()
    assert not world["target"].exists()


def test_inventory_engine_is_locked_and_quoted_paths_round_trip(tmp_path: Path) -> None:
    """The inventory's engine reads nothing beyond its loaded tables; a database named with quotes saves and
    reopens (written by a separate engine, the path a quoted literal)."""
    (tmp_path / "secret.txt").write_text(SECRET, encoding="utf-8")
    inventory = load_inventories()
    try:
        with pytest.raises(EngineError) as refused:
            inventory.engine.sql(f"SELECT * FROM read_text('{tmp_path / 'secret.txt'}')")
        assert SECRET not in str(refused.value)
        target = tmp_path / "inv'; COPY (SELECT 1) TO 'x.txt'; --.duckdb"
        inventory.save(target)
        rows = inventory.table().num_rows
    finally:
        inventory.close()
    assert target.is_file() and not (tmp_path / "x.txt").exists()
    reopened = load_inventories([target])
    try:
        assert reopened.table().num_rows == rows
        with pytest.raises(EngineError):
            reopened.engine.sql(f"COPY (SELECT 1) TO '{tmp_path / 'y.txt'}'")
    finally:
        reopened.close()
    assert not (tmp_path / "y.txt").exists()
