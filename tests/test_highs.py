"""`misflag._highs.silent_stdout`: HiGHS's banner, printed by its C++ constructor straight to file
descriptor 1, and any other C-level or Python write in the block never reach a command's standard output.

Each case runs in a child process whose standard output is a pipe (as when a user pipes a table
elsewhere), read back whole; the control without the block shows the banner is really printed there.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

CHILD = """
import ctypes, sys
import highspy
from misflag._highs import silent_stdout
print("before", flush=True)
{body}
print("after")
"""


def stdout_of(body: str) -> str:
    """What a child process running `body` between two Python prints writes to its standard output."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(body=body)], capture_output=True, text=True, check=True
    )
    return done.stdout


def test_the_highs_banner_is_printed_without_the_block() -> None:
    assert "HiGHS" in stdout_of("highs = highspy.Highs()")


@pytest.mark.parametrize(
    "body",
    [
        "with silent_stdout():\n    highs = highspy.Highs()",
        # the C library's own stdout, as HiGHS's C code writes it
        "with silent_stdout():\n    ctypes.CDLL(None).printf(b'from C\\n')",
        "with silent_stdout():\n    print('from Python')",
    ],
)
def test_nothing_written_in_the_block_reaches_standard_output(body: str) -> None:
    assert stdout_of(body) == "before\nafter\n"


def test_standard_output_is_given_back_after_an_error_in_the_block() -> None:
    body = "try:\n    with silent_stdout():\n        raise ValueError\nexcept ValueError:\n    pass"
    assert stdout_of(body) == "before\nafter\n"
