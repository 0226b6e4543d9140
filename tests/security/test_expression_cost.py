"""Expression cost is bounded from the tree before anything runs (issue 20, item 2): text may grow at most
16-fold over the longest input value, at most two growing replace() calls nest, replace() takes quoted
search and replacement text, and LIKE/ILIKE patterns are quoted text with at most two `%`.

The bounds are checked against the engine: the largest accepted growth, run by DuckDB on the value that
grows most, gives exactly the length Python's own str.replace computes, and that length is within 16x.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from misflag.cli import main
from misflag.errors import ExpressionError
from misflag.io import check_expression
from misflag.io._expr_cost import MAX_CONSTANT, MAX_GROWTH

COLUMNS = ["id", "name", "grp", "flag", "truth"]


def nested_replace(depth: int, column: str = "name") -> str:
    """The issue's payload shape: `depth` nested replace() calls, each making every 'a' ten of them."""
    text = column
    for _ in range(depth):
        text = f"replace({text},'a','aaaaaaaaaa')"
    return text


#: The issue's expression: 249 characters, 10^9-fold growth.
ISSUE_PAYLOAD = nested_replace(9, "c_name") + " = 'aaaa'"


def _refused(text: str) -> str:
    with pytest.raises(ExpressionError) as refused:
        check_expression(text, [*COLUMNS, "c_name"], "--flag")
    message = str(refused.value)
    assert "\n" not in message and len(message) < 400, message
    return message


def test_the_issue_payload_is_refused_naming_replace() -> None:
    assert len(ISSUE_PAYLOAD) == 249
    assert "replace()" in _refused(ISSUE_PAYLOAD)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (nested_replace(2), "100-fold"),
        ("replace(replace(replace(name, 'a', 'aa'), 'b', 'bb'), 'c', 'cc')", "nested 3 deep"),
        ("replace(name, 'a', '" + "a" * (MAX_GROWTH + 1) + "')", f"{MAX_GROWTH + 1}-fold"),
        ("replace(name, 'a', name)", "not quoted text"),
        ("replace(name, grp, 'x')", "not quoted text"),
        (" || ".join(["name"] * (MAX_GROWTH + 1)), "text concatenation"),
        ("concat(" + ", ".join(["name"] * (MAX_GROWTH + 1)) + ") = ''", "text concatenation"),
        ("replace(name || name || name || name || name, 'a', 'aaaa') = ''", "20-fold"),
        ("length(replace(" + "'" + "a" * 3000 + "', 'a', '" + "b" * 30 + "')) > 0", "90,000 characters"),
        ("name LIKE '%a%a%b'", "3 % wildcards"),
        ("name ILIKE '%a%%'", "3 % wildcards"),
        ("name NOT LIKE '%a%a%a%a%a%a%a%b'", "8 % wildcards"),
        ("name LIKE grp", "not quoted text"),
        ("name LIKE '" + "a" * 201 + "'", "201 characters"),
    ],
)
def test_costly_expressions_are_refused_in_one_line(text: str, needle: str) -> None:
    assert needle in _refused(text)


@pytest.mark.parametrize(
    ("text", "grow"),
    [
        ("replace(name, 'a', '" + "a" * MAX_GROWTH + "')", lambda v: v.replace("a", "a" * MAX_GROWTH)),
        (
            "replace(replace(name, 'a', 'aaaa'), 'a', 'aaaa')",
            lambda v: v.replace("a", "aaaa").replace("a", "aaaa"),
        ),
        (" || ".join(["name"] * MAX_GROWTH), lambda v: v * MAX_GROWTH),
        ("replace(name, 'aaaa', 'a')", lambda v: v.replace("aaaa", "a")),
    ],
    ids=["16-fold replace", "4x4 nested", "16 copies", "shrinking"],
)
def test_the_largest_accepted_growth_is_what_duckdb_computes(text: str, grow: Callable[[str], str]) -> None:
    """Accepted, and on the value that grows most (all 'a') DuckDB's result is what Python's str.replace
    gives, at most 16 times the input's length."""
    rendered = check_expression(text, COLUMNS, "--group")
    value = "a" * 40
    connection = duckdb.connect()
    connection.execute("CREATE TABLE t AS SELECT ? AS name", [value])
    result = connection.execute(f"SELECT {rendered} FROM t").fetchone()
    assert result is not None and result[0] == grow(value)
    assert len(result[0]) <= len(value) * MAX_GROWTH


@pytest.mark.parametrize(
    "text",
    [
        "replace(name, '-', '') = 'x'",
        "replace(name, 'St.', 'Street') = 'x'",
        "trim(first) || ' ' || trim(last) = 'x'".replace("first", "name").replace("last", "grp"),
        "name LIKE 'A%'",
        "name ILIKE '%smith%'",
        "name LIKE '___-__-____'",
    ],
)
def test_ordinary_expressions_still_pass(text: str) -> None:
    check_expression(text, COLUMNS, "--flag")


@pytest.fixture()
def log(tmp_path: Path) -> Path:
    """The issue's setting: a 3-row CSV."""
    path = tmp_path / "log.csv"
    path.write_text("id,c_name,grp,flag,truth\n1,aaa,x,1,0\n2,ab,y,0,1\n3,ba,x,1,1\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "option", ["--flag", "--where", "--group", "--truth", "--score"], ids=lambda o: o.lstrip("-")
)
def test_cli_refuses_the_issue_payload_in_one_line_and_writes_nothing(
    log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    out = tmp_path / "result.json"
    values = {"--flag": "flag = 1", "--truth": "truth = 1", option: ISSUE_PAYLOAD}
    if option == "--score":
        values[option] = f"length({nested_replace(9, 'c_name')})"
    argv = ["decisions", "audit", str(log), "--replicates", "100", "--save", str(out)]
    argv += [item for pair in values.items() for item in pair]
    capsys.readouterr()
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "replace()" in lines[0], lines
    assert not out.exists() and list(tmp_path.iterdir()) == [log]


@pytest.mark.parametrize(
    ("field", "text", "needle"),
    [
        ("flag", ISSUE_PAYLOAD, "replace()"),
        ("where", ISSUE_PAYLOAD, "replace()"),
        ("flag", "c_name LIKE '%a%a%a%a%a%a%a%b'", "8 % wildcards"),
    ],
)
def test_http_refuses_before_a_job_is_queued(
    log: Path, tmp_path: Path, field: str, text: str, needle: str
) -> None:
    """POST /api/audits runs the same check: 4xx naming the function, and no job is created."""
    from fastapi.testclient import TestClient

    from misflag.api import create_app

    app = create_app(data_dir=tmp_path / "serve", allowed_hosts=("testserver",))
    with TestClient(app) as client:
        upload = client.post("/api/uploads", files={"file": ("log.csv", log.read_bytes(), "text/csv")})
        assert upload.status_code == 201, upload.text
        body = {
            "upload_id": upload.json()["upload_id"],
            "flag": "flag = 1",
            "truth": "truth = 1",
            field: text,
        }
        reply = client.post("/api/audits", json=body)
        assert 400 <= reply.status_code < 500 and needle in reply.text, reply.text[:300]
        assert "job_id" not in reply.text
    assert not list((tmp_path / "serve").rglob("result*"))


_SEARCH = st.sampled_from(["a", "aa", "", "b", "ab"])
_REPLACEMENT = st.sampled_from(["", "a", "aa", "aaaa", "a" * 10, "a" * 16, "a" * 17])
_TEXT = st.recursive(
    st.sampled_from(["name", "grp", "'a'", "'" + "a" * 300 + "'"]),
    lambda inner: st.one_of(
        st.builds(lambda t, a, b: f"replace({t}, '{a}', '{b}')", inner, _SEARCH, _REPLACEMENT),
        st.builds(lambda a, b: f"({a} || {b})", inner, inner),
        st.builds(lambda a, b, c: f"concat({a}, {b}, {c})", inner, inner, inner),
        st.builds(lambda t, f: f"{f}({t})", inner, st.sampled_from(["upper", "lower", "trim"])),
        st.builds(lambda t: f"left({t}, 5)", inner),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_TEXT)
def test_every_accepted_text_expression_stays_within_the_bound_on_duckdb(text: str) -> None:
    """Adversary's property: for random nestings of replace, ||, concat and case functions, whatever the
    check accepts, DuckDB computes (on the values that grow most) at most 16 times the longest value
    plus 65,536 characters; whatever it refuses, it refuses in one line."""
    try:
        rendered = check_expression(f"length({text})", COLUMNS, "--score")
    except ExpressionError as refused:
        assert "\n" not in str(refused) and len(str(refused)) < 400
        return
    connection = duckdb.connect()
    value = "a" * 50
    connection.execute("CREATE TABLE t AS SELECT ? AS name, ? AS grp", [value, "ab" * 25])
    result = connection.execute(f"SELECT {rendered} FROM t").fetchone()
    assert result is not None
    assert result[0] <= MAX_GROWTH * len(value) + MAX_CONSTANT, text
