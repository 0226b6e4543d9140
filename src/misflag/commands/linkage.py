"""`misflag linkage ...`: false-match risk of matching rules and evaluation of matchers' output."""

from __future__ import annotations

import typer

from misflag.commands._linkage_audit import audit, run, sample, synth
from misflag.commands._linkage_risk import risk

app = typer.Typer(
    help="Linkage: false-match risk of a rule, and audits of a matcher's pairs.", no_args_is_help=True
)
app.command("risk")(risk)
app.command("run")(run)
app.command("sample")(sample)
app.command("audit")(audit)
app.command("synth")(synth)
