"""The `misflag` command line: one app, each subcommand a thin call into an audit folder.

Errors a user can fix print one line and exit 2; nothing prints a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from misflag import __version__
from misflag.commands import datasets, decisions, demo, inventory, ledger, linkage, report, serve
from misflag.commands._output import INVOCATION
from misflag.errors import MisflagError

app = typer.Typer(
    name="misflag",
    help="Audit systems that match identities or flag people: who is wrongly flagged, does review catch it, "
    "and is every flag on a tamper-evident record.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("demo")(demo.demo)
app.add_typer(datasets.app, name="datasets")
app.add_typer(decisions.app, name="decisions")
app.add_typer(linkage.app, name="linkage")
app.add_typer(ledger.app, name="ledger")
app.add_typer(inventory.app, name="inventory")
app.command("report")(report.report)
app.command("serve")(serve.serve)


def _print_version(asked: bool) -> None:
    """Eager --version: answer before any command is required."""
    if asked:
        typer.echo(f"misflag {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print misflag's version and exit.", is_eager=True, callback=_print_version
    ),
) -> None:
    """Audit systems that match identities or flag people."""


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and turn every user-fixable problem into one line and exit code 2."""
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    INVOCATION.set(tuple(sys.argv[1:] if argv is None else argv))
    try:
        app(args=argv, standalone_mode=False)
    except typer.Exit as stop:
        return int(stop.exit_code)
    except typer.Abort:
        errors.print("error: aborted")
        return 130
    except typer.exceptions.TyperException as problem:
        # usage errors: unknown command, missing option, bad value. A bare command group has already
        # printed its help, as asked for; typer itself recognises that case by the class name too.
        if type(problem).__name__ == "NoArgsIsHelpError":
            return 0
        errors.print(f"error: {problem.format_message()}", markup=False)
        return 2
    except MisflagError as problem:
        errors.print(f"error: {problem}", markup=False)
        return 2
    except KeyboardInterrupt:
        errors.print("error: interrupted")
        return 130
    except Exception as problem:  # a bug in misflag: still one line, with a way to report it
        first = str(problem).splitlines()[0] if str(problem) else ""
        errors.print(f"internal error ({type(problem).__name__}): {first} — please report this", markup=False)
        return 1
    return 0


def run() -> None:
    """Console-script wrapper: exit with main()'s code."""
    sys.exit(main())


if __name__ == "__main__":
    run()
