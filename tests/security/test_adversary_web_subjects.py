"""The adversary of docs/security.md's "No raw identifier on a page" on the biometric and monitor
workbenches, whose `--subject-a/--subject-b` (and `--reviewer-pool`) may read masked (identifier-looking)
columns because "their values are never shown" (docs/web.md).

The upload: comparisons between a probe and a gallery person, both named (`probe_name`, `gallery_name`:
masked by their names), four of them also named in `tag` (a column nothing masks: the control). What
holds: the names are never on the upload's page; `--group probe_name` and a `--where` reading it are
refused in one line naming the column; a job clustered by the bare name columns publishes no name in its
page, report, JSON or CSV. The control: a job grouped by `tag` shows the same four names there, so the
scanner reading those outputs can fail.

The oracle (reproducers /tmp/p9/R_web_subject_oracle.py, R_web_reviewer_pool_oracle.py): while any
allowlisted expression of a masked column was accepted as a subject id, the job's outcome counted its
values and so answered a question about a masked value. With genuine pairs on subject 'x' on both
sides, `--subject-a "CASE WHEN genuine = 1 OR probe_name = 'Jane Roe' THEN 'x' ELSE score::VARCHAR END"
--subject-b "'x'"` failed with "1 impostor pair(s) have the same subject on both sides" and the same
with 'Nobody Here' succeeded; bisection on `substr(...)` read a whole name back in 56 jobs. The
monitor's `--reviewer-pool` answered by the number of pools a job published. Both were strict xfails
until 9d37b77 made an id field reading a masked column take it bare; the two questions are now refused
alike (or answered alike), which these tests check.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from misflag.api import create_app
from tests.api._service import wait_job
from tests.api.conftest import BASE_URL, form_token

HTML = {"accept": "text/html"}
NAMES = ("John Doe", "Jane Roe", "Ann Lee", "Bo Chan")


def _scores() -> bytes:
    """400 comparisons in groups A and B: every fourth a genuine pair (same person on both sides, score
    2), the others impostor pairs (score 0); people 0-3 carry NAMES, the rest 'Person i Smith', and `tag` holds NAMES by blocks of four rows."""
    rows = []
    for i in range(400):
        genuine = i % 4 == 0
        probe = NAMES[i] if i < len(NAMES) else f"Person {i} Smith"
        gallery = probe if genuine else f"Person {i + 1000} Jones"
        tag = NAMES[(i // 4) % len(NAMES)]
        rows.append(
            (2.0 if genuine else float(i % 3) / 3, int(genuine), "AB"[(i // 4) % 2], probe, gallery, tag)
        )
    frame = pd.DataFrame(rows, columns=["score", "genuine", "grp", "probe_name", "gallery_name", "tag"])
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def _uploaded(client: TestClient, audit: str, data: bytes) -> str:
    """The page of `data` uploaded as CSV to the workbench's `audit` page."""
    token = form_token(client, f"/audits/{audit}")
    files = {"file": ("upload.csv", data, "text/csv")}
    answer = client.post(
        f"/audits/{audit}/upload", data={"csrf_token": token}, files=files, follow_redirects=False
    )
    assert answer.status_code == 303, re.findall(r'id="error">([^<]*)', answer.text)
    return str(answer.headers["location"])


@pytest.fixture(scope="module")
def upload(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    """(client, the upload's page) of a service holding the scores."""
    with TestClient(create_app(data_dir=tmp_path_factory.mktemp("serve")), base_url=BASE_URL) as client:
        yield client, _uploaded(client, "biometrics", _scores())


def _post(client: TestClient, page: str, **fields: str) -> Any:
    form = {"score": "score", "genuine": "genuine", "group": "grp", "threshold": "1.0", "min_cell": "1"}
    data = {"csrf_token": form_token(client, page), **form, **fields}
    return client.post(page + "/run", data=data, headers=HTML, follow_redirects=False)


def _job(client: TestClient, page: str, **fields: str) -> dict[str, Any]:
    answer = _post(client, page, **fields)
    assert answer.status_code == 303, re.findall(r'id="error">([^<]*)', answer.text)
    return dict(wait_job(client, answer.headers["location"]))


def _names_shown(client: TestClient, job: dict[str, Any]) -> set[str]:
    """The names found in the job's page, report, JSON and CSV (or in its error)."""
    texts = [str(job.get("error"))]
    if job["state"] == "done":
        base = f"/jobs/{job['job_id']}"
        texts += [client.get(url, headers=HTML).text for url in (base, base + "/report.html")]
        texts += [client.get(base + suffix).text for suffix in ("/result.json", "/result.csv")]
    return {name for name in (*NAMES, "Smith", "Jones") if any(name in text for text in texts)}


def test_the_page_and_direct_reads_keep_the_names(upload: tuple[TestClient, str]) -> None:
    client, page = upload
    shown = client.get(page, headers=HTML).text
    assert "John Doe" in shown and "Smith" not in shown and "Jones" not in shown  # tag shown, names masked
    for field, value in (("group", "probe_name"), ("where", "length(probe_name) > 3")):
        refused = _post(client, page, **{field: value})
        errors = re.findall(r'id="error">([^<]*)', refused.text)
        assert refused.status_code == 400 and len(errors) == 1 and "probe_name" in errors[0], errors
        assert "its values are masked" in errors[0] and "Smith" not in refused.text


def test_subjects_by_the_bare_name_columns_show_no_name(upload: tuple[TestClient, str]) -> None:
    client, page = upload
    job = _job(client, page, subject_a="probe_name", subject_b="gallery_name")
    assert job["state"] == "done", job
    assert _names_shown(client, job) == set()


def test_the_control_an_unmasked_column_of_the_names_shows_them(upload: tuple[TestClient, str]) -> None:
    client, page = upload
    job = _job(client, page, group="tag")
    assert job["state"] == "done", job
    assert _names_shown(client, job) == set(NAMES)


def test_a_question_about_a_masked_value_gets_no_answer(upload: tuple[TestClient, str]) -> None:
    """Refused before a job, or answered the same whichever the masked value: never told apart."""
    client, page = upload
    outcomes = []
    for name in ("Jane Roe", "Nobody Here"):  # Jane Roe probes one impostor pair
        probe = f"CASE WHEN genuine = 1 OR probe_name = '{name}' THEN 'x' ELSE score::VARCHAR END"
        answer = _post(client, page, subject_a=probe, subject_b="'x'")
        if answer.status_code == 303:
            job = wait_job(client, answer.headers["location"])
            outcomes.append((job["state"], job.get("error")))
        else:
            outcomes.append((answer.status_code, re.findall(r'id="error">([^<]*)', answer.text)))
    assert outcomes[0] == outcomes[1] or all(outcome[0] == 400 for outcome in outcomes), outcomes


def _review_log() -> bytes:
    """A monitor log of 2,400 decisions over 60 days (algorithm and review stages); one reviewer in 50 is
    Jane Roe, the others 'Person i Smith' (`reviewer_name`: masked by its name)."""
    i = np.arange(2_400)
    frame = pd.DataFrame(
        {
            "day": pd.Timestamp("2026-01-01") + pd.to_timedelta(i % 60, unit="D"),
            "grp": np.where(i % 2 == 0, "A", "B"),
            "algo": (i % 3 == 0).astype(int),
            "review": (i % 6 == 0).astype(int),
            "harm": (i % 5 == 0).astype(int),
            "reviewer_name": [NAMES[1] if k % 50 == 0 else f"Person {k % 40} Smith" for k in i],
        }
    )
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def test_a_reviewer_pool_question_about_a_masked_name_gets_no_answer(upload: tuple[TestClient, str]) -> None:
    """The monitor's pools are published as "pool 1", "pool 2": their number must not tell whether a
    masked reviewer is named Jane Roe (before 9d37b77: two pools for Jane Roe, one for Nobody Here)."""
    client, _ = upload
    page = _uploaded(client, "monitor", _review_log())
    answers = []
    for name in (NAMES[1], "Nobody Here"):
        form = {"time": "day", "group": "grp", "reference": "A", "truth": "harm", "period": "month"}
        form |= {
            "stage": "algorithm=algo\nreview=review",
            "min_cell": "1",
            "csrf_token": form_token(client, page),
        }
        form["reviewer_pool"] = f"CASE WHEN reviewer_name = '{name}' THEN 'a' ELSE 'b' END"
        answer = client.post(page + "/run", data=form, headers=HTML, follow_redirects=False)
        if answer.status_code != 303:
            answers.append((answer.status_code, "refused"))
            continue
        job = wait_job(client, answer.headers["location"])
        shown = client.get(f"/jobs/{job['job_id']}/result.json").text if job["state"] == "done" else ""
        answers.append((job["state"], " ".join(sorted(set(re.findall(r"pool \d+", shown))))))
    assert answers[0] == answers[1], answers
