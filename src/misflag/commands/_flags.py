"""Library parameter names → command-line flags, and help screens where flags look like flags.

Library errors name parameters (`{replicates}`, see misflag.errors); the command line prints them as its
flags. A parameter maps to `--` + its name with dashes, unless `FLAGS` says otherwise. Imports nothing
heavy: `cli.main` calls it only when there is an error to print.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from misflag.errors import MisflagError

#: Parameters whose flag is not `--` + the name with dashes (plural parameters, repeatable singular flags).
FLAGS: dict[str, str] = {
    "groups": "--group",
    "stages": "--stage",
    "table_sets": "--table-set",
    "thresholds": "--threshold",
    "metrics": "--metric",
    "list_size": "--list",
    "population_size": "--population",
    "cluster_column": "--truth",
    "source": "SOURCE",
    "expression": "--group",
    "file_format": "--format",
    "trusted_keys": "--public-key",
}


def flag_name(parameter: str) -> str:
    """The flag a library parameter is given with on the command line."""
    return FLAGS.get(parameter, "--" + parameter.replace("_", "-"))


def cli_message(error: MisflagError, command: Any = None) -> str:
    """The error's one line as the command line says it: parameters written as flags.

    With `command` (the click command being run), only placeholders naming one of its parameters become
    flags; any other `{name}` stays as written, since it is most likely the user's own text echoed back
    (a column or group called `{flag}` must not be shown as `--flag`).
    """
    if command is None:
        return error.render(flag_name)
    known = {name for param in command.params for name in (param.name, *param.opts, *param.secondary_opts)}

    def say(name: str) -> str:
        flag = flag_name(name)
        return flag if name in known or flag in known else "{" + name + "}"

    return error.render(say)


def command_of(root: Any, args: Sequence[str]) -> Any:
    """The click command `args` run under the root group `root` (the deepest one its words name)."""
    command = root
    for word in args:
        if not hasattr(command, "get_command"):  # a command, not a group (typer bundles its own click)
            break
        if word.startswith("-"):
            continue  # a group's own flag (`--version`); none of misflag's groups take a value
        found = command.get_command(command.context_class(command), word)
        if found is None:
            break
        command = found
    return command


def plain_flags(command: Any) -> Any:
    """Show boolean options as plain flags in --help (no `<bool>` after them, as if they took a value).

    Walks a click command and its loaded subcommands; `--help` itself included.
    """
    for param in getattr(command, "params", []):
        if getattr(param, "is_flag", False):
            param.metavar = ""
    help_option = command.get_help_option(command.context_class(command))  # click's own Context class
    if help_option is not None:
        help_option.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        plain_flags(sub)
    return command
