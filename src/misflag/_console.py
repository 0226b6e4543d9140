"""The `misflag` console script's entry, and what only the console script does before its command line loads.

A Ctrl-C while the command line's modules load (typer, rich, DuckDB: the first ~0.1 s) ends as `error:
interrupted`, exit 130, as one during a command does, rather than Python's traceback from inside an import.

For a scan command (`decisions audit`, `biometrics audit`, `monitor`), `prepare` runs before typer is
imported: numpy's OpenBLAS on one thread and DuckDB's database started on another thread. Nothing here
imports more than what Python's start-up has already loaded until `prepare` knows the command is one of
these.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence

#: Subcommands whose work is DuckDB's scan, with numpy only over its small count table: in the console
#: script they load numpy with one OpenBLAS thread and, when what is run reads data (`reads_data`),
#: start DuckDB's database before their modules import. Each maps to the command of its group that
#: reads data (None: the subcommand is itself that command).
SCAN_COMMANDS: dict[str, str | None] = {"decisions": "audit", "biometrics": "audit", "monitor": None}

#: Whether `prepare` has run in this process (the console script, or `cli.run` called on its own).
_prepared: list[bool] = []


def run() -> None:
    """Prepare a scan command, import the command line, then run it (`misflag.cli.run` handles Ctrl-C
    from there on)."""
    gc.disable()  # on again once the command's modules are imported and frozen (cli.run)
    try:
        prepare(sys.argv[1:])
        from misflag.cli import run as run_command_line
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
    run_command_line()


def prepare(argv: Sequence[str]) -> None:
    """Before the command line loads, for a scan command in `argv` (once per process, console script only):

    - numpy's OpenBLAS on one thread unless the user chose: numpy starts OpenBLAS's thread pool when it
      is imported, which these commands do while DuckDB scans on every core, and the pool's threads then
      spin beside the scan (about 40 ms of CPU on a 2-core machine) for products over a few thousand
      cells that one thread does as fast. Set before numpy is imported (it is read then);
    - where it reads data, DuckDB's in-memory database (10-20 ms) started on another thread while typer
      and the command's modules import (`engine.duckdb.connect_ahead`): the command's engine takes it.
    """
    if _prepared or not argv or argv[0] not in SCAN_COMMANDS:
        return
    _prepared.append(True)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if not reads_data(argv[0], tuple(argv)):
        return
    from misflag.engine.duckdb import connect_ahead

    connect_ahead()


def reads_data(name: str, argv: tuple[str, ...]) -> bool:
    """Whether the command line `argv` runs scan command `name`'s data-reading command (`decisions
    audit`, `biometrics audit`, `monitor`), not its help or another command of its group (`biometrics
    plan` reads no data). Read from the words as typed, before typer parses them: a wrong guess (an
    option's value spelled `--help`) only starts a database that is not used, or does not start one."""
    rest = argv[argv.index(name) + 1 :] if name in argv else ()
    command = SCAN_COMMANDS[name]
    if command is not None and rest[:1] != (command,):
        return False
    return "--help" not in rest


def quiet_sqlglot() -> None:
    """sqlglot logs multi-line parser diagnostics ("contains unsupported syntax...") through Python's
    last-resort handler; misflag reports the same problems as its own one-line errors."""
    import logging

    logging.getLogger("sqlglot").setLevel(logging.CRITICAL)
