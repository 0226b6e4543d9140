"""`misflag linkage ...`: false-match risk of matching rules and evaluation of matchers' output."""

from __future__ import annotations

import typer

app = typer.Typer(help="Linkage: false-match risk of a rule, and audits of a matcher's pairs.", no_args_is_help=True)

# linkage audit (issue 4)
from misflag.commands._linkage_audit import audit, run, sample, synth  # noqa: E402

app.command("run")(run)
app.command("sample")(sample)
app.command("audit")(audit)
app.command("synth")(synth)

# linkage risk (issue 3)
from misflag.commands._linkage_risk import risk  # noqa: E402

app.command("risk")(risk)
