"""Files a user names that are not plain files: a FIFO (reading it waits for a writer that never comes),
a device (`/dev/zero` never ends), a file far larger than any misflag writes.

As a release register (`--release-register`, decision audit and monitor), a ledger's signing or writer
key, its public keys or its witness file, each is refused in one line without blocking and without a
`.lock` made beside it; each case runs in a child process with a timeout, so a regression fails here
instead of hanging the suite. `io.read_regular_file` is the one reader behind them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from misflag.io import read_regular_file

LIMIT_S = 60


def _child(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=LIMIT_S, check=False
    )


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "register.json"
    os.mkfifo(path, 0o600)
    return path


@pytest.fixture
def device(tmp_path: Path) -> Path:
    path = tmp_path / "zero.json"
    path.symlink_to("/dev/zero")
    return path


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "log.csv"
    rows = ["g,flag,truth"] + [f"{'ab'[i % 2]},{i % 3 == 0:d},{i % 5 == 0:d}" for i in range(200)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_the_reader_refuses_without_blocking(fifo: Path, device: Path, tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * 2049)
    small = tmp_path / "small"
    small.write_bytes(b"key")
    code = (
        "from misflag.io import read_regular_file\n"
        f"for path in ({str(fifo)!r}, {str(device)!r}, {str(tmp_path)!r}, {str(big)!r}):\n"
        "    try:\n"
        "        read_regular_file(path, 2048)\n"
        "    except OSError as error:\n"
        "        print(error.strerror)\n"
    )
    done = _child(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["not a regular file"] * 3 + ["larger than 2,048 bytes"]
    assert read_regular_file(small, 3) == b"key"


@pytest.mark.parametrize("command", [["decisions", "audit"], ["monitor"]])
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_register_that_is_no_file_is_refused_in_one_line(
    command: list[str], kind: str, request: pytest.FixtureRequest, log_file: Path, tmp_path: Path
) -> None:
    register: Path = request.getfixturevalue(kind)
    options = (
        ["--flag", "flag", "--truth", "truth", "--group", "g"]
        if command[0] == "decisions"
        else ["--time", "ts", "--group", "g", "--reference", "a", "--flag", "flag", "--truth", "truth"]
    )
    if command[0] == "monitor":  # a timestamp column for the monitor
        lines = log_file.read_text().splitlines()
        stamped = [lines[0] + ",ts"] + [
            f"{line},2024-01-{1 + n % 28:02d}" for n, line in enumerate(lines[1:])
        ]
        log_file.write_text("\n".join(stamped) + "\n")
    args = [*command, str(log_file), *options, "--release-register", str(register), "--format", "json"]
    done = _child(f"import sys\nfrom misflag.cli import main\nsys.exit(main({args!r}))")
    err = done.stderr.strip()
    assert done.returncode == 2, (done.returncode, err)
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    assert "not a regular file" in err
    assert not done.stdout
    assert not register.with_name(f"{register.name}.lock").exists()


def test_ledger_keys_that_are_no_file_are_refused(fifo: Path, device: Path) -> None:
    """The signing key, the writer key and a public-key file, each a FIFO (mode 0600, so the permission
    check passes and the read is what is tested) or `/dev/zero` (mode 0666: the keys are refused as
    readable by others first, the public keys as not a regular file): one MisflagError line each."""
    code = (
        "from pathlib import Path\n"
        "from misflag.errors import MisflagError\n"
        "from misflag.ledger._keys import load_or_create, parse_trusted\n"
        "from misflag.ledger._writer import load_or_create_writer_key\n"
        f"for path in ({str(fifo)!r}, {str(device)!r}):\n"
        "    for read in (load_or_create, load_or_create_writer_key, parse_trusted):\n"
        "        try:\n"
        "            read(Path(path) if read is not parse_trusted else path)\n"
        "        except MisflagError as error:\n"
        "            print('regular' if 'not a regular file' in str(error) else 'others' if 'readable by others'"
        " in str(error) else str(error))\n"
    )
    done = _child(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["regular"] * 3 + ["others", "others", "regular"]
