"""Upload and job ids reach a path only as 32 lowercase hex characters, matched whole: an id with a
trailing newline (which a `$`-anchored pattern lets through) or anything else is no upload and no job."""

from __future__ import annotations

from pathlib import Path

import pytest

from misflag.api._jobs import JobManager
from misflag.api._settings import ServeSettings
from misflag.api._uploads import upload_folder

GOOD = "0123456789abcdef" * 2


@pytest.mark.parametrize("suffix", ["\n", "\r", " ", "\x00", "/..", "0"])
def test_an_id_with_anything_after_it_is_refused(suffix: str, tmp_path: Path) -> None:
    settings = ServeSettings(data_dir=tmp_path, ledger_db=str(tmp_path / "ledger.db"))
    jobs = JobManager(settings)
    assert upload_folder(settings, GOOD).name == GOOD  # the control: the id alone is accepted
    assert jobs.folder(GOOD).name == GOOD
    with pytest.raises(KeyError):
        upload_folder(settings, GOOD + suffix)
    with pytest.raises(KeyError):
        jobs.folder(GOOD + suffix)


@pytest.mark.parametrize(
    ("pattern", "valid"),
    [
        ("misflag.ledger._event_rules:GROUP_NAME", "race"),  # written into SQL by the ledger's export
        ("misflag.ledger._event_rules:CASE_ID", "case-17"),
        ("misflag.ledger._store:ROLE_NAME", "misflag_writer"),  # a role name in GRANT statements
        ("misflag.api._guard:_COOKIE_VALUE", "a" * 43),
        ("misflag.api._guard:_UPLOAD_ROUTES", "/api/uploads"),
        ("misflag.api._guard:_OPEN_ROUTES", "/login"),
    ],
)
def test_every_anchored_name_pattern_refuses_a_trailing_newline(pattern: str, valid: str) -> None:
    """`$` matches before a final newline; these patterns guard names that reach SQL or decide access, so
    they end in `\\Z` (or are used with fullmatch)."""
    module, name = pattern.split(":")
    compiled = getattr(__import__(module, fromlist=[name]), name)
    assert compiled.match(valid)  # the control
    assert compiled.match(valid + "\n") is None
