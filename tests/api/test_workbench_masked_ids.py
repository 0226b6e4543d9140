"""The id fields that may read masked columns (biometric subjects, the monitor's reviewer pool) read them
only as bare columns, and then every id field is a bare column: an expression or a constant beside a masked
id would make a job's outcome answer a question about a masked value (tests/security/
test_adversary_web_subjects.py plays that attack through the web form). Columns nothing masks keep every
allowlisted expression."""

from __future__ import annotations

import pytest

from misflag.api._workbench import AUDITS
from misflag.api._workbench_columns import check_columns
from misflag.errors import InputError

COLUMNS = ["score", "genuine", "probe_name", "gallery_name", "tag"]
MASKED = {"probe_name": "its name", "gallery_name": "its name"}
BASE = {"score": "score", "genuine": "genuine"}


@pytest.mark.parametrize(
    ("subject_a", "subject_b"),
    [
        ("probe_name", "gallery_name"),  # the masked columns as they are
        ("lower(tag)", "'x'"),  # nothing masked read: any expression
        ("tag", "probe_name"),
    ],
)
def test_accepted(subject_a: str, subject_b: str) -> None:
    check_columns(
        AUDITS["biometrics"], BASE | {"subject_a": subject_a, "subject_b": subject_b}, COLUMNS, MASKED
    )


@pytest.mark.parametrize(
    ("subject_a", "subject_b", "named"),
    [
        ("CASE WHEN probe_name = 'Jane Roe' THEN 'x' ELSE tag END", "'x'", "--subject-a, --subject-b"),
        ("probe_name", "'Jane Roe'", "--subject-b"),  # a constant beside a masked id
        ("substr(probe_name, 1, 1)", "gallery_name", "--subject-a"),
        ("probe_name", "lower(tag)", "--subject-b"),
    ],
)
def test_refused(subject_a: str, subject_b: str, named: str) -> None:
    values = BASE | {"subject_a": subject_a, "subject_b": subject_b}
    with pytest.raises(InputError, match=f"^{named} must name a column as it is") as caught:
        check_columns(AUDITS["biometrics"], values, COLUMNS, MASKED)
    assert "Jane" not in str(caught.value) and "\n" not in str(caught.value)


def test_the_reviewer_pool_reads_a_masked_column_only_as_it_is() -> None:
    values = {"time": "day", "flag": "algo", "truth": "harm", "group": "grp"}
    columns = ["day", "algo", "harm", "grp", "reviewer_name"]
    masked = {"reviewer_name": "its name"}
    check_columns(AUDITS["monitor"], values | {"reviewer_pool": "reviewer_name"}, columns, masked)
    with pytest.raises(InputError, match=r"^--reviewer-pool must name a column as it is"):
        pool = "CASE WHEN reviewer_name = 'Jane Roe' THEN 'a' ELSE 'b' END"
        check_columns(AUDITS["monitor"], values | {"reviewer_pool": pool}, columns, masked)
