"""`misflag disclosure check OUTPUT...`: the LP audit over saved outputs jointly, before publishing them
(`disclosure/_check.py`); `misflag disclosure release`: the register of what was published."""

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
    show_all: bool = typer.Option(
        False, "--all", help="List every withheld count checked, not only exposed ones."
    ),
    data: Path | None = typer.Option(
        None,
        "--input",
        help="The file the outputs were audited from: their withheld counts are counted again from it, "
        "and only those of 1 to min_cell - 1 people are checked.",
    ),
) -> None:
    """List every withheld count a reader of all OUTPUTS together could pin down, with its interval.

    A count is exposed when its interval is narrower than ceil(min_cell / 2) people, excludes zero and
    does not rule out fewer than min_cell people (docs/disclosure.md); with --input, when it truly holds
    1 to min_cell - 1 people. Exits 3 when any is exposed.
    """
    from misflag._text import printable
    from misflag.disclosure import check_outputs

    found = check_outputs(outputs, min_cell=min_cell, data=data)
    audit = found.audit
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
                f"{'' if interval.exact else 'at least '}{_people(interval.low)} to {_people(interval.high)} "
                f"people{also}"
            ),
            markup=False,
        )
    narrow = f"narrower than {audit.protection:g} people, excluding zero"
    if found.data is None:
        console.print(
            f"{len(audit.intervals)} withheld counts checked across {len(found.outputs)} outputs; "
            f"{len(audit.exposed)} exposed ({narrow}, possibly under {min_cell})",
            markup=False,
        )
    else:
        if found.unknown:
            console.print(
                printable(
                    f"values not known for {', '.join(found.unknown)} (not outputs of {found.data}): "
                    f"each of their withheld counts checked as possibly under {min_cell}"
                ),
                markup=False,
            )
        console.print(
            printable(
                f"{len(audit.intervals)} of {audit.withheld} withheld counts checked across "
                f"{len(found.outputs)} outputs (the others hold 0 or min_cell or more people, counted again "
                f"from {found.data}); {len(audit.exposed)} exposed ({narrow})"
            ),
            markup=False,
        )
    if audit.exposed:
        raise typer.Exit(3)


@app.command()
def release(
    output: Path = typer.Argument(..., help="A saved output (--save bundle) of a file input."),
    register: Path = typer.Option(..., "--register", help="The release register (JSON; created if absent)."),
    name: str | None = typer.Option(None, "--name", help="The release's name (default: the file's stem)."),
    min_cell: int = typer.Option(10, "--min-cell", min=1, help="The --min-cell the output was made with."),
) -> None:
    """Record OUTPUT in the release register, after the LP audit of it jointly with every earlier release
    of the same input; refuse (exit 3, nothing written) when together they expose a withheld count.

    Counts OUTPUT exposes on its own were judged by its own audit, which knew their values (a count of
    10 read as "7 to 11 people"); only what the earlier releases add is judged here. OUTPUT is recorded
    without those values, so later audits take each of its withheld counts as sensitive.
    """
    import json

    from misflag._text import printable
    from misflag.disclosure import ReleaseRegister, audit_outputs
    from misflag.disclosure._load import load_output
    from misflag.errors import InputError

    loaded = load_output(output)  # one clear error for a file that is not an output
    only = f"output {output}: only a --save bundle of a file input carries the input's digest"
    try:
        bundle = json.loads(output.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise InputError(only) from None
    if not isinstance(bundle, dict) or not (bundle["metadata"].get("input") or {}).get("sha256"):
        raise InputError(only)
    label, protection = name or output.stem, max(1.0, math.ceil(min_cell / 2))
    kept = ReleaseRegister(register)
    with kept.protecting() as releases:
        releases.values[loaded.name] = None  # the new output's values are not known: all audited
        earlier = kept.outputs(bundle["metadata"]["input"]["sha256"])
        audit = audit_outputs(
            [loaded, *earlier],
            protection,
            lambda target: releases.value(target.rows),
            sensitive_below=min_cell,
        )
    # what the output shows on its own its own audit judged, knowing the values (a count of 10 read as
    # 7 to 11 people): only what the earlier releases add is judged here
    alone = audit_outputs([loaded], protection, lambda target: float("nan"), sensitive_below=min_cell)
    own = {(row, round(i.low, 6), round(i.high, 6)) for i in alone.exposed for row in i.target.rows}
    exposed = [
        i
        for i in audit.exposed
        if not all((row, round(i.low, 6), round(i.high, 6)) in own for row in i.target.rows)
    ]
    if exposed:
        first = min(exposed, key=lambda i: i.width)
        names = sorted({row[0] for i in exposed for row in i.target.rows if row[0] != loaded.name})
        _, attribute, group, stage, metric, part = first.target.rows[0]
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            printable(
                f"error: {label} would expose {len(exposed)} withheld counts together with "
                f"earlier release(s) {', '.join(repr(n) for n in names) or '(none: on its own)'} (e.g. "
                f"{attribute} = {group}, {stage} {metric} {part}: {first.low:g} to {first.high:g} people); "
                "not recorded"
            ),
            markup=False,
        )
        raise typer.Exit(3)
    kept.record(label, bundle["rows"], bundle["metadata"])
    Console(highlight=False, soft_wrap=True).print(
        printable(f"recorded {label} in {register} ({len(earlier)} earlier releases of the same input)"),
        markup=False,
    )


def _people(count: float) -> str:
    """An interval's end as people: the solver's tolerance (7.6e-13 for an end at 0) is not shown as a
    count, and an end within a millionth of a whole number is that number."""
    nearest = round(count)
    return f"{nearest:d}" if abs(count - nearest) < 1e-6 else f"{count:.6g}"
