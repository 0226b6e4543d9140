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
