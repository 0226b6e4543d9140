"""The `misflag` command line: one app, each subcommand a thin call into an audit folder.

Subcommands are loaded lazily: `misflag --help` and `misflag --version` import no command module (their
help lines are written here), and `misflag NAME ...` imports only NAME's module. Errors a user can fix print
one line and exit 2; Ctrl-C prints `error: interrupted` and exits 130 (the shell's 128 + SIGINT); nothing
prints a traceback.
"""

from __future__ import annotations

import gc
import importlib
import sys
import warnings
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperGroup

from misflag._console import prepare, quiet_sqlglot
from misflag._extras import missing_extra
from misflag.errors import MisflagError


@dataclass(frozen=True)
class Subcommand:
    """Where a subcommand lives: `module:attribute`, a Typer app (a group) or a function (a command)."""

    module: str
    attribute: str
    help: str


#: Every subcommand, in the order `misflag --help` lists them, with its one-line help.
SUBCOMMANDS: dict[str, Subcommand] = {
    "demo": Subcommand("misflag.commands.demo", "demo", "The COMPAS audit and the crosscheck rule's risk, on real data."),
    "decisions": Subcommand("misflag.commands.decisions", "app", "Decision audits: group error rates of flagging pipelines."),
    "linkage": Subcommand("misflag.commands.linkage", "app", "False-match risk of a matching rule; audits of a matcher's pairs."),
    "biometrics": Subcommand("misflag.commands.biometrics", "app", "Biometric matchers: error rates per group from match scores."),
    "monitor": Subcommand("misflag.commands.monitor", "monitor", "Watch a decision log over time: drift of error rates per group."),
    "ledger": Subcommand("misflag.commands.ledger", "app", "Tamper-evident ledger of automated flags and human decisions."),
    "inventory": Subcommand("misflag.commands.inventory", "app", "AI use-case inventories: scorecard, history, consistency check."),
    "datasets": Subcommand("misflag.commands.datasets", "app", "Real public datasets, pinned by version and sha256."),
    "disclosure": Subcommand("misflag.commands.disclosure", "app", "Check saved outputs jointly: could a reader pin down a withheld count?"),
    "report": Subcommand("misflag.commands.report", "report", "Write the HTML (and PDF) report of a saved audit result."),
    "serve": Subcommand("misflag.commands.serve", "serve", "Serve the web page and HTTP API (127.0.0.1 by default)."),
}  # fmt: skip

#: The command line being run, recorded in reports' "how to reproduce" block once a command is loaded.
_invocation: list[tuple[str, ...]] = []


#: Click commands already built, by name: an in-process caller (tests, fuzzers) builds each once.
_built: dict[tuple[str, Subcommand], Any] = {}

#: Set by the console script (`run`), never by an in-process caller: see `_freeze_imports`.
_console_script = False


def _load(name: str, entry: Subcommand) -> Any:
    """Import one subcommand's module and build its click command, named `name` (once per process)."""
    if (name, entry) not in _built:
        _built[name, entry] = _build(name, entry)
        _freeze_imports()
    if _invocation:
        from misflag.commands._output import INVOCATION

        INVOCATION.set(_invocation[-1])
    return _built[name, entry]


def _build(name: str, entry: Subcommand) -> Any:
    """The click command of one subcommand: its module imported, boolean options shown as flags."""
    target = getattr(importlib.import_module(entry.module), entry.attribute)
    if isinstance(target, typer.Typer):  # a group, even with one command (`decisions audit`)
        command: Any = typer.main.get_group(target)
    else:  # a function registered as a command, like `demo`
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    from misflag._cli_values import plain_values  # plain values read without Pydantic
    from misflag.commands._flags import plain_flags  # boolean options shown as flags, not `<bool>`

    plain_flags(command)
    plain_values(command)
    return command


def _freeze_imports() -> None:
    """In the console script, move every object alive once the command's modules are imported (modules,
    classes, functions: they live until the process exits) out of the cyclic garbage collector's reach.

    Collections during the command then scan only its own objects, and the collection at exit skips the
    imports of DuckDB, numpy and typer: about 40 ms of a decision audit's 0.55 s of CPU
    (docs/scale.md). An in-process caller of `main` (tests, fuzzers) keeps the collector as it is: what
    it builds between calls stays collectable.
    """
    if _console_script:
        gc.freeze()
        gc.enable()  # off while the command's modules were imported (`run`)


class Interrupted(Exception):
    """Ctrl-C while a command ran, carried past typer, which turns a KeyboardInterrupt into a silent
    `Exit(130)` before `main` could say so."""


class LazyGroup(TyperGroup):
    """The root group: lists subcommands from SUBCOMMANDS and imports one only when it is run."""

    def invoke(self, ctx: Any) -> Any:
        """As click's, with Ctrl-C raised as `Interrupted` (typer's `_main` catches KeyboardInterrupt)."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted from None

    def list_commands(self, ctx: Any) -> list[str]:
        return list(SUBCOMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in SUBCOMMANDS:
            try:
                self.commands[cmd_name] = _load(cmd_name, SUBCOMMANDS[cmd_name])
            except ModuleNotFoundError as missing:
                if missing.name != SUBCOMMANDS[cmd_name].module:
                    raise
                return None  # a command of a later misflag version: listed, not yet installed
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """As click's, with "Did you mean" over every subcommand (the loaded ones are not all of them)."""
        try:
            return super().resolve_command(ctx, args)
        except typer.core._click.exceptions.UsageError as problem:  # typer's own copy of click
            from misflag.io import close_names

            close = close_names(args[0], SUBCOMMANDS, 1) if args else []
            if close and "Did you mean" not in problem.message:
                problem.message = f"{problem.message.rstrip('.')}. Did you mean {close[0]!r}?"
            raise

    def get_help_option(self, ctx: Any) -> Any:
        """As click's, read without Pydantic (_cli_values), like every subcommand's options."""
        from misflag._cli_values import PlainValues

        option: Any = super().get_help_option(ctx)
        if option is not None and getattr(option, "_runtime_param", False) is None:
            option._runtime_param = PlainValues(option.type_descriptor)
        return option

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The root help's command list, from the static help lines (no module is imported)."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, entry.help) for name, entry in SUBCOMMANDS.items()])


app = typer.Typer(
    name="misflag",
    cls=LazyGroup,
    help="Audit systems that match identities or flag people: who is wrongly flagged, does review catch it, "
    "and is every flag on a tamper-evident record.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _print_version(asked: bool) -> None:
    """Eager --version: answer before any command is required."""
    if asked:
        from misflag import __version__

        typer.echo(f"misflag {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print misflag's version and exit.", is_eager=True, callback=_print_version
    ),
) -> None:
    """Audit systems that match identities or flag people."""


def _error(message: str) -> None:
    """One line on stderr, control characters shown as placeholders (rich is imported only when needed)."""
    from rich.console import Console
    from rich.text import Text

    from misflag._text import printable

    shown = printable(message)
    short = shown if len(shown) <= 1000 else shown[:997] + "..."  # an echoed input can be huge
    Console(stderr=True, highlight=False, soft_wrap=True).print(Text(short))


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and turn every user-fixable problem into one line and exit code 2."""
    _invocation.append(tuple(sys.argv[1:] if argv is None else argv))
    quiet_sqlglot()
    shown_as = warnings.formatwarning
    warnings.formatwarning = _one_line_warning  # printing only: recorded warnings (tests) are unchanged
    try:
        # click returns (not raises) a command's typer.Exit code when standalone_mode is off
        code = app(args=argv, standalone_mode=False)
    except typer.Exit as stop:
        return int(stop.exit_code)
    except typer.Abort:
        _error("error: aborted")
        return 130
    except typer.exceptions.TyperException as problem:
        # usage errors: unknown command, missing option, bad value. A bare command group prints its help,
        # as asked for (rich help is already printed; plain help, the root's, is the message); typer itself
        # recognises that case by the class name too.
        if type(problem).__name__ == "NoArgsIsHelpError":
            if problem.format_message().strip():
                typer.echo(problem.format_message())
            return 0
        _error(f"error: {problem.format_message()}")
        return 2
    except MisflagError as problem:
        from misflag.commands._flags import cli_message, command_of  # library errors name parameters

        command = command_of(typer.main.get_command(app), _invocation[-1])  # say its flags
        _error(f"error: {cli_message(problem, command)}")
        # a person reading: show where the expression stops parsing (scripts get one line)
        if sys.stderr.isatty():
            for line in getattr(problem, "caret_lines", list)():
                _error(line)
        return 2
    except (KeyboardInterrupt, Interrupted):
        _error("error: interrupted")
        return 130
    except Exception as problem:
        missing = missing_extra(problem) if isinstance(problem, ImportError) else None
        if missing is not None:  # an optional dependency (a pip extra) is not installed
            _error(f"error: {missing}")
            return 2
        # a bug in misflag: still one line, with a way to report it
        first = str(problem).splitlines()[0] if str(problem) else ""
        _error(f"internal error ({type(problem).__name__}): {first} — please report this")
        return 1
    finally:
        _invocation.pop()
        warnings.formatwarning = shown_as
    return code if isinstance(code, int) else 0


def _one_line_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int, line: str | None = None
) -> str:
    """A warning as the command line shows it: `warning: TEXT`, one printable line, without Python's
    file name, line number and source line (a LedgerOwnerWarning printed all three)."""
    from misflag._text import printable

    text = " ".join(str(message).split())
    return f"warning: {printable(text if len(text) <= 1000 else text[:997] + '...')}\n"


def run() -> None:
    """Console-script wrapper: exit with main()'s code.

    The collector is off until the command's modules are imported and frozen (`_freeze_imports`): they
    are thousands of objects alive until the exit, which collections during their import only scanned
    again (about 25 collections, 3 ms of a decision audit's CPU). Everything still alive is frozen before
    the exit too: the collection at exit then scans nothing, neither the modules a command imports while
    it runs (a decision audit loads numpy beside its scan) nor its result.
    """
    global _console_script
    _console_script = True
    gc.disable()
    prepare(sys.argv[1:])  # done already where the console script entered through misflag._console
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
