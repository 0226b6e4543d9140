"""`misflag ledger ...`: the tamper-evident record of automated flags and human decisions."""

from __future__ import annotations

import typer

app = typer.Typer(help="Decision ledger: tamper-evident record of flags, reviews, notices and appeals.", no_args_is_help=True)
