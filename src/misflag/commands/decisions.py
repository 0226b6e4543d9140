"""`misflag decisions audit FILE`: who a flagging pipeline wrongly flags, per group, with intervals."""

from __future__ import annotations

import typer

app = typer.Typer(help="Decision audits: group error rates of flagging pipelines.", no_args_is_help=True)
