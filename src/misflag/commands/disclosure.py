"""`misflag disclosure check OUTPUT...`: the LP audit over saved outputs jointly, before publishing them."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(help="What may be published: the audit by linear programming of withheld counts.")


@app.command()
def check(
    outputs: list[Path] = typer.Argument(..., help="Saved outputs (--save bundles, --format json or csv)."),
    min_cell: int = typer.Option(10, "--min-cell", min=1, help="The --min-cell the outputs were made with."),
    show_all: bool = typer.Option(False, "--all", help="List every withheld count, not only exposed ones."),
) -> None:
    """List every withheld count a reader of all OUTPUTS together could pin down, with its interval.

    A count is exposed when its interval is narrower than ceil(min_cell / 2) people, excludes zero and
    does not rule out fewer than min_cell people (docs/disclosure.md). Exits 3 when any is exposed.
    """
    from misflag._text import printable
    from misflag.disclosure import audit_outputs
    from misflag.disclosure._load import load_output

    loaded = [load_output(path) for path in outputs]
    protection = max(1.0, math.ceil(min_cell / 2))
    audit = audit_outputs(loaded, protection, sensitive_below=min_cell)
    exposed = {id(interval) for interval in audit.exposed}
    console = Console(highlight=False, soft_wrap=True)
    shown = audit.intervals if show_all else audit.exposed
    for interval in sorted(shown, key=lambda i: (i.width, str(i.target.rows[0]))):
        name, attribute, group, stage, metric, part = interval.target.rows[0]
        also = f" (+{len(interval.target.rows) - 1} rows)" if len(interval.target.rows) > 1 else ""
        flag = "EXPOSED " if id(interval) in exposed else ""
        console.print(
            printable(
                f"{flag}{name}: {attribute} = {group}, {stage} {metric} {part}: "
                f"{'' if interval.exact else 'at least '}{interval.low:g} to {interval.high:g} people{also}"
            ),
            markup=False,
        )
    console.print(
        f"{len(audit.intervals)} withheld counts checked across {len(loaded)} outputs; "
        f"{len(audit.exposed)} exposed (narrower than {protection:g} people, excluding zero, possibly under {min_cell})",
        markup=False,
    )
    if audit.exposed:
        raise typer.Exit(3)
