"""Hostile values for the missing-truth options of `misflag decisions audit` (issue 23), and hostile group
labels reaching the sentences and report section those options add.

Every bad value is one `error:` line and exit 2 from the CLI, a typed InputError from Python and the
settings file; nothing is written; a group label full of terminal escapes or markup never reaches the
terminal raw or the HTML unescaped.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from misflag.cli import main
from misflag.decisions import DecisionSpec, audit_decisions
from misflag.decisions._counts import check_spec
from misflag.decisions._missing_spec import expand_prevalence_files, parse_prevalence
from misflag.errors import InputError, MisflagError

from .corpus import CANARY, TARGET, corpus

HOSTILE_LABEL = "\x1b]8;;http://evil\x07<script>alert(1)</script>\x1b[2J"


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = 60
    table = pa.table(
        {
            "g": [HOSTILE_LABEL if i % 2 else "plain" for i in range(rows)],
            "f": [i % 3 == 0 for i in range(rows)],
            "t": pa.array([None if i % 4 == 0 else float(i % 5 == 0) for i in range(rows)], pa.float64()),
        }
    )
    path = tmp_path_factory.mktemp("mt") / "log.parquet"
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize(
    "extra",
    [
        ["--missing-truth", "$(touch /tmp/pwned)"],
        ["--missing-truth", "x" * 100_000],
        ["--missing-truth", "sensitivity", "--delta", "nan"],
        ["--missing-truth", "sensitivity", "--delta", "inf"],
        ["--missing-truth", "sensitivity", "--delta", "1e999"],
        ["--missing-truth", "sensitivity", "--delta", "-0"],  # valid: 0
        ["--missing-truth", "sensitivity", "--delta", "abc"],
        ["--missing-truth", "sensitivity", "--odds-ratio", "0"],
        ["--missing-truth", "sensitivity", "--odds-ratio", "-1e308"],
        ["--missing-truth", "sensitivity"],
        ["--delta", "0.1"],
        ["--missing-truth", "bounds", "--weight", "1"],
        ["--missing-truth", "prevalence", "--prevalence", "plain=0.3"],  # the hostile group is named back
        ["--missing-truth", "prevalence", "--prevalence", "x" * 100_000 + "=0.3"],
        ["--missing-truth", "prevalence", "--prevalence", "plain=0.3:0.2"],
        ["--missing-truth", "prevalence", "--prevalence", "plain=1e999"],
        ["--missing-truth", "prevalence", "--prevalence", "plain=0.3", "--prevalence", "plain=0.2"],
        ["--missing-truth", "mar", "--strata", "g"],
    ],
)
def test_cli_refuses_in_one_line(
    log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    saved = tmp_path / "out.json"
    args = ["decisions", "audit", str(log), "--flag", "f", "--truth", "t", "--group", "g", "--min-cell", "1"]
    code = main([*args, *extra, "--save", str(saved)])
    captured = capsys.readouterr()
    if extra[-1] == "-0":
        assert code == 0
        return
    lines = captured.err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err + captured.out and len(lines[0]) < 400
    assert "\x1b" not in captured.err and "\x07" not in captured.err
    assert not saved.exists() and not Path("/tmp/pwned").exists()


@pytest.mark.parametrize(
    "settings",
    [
        {"missing_truth": ["bounds"]},
        {"missing_truth": "sensitivity", "delta": True},
        {"missing_truth": "sensitivity", "delta": "0.1"},
        {"missing_truth": "sensitivity", "odds_ratio": {"a": 1}},
        {"missing_truth": "sensitivity", "delta": 10**400},
        {"missing_truth": "prevalence", "prevalence": ["@prevalence.csv"]},
    ],
)
def test_settings_file_refuses(settings: dict[str, object]) -> None:
    with pytest.raises(InputError):
        DecisionSpec.from_dict({"truth": "t", "flag": "f", **settings})


def test_hostile_labels_stay_inert(log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = audit_decisions(log, flag="f", truth="t", groups=["g"], reference="plain", min_cell=1)
    assert result.metadata["missing_truth"]["mode"] == "bounds"
    report = tmp_path / "report.html"
    args = ["decisions", "audit", str(log), "--flag", "f", "--truth", "t", "--group", "g", "--min-cell", "1"]
    assert main([*args, "--reference", "plain", "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "\x1b]8" not in out and "\x1b[2J" not in out and "\x07" not in out
    html = report.read_text()
    assert "<script>alert(1)" not in html
    assert "When the truth is known only for some people" in html
    json.dumps(result.metadata["missing_truth"])  # plain data


ENTRIES = corpus()


@pytest.mark.parametrize(
    ("kind", "text"), ENTRIES, ids=[f"{i}-{kind}" for i, (kind, _) in enumerate(ENTRIES)]
)
def test_hostile_strata_expressions_are_refused(kind: str, text: str) -> None:
    """Every hostile expression of tests/security/corpus.py as --strata is refused by the spec check that
    `run_audit` runs before any engine reads the input (check_before_engine)."""
    spec = DecisionSpec(truth="t", flag="f", groups=("g",), missing_truth="mar", strata=(text,))
    with pytest.raises(MisflagError) as refused:
        check_spec(spec, ("g", "f", "t"))
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("kind", ["file function", "statement", "subquery"])
def test_hostile_strata_end_to_end(log: Path, kind: str) -> None:
    """A few entries per class through the whole audit: one line, the canary never read, the target never written."""
    Path(CANARY).parent.mkdir(parents=True, exist_ok=True)
    Path(CANARY).write_text("canary-secret-mt23")
    Path(TARGET).unlink(missing_ok=True)
    for text in [text for entry_kind, text in ENTRIES if entry_kind == kind][:5]:
        with pytest.raises(MisflagError) as refused:
            audit_decisions(
                log, flag="f", truth="t", groups=["g"], missing_truth="mar", strata=[text], min_cell=1
            )
        message = str(refused.value)
        assert "\n" not in message and "canary-secret-mt23" not in message and not Path(TARGET).exists()


HTTP_LOG = b"g,flag,truth\n" + b"".join(  # truth empty (NULL) on every fifth row
    f"{'ab'[i % 2]},{i % 3 == 0:d},{'' if i % 5 == 0 else int(i % 4 == 0)}\n".encode() for i in range(200)
)


@pytest.fixture(scope="module")
def http_client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from fastapi.testclient import TestClient

    from misflag.api import create_app

    app = create_app(data_dir=tmp_path_factory.mktemp("serve"), max_jobs=100)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        reply = client.post("/api/uploads", files={"file": ("log.csv", HTTP_LOG, "text/csv")})
        assert reply.status_code == 201, reply.text
        yield client, reply.json()["upload_id"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"missing_truth": "guess"}, "missing_truth must be one of"),
        ({"missing_truth": "sensitivity", "delta": 2}, "delta must be from 0 to 1"),
        ({"missing_truth": "sensitivity", "delta": "0.1; DROP TABLE x"}, "delta"),
        ({"missing_truth": "mar", "strata": ["read_text('/etc/passwd')"]}, "strata"),
        ({"missing_truth": "prevalence", "prevalence": ["a=2"]}, "prevalence"),
    ],
)
def test_http_refuses_like_the_cli(http_client: Any, fields: dict[str, object], message: str) -> None:
    """The same settings over HTTP (POST /api/audits, fields of DecisionSpec): a 4xx naming the field."""
    client, upload_id = http_client
    body = {"upload_id": upload_id, "truth": "truth", "flag": "flag", "groups": ["g"], **fields}
    reply = client.post("/api/audits", json=body)
    assert 400 <= reply.status_code < 500, reply.text
    assert message in str(reply.json()["detail"]) and "Traceback" not in reply.text


def test_http_audit_reports_ranges(http_client: Any) -> None:
    """A truth NULL on every fifth row, over HTTP: the job's result carries the ranges and the mode."""
    client, upload_id = http_client
    body = {"upload_id": upload_id, "truth": "truth", "flag": "flag", "groups": ["g"], "min_cell": 1}
    reply = client.post("/api/audits", json=body | {"missing_truth": "sensitivity", "delta": 0.1})
    assert reply.status_code == 202, reply.text
    job_id = reply.json()["job_id"]
    for _ in range(600):
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in {"done", "failed"}:
            break
        time.sleep(0.1)
    assert job["state"] == "done", job
    result = client.get(job["result_url"]).json()
    assert result["metadata"]["missing_truth"]["mode"] == "sensitivity"
    assert any(row["metric"] == "fpr_lower" for row in result["rows"]), list(result)


def _prevalence_csv(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


HEADER = "group,rate,low,high\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (HEADER + "plain,0.3,0.2,0.4\n", "must give every group"),  # the hostile group is missing
        ("plain,0.3,0.2,0.4\n", "must start with the header group,rate,low,high"),
        ("", "must start with the header"),
        (HEADER, "has no rows after its header"),
        (HEADER + "plain,0.3,0.2\n", "row 2 has 3 fields, not 4"),
        (HEADER + "plain,0.3,0.2,0.4,x\n", "row 2 has 5 fields"),
        (HEADER + ",0.3,,\n", "row 2 has no group"),
        (HEADER + "plain,0.3,,\nplain,0.2,,\n", "row 3 gives group 'plain' a second time"),
        (HEADER + "plain,nan,,\n", "row 2 needs 0 < low <= rate <= high < 1"),
        (HEADER + "plain,inf,,\n", "row 2 needs 0 < low"),
        (HEADER + "plain,1e999,,\n", "row 2 needs 0 < low"),
        (HEADER + "plain,0,,\n", "row 2 needs 0 < low"),
        (HEADER + "plain,1,,\n", "row 2 needs 0 < low"),
        (HEADER + "plain,0.3,0.4,0.5\n", "row 2 needs 0 < low <= rate"),
        (HEADER + "plain,0.3,0.2,\n", "row 2 gives one of low and high"),
        (HEADER + "plain,abc,,\n", "row 2: rate, low and high must be numbers"),
        (HEADER + "plain,=cmd|' /C calc'!A0,,\n", "must be numbers"),
        (HEADER + 'plain,"0.3\n,,\n', "fields"),  # an unclosed quote swallows the rest
        (b"group,rate,low,high\nplain,0.3,,\n\xff\xfe,0.2,,\n", "is not UTF-8 text"),
        ("x" * (2 << 20), "is larger than 1 MiB"),
    ],
)
def test_prevalence_file_refuses_every_bad_row_in_one_line(
    log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes, message: str
) -> None:
    """`--prevalence @FILE` (a CSV group,rate,low,high): each bad file is one `error:` line naming the row."""
    source = _prevalence_csv(tmp_path, "prevalence.csv", content)
    saved = tmp_path / "out.json"
    args = ["decisions", "audit", str(log), "--flag", "f", "--truth", "t", "--group", "g", "--min-cell", "1"]
    code = main([*args, "--missing-truth", "prevalence", "--prevalence", f"@{source}", "--save", str(saved)])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: --prevalence"), captured.err
    assert message in lines[0] and "Traceback" not in captured.err + captured.out and len(lines[0]) < 400
    assert not saved.exists()


@pytest.mark.parametrize("where", ["missing", "folder", "/dev/zero", "/dev/stdin", "", "~nobody-here/x.csv"])
def test_prevalence_file_path_that_is_not_a_file(
    log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """A missing file, a folder, a device or an empty path: refused before anything is read (no hang)."""
    path = {"missing": str(tmp_path / "nope.csv"), "folder": str(tmp_path)}.get(where, where)
    args = ["decisions", "audit", str(log), "--flag", "f", "--truth", "t", "--group", "g"]
    assert main([*args, "--missing-truth", "prevalence", "--prevalence", f"@{path}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a readable file" in err[0], err


def test_prevalence_file_matches_the_inline_values(
    log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file naming both groups (one with terminal escapes and markup, quoted in the CSV) gives the same
    spec and FPR as inline values: plain's FPR = F (1 - p) / (N (1 - pi)) = 10 x 0.8 / (30 x 0.7) = 8/21."""
    rows = [
        ["group", "rate", "low", "high"],
        ["plain", "0.3", "0.2", "0.4"],
        [HOSTILE_LABEL, " 2.5e-1 ", "", ""],
    ]
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    source = _prevalence_csv(tmp_path, "prevalence.csv", "\ufeff" + text.getvalue())  # a BOM, as Excel writes
    assert expand_prevalence_files(["@" + str(source), "other=0.1"]) == (
        "plain=0.3:0.2-0.4",
        f"{HOSTILE_LABEL}=0.25:0.25-0.25",
        "other=0.1",
    )
    args = ["decisions", "audit", str(log), "--flag", "f", "--truth", "t", "--group", "g", "--min-cell", "1"]
    saved = {}
    for name, given in (("file", [f"@{source}"]), ("inline", ["plain=0.3:0.2-0.4", f"{HOSTILE_LABEL}=0.25"])):
        out = tmp_path / f"{name}.json"
        extra = [word for value in given for word in ("--prevalence", value)]
        assert main([*args, "--missing-truth", "prevalence", *extra, "--save", str(out)]) == 0
        saved[name] = json.loads(out.read_text())
    terminal = capsys.readouterr().out
    assert "\x1b]8" not in terminal and "\x07" not in terminal
    fpr = {
        row["group"]: row["value"]
        for row in saved["file"]["rows"]
        if row["metric"] == "fpr" and row["attribute"] == "g"
    }
    assert fpr["plain"] == pytest.approx(8 / 21)
    assert [r for r in saved["file"]["rows"] if r["metric"] == "fpr"] == [
        r for r in saved["inline"]["rows"] if r["metric"] == "fpr"
    ]
    assert saved["file"]["metadata"]["spec"]["prevalence"] == [
        "plain=0.3:0.2-0.4",
        f"{HOSTILE_LABEL}=0.25:0.25-0.25",
    ]


@pytest.mark.parametrize("value", ["@/etc/passwd", f"@{CANARY}", "@prevalence.csv", "@"])
def test_only_the_command_line_reads_a_prevalence_file(value: str, http_client: Any) -> None:
    """Python, settings files and HTTP take the spec's values and read no path: `@FILE` is refused there in one
    line naming the field, and the canary's content never appears."""
    Path(CANARY).parent.mkdir(parents=True, exist_ok=True)
    Path(CANARY).write_text("group,rate,low,high\ncanary-secret-mt23,0.5,,\n")
    with pytest.raises(InputError, match="only the command line reads one"):
        DecisionSpec.from_dict(
            {"truth": "t", "flag": "f", "missing_truth": "prevalence", "prevalence": [value]}
        )
    client, upload_id = http_client
    body = {"upload_id": upload_id, "truth": "truth", "flag": "flag", "groups": ["g"]}
    reply = client.post("/api/audits", json=body | {"missing_truth": "prevalence", "prevalence": [value]})
    assert 400 <= reply.status_code < 500, reply.text
    assert "prevalence" in str(reply.json()["detail"]) and "canary-secret" not in reply.text
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/", headers={"accept": "text/html"}).text
    )
    assert token
    form = {"csrf_token": token.group(1), "truth": "truth", "flag": "flag", "group": "g"}
    form |= {"missing_truth": "prevalence", "prevalence": value}
    page = client.post(f"/uploads/{upload_id}/audit", data=form, headers={"accept": "text/html"})
    shown = re.search(r'id="error">([^<]*)<', page.text)
    assert page.status_code == 400 and shown and "only the command line reads one" in shown.group(1), (
        page.text[:500]
    )
    assert "canary-secret" not in page.text and "Traceback" not in page.text


def test_prevalence_file_numbers_survive_the_round_trip(tmp_path: Path) -> None:
    """Exponent notation is written out as digits, so GROUP=RATE:LOW-HIGH is not cut at an exponent's minus."""
    source = _prevalence_csv(tmp_path, "small.csv", HEADER + "a=b,1e-5,5E-6,0.00002\n")
    (value,) = expand_prevalence_files([f"@{source}"])
    assert value == "a=b=0.00001:0.000005-0.00002"
    assert parse_prevalence(value) == ("a=b", 1e-5, 5e-6, 2e-5)
