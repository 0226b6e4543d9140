"""The workbench without a browser: forms mirror the CLI, samples match their closed forms, jobs run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from scipy import stats
from typer.testing import CliRunner

from misflag.api import create_app
from misflag.api._samples import (
    BASE_FPR,
    CHANGE_DAY,
    CHANGED_FPR,
    IMPOSTOR_MEANS,
    IMPOSTOR_SD,
    IMPOSTORS_PER_GROUP,
    decision_log,
    verifier_scores,
)
from misflag.api._workbench import AUDITS
from misflag.cli import app as cli_app
from tests.api._service import wait_job

from .conftest import BASE_URL, form_token

HTML = {"accept": "text/html"}
#: The inventories shipped with misflag (copied unchanged, gzip-compressed).
DATA = Path(__file__).resolve().parents[2] / "src/misflag/inventory/data"
CLI = {
    "biometrics": ["biometrics", "audit", "--help"],
    "monitor": ["monitor", "--help"],
    "linkage-risk": ["linkage", "risk", "--help"],
    "linkage-audit": ["linkage", "audit", "--help"],
    "inventory": ["inventory", "scorecard", "--help"],
}


@pytest.mark.parametrize("kind", sorted(CLI))
def test_every_form_field_is_an_option_of_the_cli_with_its_help(kind: str) -> None:
    """The CLI's own --help (read by typer's runner) names every flag the page offers, with the same words."""
    shown = CliRunner().invoke(cli_app, CLI[kind], env={"COLUMNS": "400", "TERMINAL_WIDTH": "400"}).output
    flat = re.sub(r"[\s│]+", " ", shown)
    for field in AUDITS[kind].fields():
        if field.name == "audit":
            continue
        assert field.flag in flat, (kind, field.flag)
        assert " ".join(field.help.split()[:4]) in flat, (kind, field.help)


def test_synthetic_verifier_matches_its_closed_form(tmp_path: Path) -> None:
    table = pq.read_table(verifier_scores(tmp_path / "scores.parquet"))
    for group, mean in IMPOSTOR_MEANS.items():
        impostors = table.filter(pc.and_(pc.equal(table["group"], group), pc.equal(table["genuine"], 0)))
        assert impostors.num_rows == IMPOSTORS_PER_GROUP
        observed = int(pc.sum(pc.greater_equal(impostors["score"], 0.6)).as_py())
        expected = stats.norm.sf((0.6 - mean) / IMPOSTOR_SD)
        low, high = stats.binom.interval(0.9999, IMPOSTORS_PER_GROUP, expected)
        assert low <= observed <= high, (group, observed, expected * IMPOSTORS_PER_GROUP)


def test_synthetic_decision_log_changes_on_its_day(tmp_path: Path) -> None:
    frame = pq.read_table(decision_log(tmp_path / "log.parquet")).to_pandas()
    day = (frame["date"] - frame["date"].min()).map(lambda delta: delta.days)
    innocent_b = frame[(frame["group"] == "B") & (frame["harm"] == 0)]
    after = innocent_b[day[innocent_b.index] >= CHANGE_DAY]["flagged"]
    low, high = stats.binom.interval(0.9999, len(after), CHANGED_FPR)
    assert low <= after.sum() <= high


def test_biometrics_sample_counts_match_a_hand_count(tmp_path: Path) -> None:
    """The sample job's FMR at 0.6 per group is the share of impostor scores >= 0.6 in its own input file."""
    app = create_app(data_dir=tmp_path)
    with TestClient(app, base_url=BASE_URL) as client:
        token = form_token(client, "/audits/biometrics")
        answer = client.post("/audits/biometrics/sample", data={"csrf_token": token}, follow_redirects=False)
        assert answer.status_code == 303
        status = wait_job(client, answer.headers["location"])
        assert status["state"] == "done", status
        job = str(status["job_id"])
        rows = client.get(f"/jobs/{job}/result.json").json()["rows"]
        scores = pq.read_table(app.state.jobs.folder(job) / "sample-scores.parquet").to_pandas()
        for group in IMPOSTOR_MEANS:
            impostors = scores[(scores.group == group) & (scores.genuine == 0)]
            expected = float(np.mean(impostors.score >= 0.6))
            found = [
                r for r in rows if r["group"] == group and r["metric"] == "fmr" and "0.6" in str(r["stage"])
            ]
            assert found and found[0]["value"] == pytest.approx(expected, abs=1e-12), (group, found)
        page = client.get(f"/jobs/{job}", headers=HTML)
        assert page.text.count('class="vl-spec"') >= 1 and "/static/charts/vega.min.js" in page.text
        assert "'unsafe-eval'" in page.headers["content-security-policy"]
        script = client.get("/static/charts/vega-embed.min.js")
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")


def test_settings_form_runs_linkage_risk_and_keeps_what_was_typed(tmp_path: Path) -> None:
    with TestClient(create_app(data_dir=tmp_path), base_url=BASE_URL) as client:
        token = form_token(client, "/audits/linkage-risk")
        form = {"csrf_token": token, "rule": "last-dob", "population": "5000000", "list_size": "20000"}
        answer = client.post("/audits/linkage-risk/run", data=form, follow_redirects=False)
        status = wait_job(client, answer.headers["location"])
        assert status["state"] == "done", status
        bad = dict(form, list_size="lots")
        refused = client.post("/audits/linkage-risk/run", data=bad, headers=HTML)
        assert (
            refused.status_code == 400 and "--list must be a whole number, not &#39;lots&#39;" in refused.text
        )
        assert 'value="lots"' in refused.text


def _post_file(client: TestClient, path: str, page: str, name: str, text: str) -> str:
    token = form_token(client, page)
    files = {"file": (name, text.encode(), "text/csv")}
    answer = client.post(path, data={"csrf_token": token}, files=files, follow_redirects=False)
    assert answer.status_code == 303, re.findall(r'id="error">([^<]*)', answer.text)
    return str(answer.headers["location"])


def test_linkage_audit_of_uploaded_pairs_and_records_matches_a_hand_count(tmp_path: Path) -> None:
    """40 records, 10 true pairs; at p >= 0.5 the matcher finds 8 of them and 6 false pairs:
    precision 8/14, recall 8/10, by hand."""
    records = "id,cluster,grp\n" + "".join(
        f"{i},{i // 2 if i < 20 else i},{'A' if i % 4 < 2 else 'B'}\n" for i in range(40)
    )
    true_pairs = [(2 * k, 2 * k + 1, 0.9 if k < 8 else 0.3) for k in range(10)]
    false_pairs = [(20 + 2 * k, 21 + 2 * k, 0.7) for k in range(6)]
    pairs = "id_l,id_r,score\n" + "".join(f"{a},{b},{s}\n" for a, b, s in true_pairs + false_pairs)
    with TestClient(create_app(data_dir=tmp_path), base_url=BASE_URL) as client:
        page = _post_file(client, "/audits/linkage-audit/upload", "/audits/linkage-audit", "pairs.csv", pairs)
        shown = client.get(page, headers=HTML).text
        assert 'action="' + page + '/records"' in shown and 'id="audit-form"' not in shown
        both = _post_file(client, page + "/records", page, "records.csv", records)
        assert "?records=" in both
        shown = client.get(both, headers=HTML).text
        assert 'id="preview-records"' in shown and 'id="audit-form"' in shown
        records_id = both.rsplit("=", 1)[-1]
        form = {
            "csrf_token": form_token(client, both),
            "records": records_id,
            "id_column": "id",
            "truth": "cluster",
            "group": "grp",
            "threshold": "0.5",
            "probabilities": "on",
            "min_cell": "1",
        }
        answer = client.post(page + "/run", data=form, follow_redirects=False)
        assert answer.status_code == 303, re.findall(r'id="error">([^<]*)', answer.text)
        status = wait_job(client, answer.headers["location"])
        assert status["state"] == "done", status
        rows = client.get(f"/jobs/{status['job_id']}/result.json").json()["rows"]

        def value(metric: str) -> float:
            found = [
                r for r in rows if r["metric"] == metric and r["group"] == "all" and r["stage"] == "p>=0.5"
            ]
            assert found, metric
            return float(found[0]["value"])

        assert (value("tp_count"), value("fp_count"), value("fn_count")) == (8, 6, 2)
        assert value("precision") == pytest.approx(8 / 14) and value("recall") == pytest.approx(8 / 10)
        masked_group = dict(form, csrf_token=form_token(client, both), group="id")
        refused = client.post(page + "/run", data=masked_group, headers=HTML)
        assert refused.status_code == 400 and "its values are masked" in refused.text


@pytest.mark.browser
def test_job_page_offers_the_report_as_pdf(
    tmp_path: Path, chromium_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With Chromium on the machine, the job page links the PDF; it is printed once and then served as is."""
    monkeypatch.setenv("MISFLAG_CHROMIUM", chromium_path)
    with TestClient(create_app(data_dir=tmp_path), base_url=BASE_URL) as client:
        token = form_token(client, "/audits/inventory")
        answer = client.post("/audits/inventory/sample", data={"csrf_token": token}, follow_redirects=False)
        status = wait_job(client, answer.headers["location"])
        assert status["state"] == "done", status
        job = str(status["job_id"])
        assert f'href="/jobs/{job}/report.pdf"' in client.get(f"/jobs/{job}", headers=HTML).text
        first = client.get(f"/jobs/{job}/report.pdf")
        assert first.status_code == 200 and first.content.startswith(b"%PDF-")
        assert first.content.count(b"/Type /Page") - first.content.count(b"/Type /Pages") >= 2
        assert client.get(f"/jobs/{job}/report.pdf").content == first.content  # printed once, then kept
        monkeypatch.setenv("MISFLAG_CHROMIUM", str(tmp_path / "no-such-browser"))
        assert 'report.pdf"' not in client.get(f"/jobs/{job}", headers=HTML).text


def test_decision_form_offers_every_option_the_http_form_carries(tmp_path: Path) -> None:
    """Every DecisionSpec field of the HTTP form is an input of the page, and a generated one reaches the job."""
    from misflag.api._request import SPEC_FIELDS

    rows = "".join(f"{i % 2},{(i // 2) % 2},{'NA' if i % 7 == 0 else 'g' + str(i % 3)}\n" for i in range(300))
    with TestClient(create_app(data_dir=tmp_path), base_url=BASE_URL) as client:
        page = _post_file(client, "/upload", "/", "log.csv", "flagged,harm,grp\n" + rows)
        html = client.get(page, headers=HTML).text
        names = set(re.findall(r'<(?:input|select|textarea)[^>]* name="([a-z_]+)"', html))
        assert set(SPEC_FIELDS) - {"groups"} <= names and {"group", "group_expressions"} <= names
        help_text = re.sub(
            r"[\s│]+",
            " ",
            CliRunner().invoke(cli_app, ["decisions", "audit", "--help"], env={"COLUMNS": "400"}).output,
        )
        for flag in ("--missing-value", "--strict", "--impact-ratio-min-share", "--target-fpr"):
            assert f"<code>{flag}</code>" in html and flag in help_text
        form = {
            "csrf_token": form_token(client, page),
            "flag": "flagged",
            "truth": "harm",
            "group": "grp",
            "replicates": "100",
            "missing_values": "NA",
            "strict": "on",
        }
        answer = client.post(page + "/audit", data=form, follow_redirects=False)
        assert answer.status_code == 303, re.findall(r'id="error">([^<]*)', answer.text)
        status = wait_job(client, answer.headers["location"])
        assert status["state"] == "done", status
        result = client.get(f"/jobs/{status['job_id']}/result.json").json()
        command = result["metadata"]["command"]
        assert "--missing-value NA" in command and "--strict" in command
        assert not [r for r in result["rows"] if r["group"] == "NA"]  # read as missing, not as a group


def test_monitor_sample_raises_the_one_alarm_its_data_holds(tmp_path: Path) -> None:
    """The synthetic log's only change: group B's false positive rate doubles on day 120 (2026-05-01)."""
    import datetime

    with TestClient(create_app(data_dir=tmp_path), base_url=BASE_URL) as client:
        token = form_token(client, "/audits/monitor")
        answer = client.post("/audits/monitor/sample", data={"csrf_token": token}, follow_redirects=False)
        status = wait_job(client, answer.headers["location"])
        assert status["state"] == "done", status
        alarms = client.get(f"/jobs/{status['job_id']}/result.json").json()["metadata"]["alarms"]
    assert [(a["group"], a["metric"], a["side"]) for a in alarms] == [("B", "fpr", "above")]
    change = datetime.date(2026, 1, 1) + datetime.timedelta(days=CHANGE_DAY)
    assert alarms[0]["since"].startswith(change.isoformat())
    assert alarms[0]["value"] == pytest.approx(CHANGED_FPR / BASE_FPR, rel=0.25)


class _HeldPool:
    """Stands in for the job manager's thread pool: a job is queued (active) until the test releases it."""

    def __init__(self) -> None:
        self.held: list[tuple[Any, tuple[Any, ...]]] = []

    def submit(self, function: Any, *args: Any) -> None:
        self.held.append((function, args))

    def shutdown(self, **_: Any) -> None:
        """Nothing runs in the background."""


def test_records_upload_cannot_be_deleted_while_its_linkage_job_runs(tmp_path: Path) -> None:
    """The records file is kept from deletion exactly as the pairs file is: 409 while the job is
    queued or running, 204 once it has finished."""
    records = "id,cluster,grp\n" + "".join(f"{i},{i // 2},{'AB'[i % 2]}\n" for i in range(8))
    pairs = "id_l,id_r,score\n0,1,0.9\n2,3,0.8\n4,6,0.7\n"
    app = create_app(data_dir=tmp_path)
    with TestClient(app, base_url=BASE_URL) as client:
        page = _post_file(client, "/audits/linkage-audit/upload", "/audits/linkage-audit", "pairs.csv", pairs)
        both = _post_file(client, page + "/records", page, "records.csv", records)
        pairs_id, records_id = page.rsplit("/", 1)[-1], both.rsplit("=", 1)[-1]
        pool = _HeldPool()
        app.state.jobs._pool = pool
        form = {
            "csrf_token": form_token(client, both),
            "records": records_id,
            "id_column": "id",
            "truth": "cluster",
            "group": "grp",
            "threshold": "0.5",
            "probabilities": "on",
            "min_cell": "1",
        }
        answer = client.post(page + "/run", data=form, follow_redirects=False)
        assert answer.status_code == 303, re.findall(r'id="error">([^<]*)', answer.text)
        assert (
            client.get(answer.headers["location"].replace("/jobs/", "/api/jobs/")).json()["state"] == "queued"
        )
        for upload in (records_id, pairs_id):
            refused = client.delete(f"/api/uploads/{upload}")
            assert refused.status_code == 409, (upload, refused.text)
            assert client.get(f"/api/uploads/{upload}").status_code == 200
        function, args = pool.held.pop()
        function(*args)  # the job runs to its end here, reading both files
        status = wait_job(client, answer.headers["location"])
        assert status["state"] == "done", status
        for upload in (records_id, pairs_id):
            assert client.delete(f"/api/uploads/{upload}").status_code == 204
            assert client.get(f"/api/uploads/{upload}").status_code == 404


def test_decision_form_is_generated_from_the_spec_with_the_cli_help(tmp_path: Path) -> None:
    """Every input of the decision upload form is a DecisionSpec field of the HTTP form, labelled with the
    flag and the help that `misflag decisions audit --help` prints (read by typer's runner)."""
    from misflag.api._audit_routes import DECISION_FIELDS
    from misflag.api._request import SPEC_FIELDS

    shown = CliRunner().invoke(cli_app, ["decisions", "audit", "--help"], env={"COLUMNS": "400"}).output
    flat = re.sub(r"[\s│]+", " ", shown)
    assert {f.name for f in DECISION_FIELDS} == set(SPEC_FIELDS)
    with TestClient(create_app(data_dir=tmp_path), base_url=BASE_URL) as client:
        page = _post_file(client, "/upload", "/", "log.csv", "flagged,harm,grp\n1,0,a\n0,1,b\n")
        html = client.get(page, headers=HTML).text
    form = html[html.index('id="audit-form"') :]
    labels = dict(re.findall(r'<label for="([a-z_]+)"><code>([^<]+)</code>', form))
    labels |= dict(re.findall(r'<input type="checkbox" id="([a-z_]+)"[^>]*> <code>([^<]+)</code>', form))
    labels["groups"] = labels.pop("group")
    assert set(labels) == set(SPEC_FIELDS)
    for field in DECISION_FIELDS:
        assert labels[field.name] == field.flag and field.flag in flat, field.name
        words = " ".join(field.help.split()[:4])
        assert words in flat, (field.name, field.help)
        assert str(escape(field.help)) in form, field.name  # the page shows the CLI's help, whole


def test_inventory_form_offers_by_bureau_and_refuses_options_the_audit_lacks(tmp_path: Path) -> None:
    """`--by` of `misflag inventory scorecard` is on the page and reaches the job (rows per bureau, counted
    with pandas from the shipped 2025 file); `--year` with history, which reads every year and has no such
    option, is refused rather than ignored, so the page's command line always runs."""
    with TestClient(create_app(data_dir=tmp_path), base_url=BASE_URL) as client:
        html = client.get("/audits/inventory", headers=HTML).text
        assert re.search(r'<select[^>]* name="by"', html) and "<code>--by</code>" in html
        form = {"csrf_token": form_token(client, "/audits/inventory"), "audit": "scorecard", "year": "2025"}
        answer = client.post("/audits/inventory/run", data=dict(form, by="bureau"), follow_redirects=False)
        status = wait_job(client, answer.headers["location"])
        assert status["state"] == "done", status
        rows = client.get(f"/jobs/{status['job_id']}/result.json").json()["rows"]
        shown = {r["group"] for r in rows if r["attribute"] == "bureau" and r["metric"] == "use_cases_count"}
        raw = pd.read_csv(
            DATA / "2025_individually_reported_AI_use_cases.csv.gz", dtype=str, keep_default_na=False
        )
        assert len(shown) == raw.groupby(["agency", "agency_bureau"]).ngroups == 411
        page = client.get(f"/jobs/{status['job_id']}", headers=HTML).text
        assert "--by bureau" in page
        upload = (DATA / "2025_individually_reported_AI_use_cases.csv.gz").read_bytes()
        files = {"files": ("inv2025.csv.gz", upload, "application/gzip")}
        bundle = client.post("/inventory/scorecard?year=2025&by=bureau", files=files).json()
        by_api = {
            r["group"]
            for r in bundle["rows"]
            if r["attribute"] == "bureau" and r["metric"] == "use_cases_count"
        }
        assert by_api == shown
        for audit, extra, message in (
            ("history", {"year": "2025"}, "--year is not an option of misflag inventory history"),
            (
                "history",
                {"by": "bureau", "year": ""},
                "--by is an option of misflag inventory scorecard only",
            ),
            ("check", {"by": "bureau", "year": ""}, "--by is an option of misflag inventory scorecard only"),
        ):
            data = dict(form, csrf_token=form_token(client, "/audits/inventory"), audit=audit, **extra)
            refused = client.post("/audits/inventory/run", data=data, headers=HTML)
            assert refused.status_code == 400 and message in refused.text, (audit, extra)


def test_linkage_audit_form_requires_the_truth_it_cannot_replace_with_labels(tmp_path: Path) -> None:
    """The page has no --labels (a third file): a blank --truth is refused on the form, naming only options
    the page has, instead of a failed job telling the visitor to give a --labels file."""
    with TestClient(create_app(data_dir=tmp_path), base_url=BASE_URL) as client:
        pairs = _post_file(
            client,
            "/audits/linkage-audit/upload",
            "/audits/linkage-audit",
            "pairs.csv",
            "id_l,id_r,score\na,b,0.9\n",
        )
        both = _post_file(client, pairs + "/records", pairs, "records.csv", "id,cluster_id\na,1\nb,1\n")
        records = both.rsplit("records=", 1)[-1]
        html = client.get(both, headers=HTML).text
        assert 'name="labels"' not in html and "On this service: required (there is no --labels" in html
        form = {
            "csrf_token": form_token(client, both),
            "records": records,
            "id_column": "id",
            "threshold": "0.5",
        }
        refused = client.post(pairs + "/run", data=form, headers=HTML)
        assert refused.status_code == 400 and "--truth is required on this service" in refused.text
        assert "--labels: a file" not in refused.text


def test_linkage_sample_pages_and_downloads_hold_no_febrl_identifier(tmp_path: Path) -> None:
    """The FEBRL sample's job page, report and downloads name no record id, name, address, date of birth
    or social security number of the 10,000 records (each value of 6 characters or more, read with pyarrow
    from the dataset itself), while they do carry the audit (a precision row)."""
    from misflag import datasets

    febrl = pq.read_table(datasets.get("febrl4")).to_pandas()
    columns = ["rec_id", "given_name", "surname", "address_1", "address_2", "date_of_birth", "soc_sec_id"]
    secrets = {str(v) for c in columns for v in febrl[c].dropna() if len(str(v)) >= 6}
    with TestClient(create_app(data_dir=tmp_path), base_url=BASE_URL) as client:
        token = form_token(client, "/audits/linkage-audit")
        answer = client.post(
            "/audits/linkage-audit/sample", data={"csrf_token": token}, follow_redirects=False
        )
        status = wait_job(client, answer.headers["location"])
        assert status["state"] == "done", status
        job = str(status["job_id"])
        texts = [
            client.get(f"/jobs/{job}", headers=HTML).text,
            client.get(f"/jobs/{job}/report.html").text,
            client.get(f"/jobs/{job}/result.json").text,
            client.get(f"/jobs/{job}/result.csv").text,
        ]
    assert "precision" in texts[3]
    # words of the vendored chart scripts (colour names such as sienna, lavender) and of the page and
    # report templates (<section>) are code, not data
    source = Path(__file__).resolve().parents[2] / "src/misflag"
    files = [*(source / "report/static").glob("*.js"), *source.glob("*/templates/*.html")]
    code = {w for f in files for w in re.findall(r"[\w-]{6,}", f.read_text(encoding="utf-8"))}
    words = {w for text in texts for w in re.findall(r"[\w-]{6,}", text)} - code
    assert not words & secrets, sorted(words & secrets)[:10]
