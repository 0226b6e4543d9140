"""A warning on the command line is one `warning: ...` line: no Python file name, line number or source
line, and its text printable (a ledger URL or a data value in it is text, not terminal control)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from misflag.cli import main
from misflag.ledger import Ledger

#: A command run as the console script runs it, with `datasets.data_dir` warning once: a real command path
#: that prints its table after the warning (pytest's own warning capture is not in the way).
WARNING_COMMAND = """
import sys, warnings
from misflag import datasets, cli
real = datasets.data_dir
def warning_data_dir():
    warnings.warn("first line\\nsecond \\x1b[31mline", UserWarning, stacklevel=2)
    return real()
datasets.data_dir = warning_data_dir
shown_before = warnings.formatwarning
warnings.warn_explicit("outside a command", UserWarning, "x.py", 1)
code = cli.main(["datasets", "list"])
assert warnings.formatwarning is shown_before
sys.exit(code)
"""


def test_a_warning_is_one_printable_line() -> None:
    """A warning raised while a command runs prints as one line with its control characters shown; one
    raised outside a command keeps Python's own format (the formatter is given back)."""
    done = subprocess.run(
        [sys.executable, "-c", WARNING_COMMAND], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "x.py:1: UserWarning: outside a command" in done.stderr
    inside = [line for line in done.stderr.splitlines() if "line" in line]
    assert inside == ["warning: first line second ␛[31mline"], done.stderr
    assert "\x1b" not in done.stderr


def test_the_formatter_leaves_recorded_warnings_alone() -> None:
    """Tests (and any caller) recording warnings get the warning object, not the command line's text."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert main(["datasets", "list"]) == 0
        warnings.warn("recorded", UserWarning, stacklevel=1)
    assert [str(w.message) for w in seen if str(w.message) == "recorded"] == ["recorded"]


@pytest.fixture
def owned_ledger(postgres_url: str, tmp_path: Path) -> Iterator[str]:
    """A PostgreSQL ledger in a schema of its own, opened by the test role, which owns its tables."""
    schema = f"warn_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    os.environ["MISFLAG_LEDGER_KEY"] = str(tmp_path / "signing-key.pem")
    url = f"{postgres_url}?options=-csearch_path%3D{schema}"
    store = Ledger.open(url, owner="allow")
    store.checkpoint()
    store.close()
    try:
        yield url
    finally:
        os.environ.pop("MISFLAG_LEDGER_KEY", None)
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()


@pytest.mark.postgresql
def test_the_ledger_owner_warning_is_one_line(owned_ledger: str, tmp_path: Path) -> None:
    """Connecting as the owner of the ledger's tables warns; the console shows that as one line (it printed
    the module's path, line number, `LedgerOwnerWarning` and the source line of `warnings.warn`)."""
    log = tmp_path / "log.parquet"
    pq.write_table(
        pa.table({"g": ["a", "b"] * 20, "flag": [0, 1, 1, 0] * 10, "truth": [0, 1, 0, 1] * 10}), log
    )
    env = {**os.environ, "MISFLAG_LEDGER_KEY": str(tmp_path / "signing-key.pem")}
    env.pop("MISFLAG_LEDGER_ALLOW_OWNER", None)
    done = subprocess.run(
        [sys.executable, "-m", "misflag.cli", "decisions", "audit", str(log), "--flag", "flag",
         "--truth", "truth", "--group", "g", "--ledger", owned_ledger, "--format", "json"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if "owner of its tables" in line]
    assert len(warned) == 1 and warned[0].startswith("warning: connected to the ledger at "), done.stderr
    assert "LedgerOwnerWarning" not in done.stderr and ".py:" not in done.stderr
    assert "warnings.warn" not in done.stderr
