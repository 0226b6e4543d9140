"""`--count` and `--margin` are expressions like every other: each hostile entry of the corpus is refused
there too (CLI one line and exit 2, Python a typed error), a canary proves nothing was read or written,
a web job cannot count a masked column, and counts chosen to overflow are refused in one line."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from misflag.cli import main
from misflag.decisions import DecisionSpec, audit_decisions
from misflag.errors import InputError, MisflagError


def _corpus() -> Any:
    spec = importlib.util.spec_from_file_location(
        "misflag_hostile_corpus", Path(__file__).with_name("corpus.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CORPUS_MODULE = _corpus()
SECRET = "canary-count-5b1e-never-print-me"


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("count-canary")
    secret = folder / "secret.txt"
    secret.write_text(f"{SECRET}\n", encoding="utf-8")
    table = folder / "counts.csv"
    rows = "".join(f"{'ab'[i % 2]},{i % 2},{(i // 2) % 2},{10 + i},{i},name {i}\n" for i in range(8))
    table.write_text("grp,flag,truth,people,id,full_name\n" + rows, encoding="utf-8")
    return {"folder": folder, "secret": secret, "target": folder / "written.txt", "table": table}


def test_every_hostile_expression_is_refused_as_a_count_or_margin(
    canary: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Each entry is tried once, as --count and --margin in turn (as the corpus test spreads its options)."""
    outputs: list[str] = []
    for index, (kind, text) in enumerate(CORPUS_MODULE.corpus()):
        option = ("--count", "--margin")[index % 2]
        aimed = text.replace(CORPUS_MODULE.CANARY, str(canary["secret"])).replace(
            CORPUS_MODULE.TARGET, str(canary["target"])
        )
        extra = ["--count", "people", "--margin", aimed] if option == "--margin" else ["--count", aimed]
        code = main(
            ["decisions", "audit", str(canary["table"]), "--flag", "flag", "--truth", "truth", *extra]
        )
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (
            kind,
            text,
            captured.err[-300:],
        )
        outputs += [captured.out, captured.err]
        keywords = {"count": "people", "margin": aimed} if option == "--margin" else {"count": aimed}
        with pytest.raises(MisflagError) as refused:
            audit_decisions(canary["table"], flag="flag", truth="truth", **keywords)
        outputs.append(str(refused.value))
    assert not any(SECRET in text for text in outputs)
    assert not canary["target"].exists()
    assert sorted(p.name for p in canary["folder"].iterdir()) == ["counts.csv", "secret.txt"]


def test_a_web_job_cannot_count_or_margin_a_masked_column() -> None:
    from misflag.api._request import check_audit

    columns = ["grp", "flag", "truth", "people", "id"]
    masked = {"id": "every value distinct"}
    for keywords in ({"count": "id"}, {"count": "people", "margin": "id + 0"}):
        spec = DecisionSpec(truth="truth", flag="flag", groups=("grp",), **keywords)
        with pytest.raises(InputError, match="cannot read id"):
            check_audit(spec, columns, masked, 1000)


@pytest.mark.parametrize(
    ("people", "problem"),
    [
        ([2**52, 2**52, 1, 1], "adds up to more than 2**53 people in one cell"),
        ([1e308, 1e308, 1, 1], "adds up to more than 2**53 people in one cell"),
        ([1e400, 1, 1, 1], "is not finite (NaN or infinite) in 1 input row(s)"),
    ],
)
def test_counts_that_overflow_are_refused_in_one_line(people: list[float], problem: str) -> None:
    table = pa.table({"flag": [1, 1, 0, 0], "truth": [0, 0, 1, 0], "people": people})
    with pytest.raises(InputError) as refused:
        audit_decisions(table, flag="flag", truth="truth", count="people")
    assert problem in str(refused.value) and "\n" not in str(refused.value)
