"""Every hostile expression of the corpus is refused by the expression check, the CLI (exit 2, one line),
the Python API (a typed error) and HTTP (4xx); a canary proves nothing was read, written or installed."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from misflag.cli import main
from misflag.decisions import audit_decisions
from misflag.engine import DuckDBEngine
from misflag.errors import EngineError, ExpressionError, MisflagError
from misflag.io import check_expression, load_input


def _load_corpus() -> Any:
    """tests/security/corpus.py (tests are not a package: loaded by path)."""
    spec = importlib.util.spec_from_file_location(
        "misflag_hostile_corpus", Path(__file__).with_name("corpus.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_CORPUS_MODULE = _load_corpus()
CANARY: str = _CORPUS_MODULE.CANARY
TARGET: str = _CORPUS_MODULE.TARGET
CORPUS: list[tuple[str, str]] = _CORPUS_MODULE.corpus()
COLUMNS = ["id", "grp", "flag", "truth", "score", "age", "full_name", "d"]
SECRET = "canary-7f3a9c-never-print-me"
#: Where a hostile expression is put, in turn: every expression option of `decisions audit`.
OPTIONS = ["--group", "--flag", "--truth", "--where", "--score", "--weight", "--stage"]
#: The same options as keyword arguments of `audit_decisions` / fields of POST /api/audits.
FIELDS = {
    "--group": "groups",
    "--flag": "flag",
    "--truth": "truth",
    "--where": "where",
    "--score": "score",
    "--weight": "weight",
    "--stage": "stages",
}


def test_the_corpus_is_large_and_covers_every_class() -> None:
    classes = {kind for kind, _ in CORPUS}
    assert len(CORPUS) >= 200 and len({text for _, text in CORPUS}) == len(CORPUS)
    assert {"file function", "statement", "comment", "cast", "star and COLUMNS", "subquery"} <= classes
    assert {"spark function", "unicode", "nesting and size", "regular expression"} <= classes


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A decision log, a secret file no expression may read and a target no expression may write."""
    folder = tmp_path_factory.mktemp("canary")
    secret = folder / "secret.txt"
    secret.write_text(f"{SECRET}\n", encoding="utf-8")
    rows = "\n".join(
        f"{i},{'ab'[i % 2]},{int(i % 3 == 0)},{int(i % 4 == 0)},{i % 10},{18 + i % 50},name {i},2020-01-{1 + i % 28:02d}"
        for i in range(60)
    )
    log = folder / "log.csv"
    log.write_text("id,grp,flag,truth,score,age,full_name,d\n" + rows + "\n", encoding="utf-8")
    return {"folder": folder, "secret": secret, "target": folder / "written.txt", "log": log}


def _aimed(text: str, paths: dict[str, Path]) -> str:
    """The corpus entry aimed at this test's canary and target files."""
    return text.replace(CANARY, str(paths["secret"])).replace(TARGET, str(paths["target"]))


def _cli_args(log: Path, option: str, text: str) -> list[str]:
    args = ["decisions", "audit", str(log), "--replicates", "100"]
    if option == "--stage":
        return [*args, "--stage", f"screen={text}", "--truth", "truth"]
    base = {"--flag": "flag", "--truth": "truth", option: text}
    return args + [item for pair in base.items() for item in pair]


def _api_kwargs(option: str, text: str) -> dict[str, Any]:
    field = FIELDS[option]
    kwargs: dict[str, Any] = {"flag": "flag", "truth": "truth", "replicates": 100}
    if field == "groups":
        kwargs["groups"] = [text]
    elif field == "stages":
        kwargs.pop("flag")
        kwargs["stages"] = [("screen", text)]
    else:
        kwargs[field] = text
    return kwargs


@pytest.mark.parametrize(("kind", "text"), CORPUS, ids=[f"{i}-{kind}" for i, (kind, _) in enumerate(CORPUS)])
def test_check_expression_refuses(kind: str, text: str) -> None:
    with pytest.raises(ExpressionError) as refused:
        check_expression(text, COLUMNS, "--group")
    message = str(refused.value)
    assert "\n" not in message and len(message) < 400, message


def _installed_extensions() -> set[str]:
    rows = duckdb.connect().sql("SELECT extension_name FROM duckdb_extensions() WHERE installed").fetchall()
    return {row[0] for row in rows}


@pytest.fixture(scope="module")
def extensions_before() -> set[str]:
    return _installed_extensions()


def test_cli_and_api_refuse_every_entry(
    canary: dict[str, Path], extensions_before: set[str], capsys: pytest.CaptureFixture[str]
) -> None:
    outputs: list[str] = []
    for index, (kind, text) in enumerate(CORPUS):
        option = OPTIONS[index % len(OPTIONS)]
        aimed = _aimed(text, canary)
        code = main(_cli_args(canary["log"], option, aimed))
        captured = capsys.readouterr()
        outputs += [captured.out, captured.err]
        lines = captured.err.strip().splitlines()
        assert code == 2, (kind, text, captured.err[-500:])
        assert len(lines) == 1 and lines[0].startswith("error: "), (kind, text, captured.err[-500:])
        with pytest.raises(MisflagError) as refused:
            audit_decisions(canary["log"], **_api_kwargs(option, aimed))
        outputs.append(str(refused.value))
    _assert_canary_untouched(canary, outputs, extensions_before)


def _assert_canary_untouched(paths: dict[str, Path], outputs: list[str], before: set[str]) -> None:
    assert not any(SECRET in text for text in outputs), "the canary's content reached an output"
    assert not paths["target"].exists(), "a hostile expression wrote a file"
    assert sorted(p.name for p in paths["folder"].iterdir()) == ["log.csv", "secret.txt"]
    assert not Path(TARGET).exists()
    assert _installed_extensions() == before, "an extension was installed"


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM read_text('{secret}')",
        "SELECT * FROM read_csv('{secret}')",
        "COPY (SELECT 1) TO '{target}'",
        "SELECT 1; COPY (SELECT 1) TO '{target}'",
        "ATTACH '{target}' AS x",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET allowed_paths = ['{secret}']",
        "RESET lock_configuration",
        "SELECT * FROM glob('{folder}/*')",
    ],
)
def test_sandboxed_engine_refuses_files_settings_and_extensions(
    statement: str, canary: dict[str, Path], extensions_before: set[str]
) -> None:
    """Defence in depth: even SQL that skipped the expression check cannot reach beyond the inputs."""
    engine = DuckDBEngine(sandbox=True)
    try:
        load_input(engine, canary["log"])
        query = statement.format(secret=canary["secret"], target=canary["target"], folder=canary["folder"])
        with pytest.raises(EngineError) as refused:
            engine.sql(query)
        assert SECRET not in str(refused.value)
        assert engine.sql("SELECT COUNT(*) FROM input").column(0)[0].as_py() == 60  # inputs still readable
    finally:
        engine.close()
    _assert_canary_untouched(canary, [], extensions_before)


@pytest.fixture(scope="module")
def client(canary: dict[str, Path]) -> Iterator[tuple[Any, str]]:
    from fastapi.testclient import TestClient

    from misflag.api import create_app

    app = create_app(data_dir=canary["folder"].parent / "serve", allowed_hosts=("testserver",))
    with TestClient(app) as test_client:
        reply = test_client.post(
            "/api/uploads", files={"file": ("log.csv", canary["log"].read_bytes(), "text/csv")}
        )
        assert reply.status_code == 201, reply.text
        yield test_client, reply.json()["upload_id"]


def test_http_refuses_every_entry(
    client: tuple[Any, str], canary: dict[str, Path], extensions_before: set[str]
) -> None:
    test_client, upload_id = client
    outputs: list[str] = []
    for index, (kind, text) in enumerate(CORPUS):
        option = OPTIONS[index % len(OPTIONS)]
        body = _api_kwargs(option, _aimed(text, canary))
        if "stages" in body:
            body["stages"] = [f"screen={body['stages'][0][1]}"]
        reply = test_client.post("/api/audits", json={"upload_id": upload_id, **body})
        outputs.append(reply.text)
        assert 400 <= reply.status_code < 500, (kind, text, reply.status_code, reply.text[:300])
    _assert_canary_untouched(canary, outputs, extensions_before)


#: The linked-tables options added with issue 21: each names group expressions of its own.
LINKED = {"--table-set": "table_sets", "--breakdown": "breakdown"}


def test_linked_table_options_refuse_every_entry(
    canary: dict[str, Path], extensions_before: set[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`--table-set grp,EXPR` and `--breakdown EXPR` (their expressions join the groups): every corpus entry is
    refused in one line by the CLI and by a typed error from the API, and touches nothing."""
    outputs: list[str] = []
    for index, (kind, text) in enumerate(CORPUS):
        option = list(LINKED)[index % len(LINKED)]
        aimed = _aimed(text, canary)
        value = f"grp,{aimed}" if option == "--table-set" else aimed
        args = ["decisions", "audit", str(canary["log"]), "--flag", "flag", "--truth", "truth"]
        code = main([*args, "--replicates", "100", "--group", "grp", option, value])
        captured = capsys.readouterr()
        outputs += [captured.out, captured.err]
        lines = captured.err.strip().splitlines()
        assert code == 2, (kind, text, captured.err[-500:])
        assert len(lines) == 1 and lines[0].startswith("error: "), (kind, text, captured.err[-500:])
        keyword: Any = [value] if option == "--table-set" else value
        with pytest.raises(MisflagError) as refused:
            audit_decisions(
                canary["log"],
                flag="flag",
                truth="truth",
                groups=["grp"],
                replicates=100,
                **{LINKED[option]: keyword},
            )
        outputs.append(str(refused.value))
    _assert_canary_untouched(canary, outputs, extensions_before)
