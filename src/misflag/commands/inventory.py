"""`misflag inventory ...`: federal AI use-case inventories, normalized, linked across years and checked."""

from __future__ import annotations

import typer

app = typer.Typer(help="AI use-case inventories: scorecard, history across years, consistency check.", no_args_is_help=True)
