"""The installed `misflag` script enters through `misflag._console.run`: a Ctrl-C while the command line's
modules load ends as one line and exit 130, like a Ctrl-C during a command (it was Python's traceback
from inside typer's import)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

#: Ctrl-C arriving while typer loads, made deterministic: an import hook raises KeyboardInterrupt,
#: which is what Python's SIGINT handler raises at that moment.
INTERRUPTED_IMPORT = """
import sys
class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == "typer":
            raise KeyboardInterrupt
        return None
sys.meta_path.insert(0, CtrlC())
sys.argv = ["misflag", "--help"]
from misflag._console import run
run()
"""


def test_the_installed_script_enters_through_the_console_module() -> None:
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "misflag"]
    assert script.value == "misflag._console:run"


def test_ctrl_c_while_the_command_line_loads_is_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_IMPORT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 130
    assert done.stderr == "error: interrupted\n"


def test_the_script_runs_a_command() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys; sys.argv = ['misflag', '--version']\n"
         "from misflag._console import run; run()"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


def test_python_dash_m_misflag_is_the_console_script() -> None:
    """`python -m misflag` (what benchmarks/decisions.py times) runs the installed script's entry."""
    from misflag import __version__

    done = subprocess.run(
        [sys.executable, "-m", "misflag", "--version"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"misflag {__version__}\n"
