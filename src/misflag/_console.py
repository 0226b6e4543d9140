"""The `misflag` console script's entry: a Ctrl-C while the command line's modules load (typer, rich,
DuckDB: the first ~0.1 s) ends as `error: interrupted`, exit 130, as one during a command does, rather
than Python's traceback from inside an import. Nothing here imports more than `sys`."""

from __future__ import annotations

import sys


def run() -> None:
    """Import the command line, then run it (`misflag.cli.run` handles Ctrl-C from there on)."""
    try:
        from misflag.cli import run as run_command_line
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
    run_command_line()
