"""A workbench switch means what the CLI's flag means: a post without it takes the CLI's default, the page's
unchecked box sends "off", and the job's command line names the switch the CLI needs to do the same.

The linkage audit's `--probabilities/--raw-scores` is the case: on the CLI it defaults to probabilities, so a
pairs file with a score of 3.5 is refused; before, a web post without the field audited raw scores.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from misflag.api import create_app
from misflag.cli import main
from tests.api._service import wait_job

from .conftest import BASE_URL, form_token

RECORDS = "id,cluster,grp\n" + "".join(f"{i},{i // 2},{'AB'[i % 2]}\n" for i in range(8))
#: 3.5 is a raw score, not a probability: the CLI's default refuses it, --raw-scores takes it.
PAIRS = "id_l,id_r,score\n0,1,3.5\n2,3,0.8\n4,6,0.7\n"
SETTINGS = {"id_column": "id", "truth": "cluster", "group": "grp", "threshold": "0.5", "min_cell": "1"}


def _post_file(client: TestClient, path: str, page: str, name: str, text: str) -> str:
    files = {"file": (name, text.encode(), "text/csv")}
    answer = client.post(
        path, data={"csrf_token": form_token(client, page)}, files=files, follow_redirects=False
    )
    assert answer.status_code == 303, re.findall(r'id="error">([^<]*)', answer.text)
    return str(answer.headers["location"])


@pytest.fixture(scope="module")
def linkage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str, str]]:
    """A client, the linkage audit's page of uploaded pairs and the records' upload id."""
    with TestClient(create_app(data_dir=tmp_path_factory.mktemp("switches")), base_url=BASE_URL) as client:
        page = _post_file(client, "/audits/linkage-audit/upload", "/audits/linkage-audit", "pairs.csv", PAIRS)
        both = _post_file(client, page + "/records", page, "records.csv", RECORDS)
        yield client, page, both


def _run(linkage: tuple[TestClient, str, str], **extra: str) -> Any:
    client, page, both = linkage
    form = {"csrf_token": form_token(client, both), "records": both.rsplit("=", 1)[-1], **SETTINGS, **extra}
    return client.post(page + "/run", data=form, follow_redirects=False)


def _cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str]:
    """The CLI's exit code and its stderr, on the same two files."""
    pairs, records = tmp_path / "pairs.csv", tmp_path / "records.csv"
    pairs.write_text(PAIRS)
    records.write_text(RECORDS)
    words = ["linkage", "audit", str(pairs), "--records", str(records), "--id-column", "id"]
    words += [
        "--truth",
        "cluster",
        "--group",
        "grp",
        "--threshold",
        "0.5",
        "--min-cell",
        "1",
        "--format",
        "json",
        *flags,
    ]
    code = main(words)
    return code, capsys.readouterr().err


def test_a_post_without_the_switch_takes_the_clis_default(
    linkage: tuple[TestClient, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI without the flag refuses the score 3.5 as no probability; so does the web without the field."""
    code, said = _cli(tmp_path, capsys)
    assert code == 2 and "outside [0, 1]" in said, said
    answer = _run(linkage)
    assert answer.status_code == 303, re.findall(r'id="error">([^<]*)', answer.text)
    status = wait_job(linkage[0], answer.headers["location"])
    assert status["state"] == "failed" and "outside [0, 1]" in status["error"], status


def test_raw_scores_run_and_their_command_line_says_so(
    linkage: tuple[TestClient, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The value "off" audits raw scores, and the job's command line carries --raw-scores: run by the CLI it succeeds."""
    client = linkage[0]
    answer = _run(linkage, probabilities="off")
    status = wait_job(client, answer.headers["location"])
    assert status["state"] == "done", status
    command = client.get(str(status["result_url"])).json()["metadata"]["command"]
    assert "--raw-scores" in shlex.split(command) and "--probabilities" not in command, command
    assert _cli(tmp_path, capsys, "--raw-scores")[0] == 0


def test_the_pages_unchecked_box_sends_off(linkage: tuple[TestClient, str, str]) -> None:
    """A browser sends every named input in order and nothing for an unchecked box: the page's hidden "off"
    then stands, and a checked box's "on" comes after it (the last value of a name is the one read)."""
    client, _, both = linkage
    html = client.get(both, headers={"accept": "text/html"}).text
    form = html[html.index('id="audit-form"') :]
    inputs = re.findall(r'<input type="(hidden|checkbox)"[^>]*name="probabilities"[^>]*>', form)
    assert inputs == ["hidden", "checkbox"], inputs
    assert re.search(r'type="hidden" name="probabilities" value="off"', form)
    assert re.search(r'type="checkbox"[^>]*name="probabilities" value="on" checked', form)


@pytest.mark.parametrize("value", ["maybe", "2", "\u202eon"])
def test_a_switch_takes_on_or_off_only(linkage: tuple[TestClient, str, str], value: str) -> None:
    answer = _run(linkage, probabilities=value)
    assert answer.status_code == 400
    assert re.findall(r'id="error">([^<]*)', answer.text)[0].startswith("--probabilities must be on or off")
