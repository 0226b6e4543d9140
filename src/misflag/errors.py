"""Typed errors. Every problem a user can fix is a MisflagError: the CLI prints its one line and exits 2.

A message names the parameter at fault as a placeholder, `{replicates}`: a Python caller reads
`replicates must be …`, and the command line, which knows its own flags, reads `--replicates must be …`
(`MisflagError.render`). Only a bare identifier in braces is a placeholder, so JSON examples such as
`{"white": 0.6}` stay as they are. User text echoed in a message goes through `literal`, so a column
or group called `{flag}` is shown as written, never as a parameter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from misflag._text import shown_path

_PLACEHOLDER = re.compile(r"(\{?)\{([a-z][a-z0-9_]*)\}")  # `{{name}` is `literal`'s escape of `{name}`


def literal(text: str) -> str:
    """User text to echo in a message: any `{name}` in it stays as written instead of naming a parameter."""
    return re.sub(r"\{(?=[a-z][a-z0-9_]*\})", "{{", text)


def named_path(path: str | Path) -> str:
    """A user's file path as a message names it: repr-quoted and printable (an escape code in it cannot
    drive the terminal), its first `PATH_SHOWN` characters and its length past them (a 5,000-character
    path cannot fill it), a `{name}` in it kept as written."""
    return literal(shown_path(path))


class MisflagError(Exception):
    """A problem with the user's input, settings or environment, explained in one line.

    `parameters` are the names of the parameters the message is about, in order (from its placeholders,
    or `parameter=` when the message does not name it); `parameter` is the first of them, or None.
    """

    def __init__(self, message: str, *, parameter: str | None = None) -> None:
        self.template = " ".join(str(message).split())
        named = tuple(
            dict.fromkeys(name for escaped, name in _PLACEHOLDER.findall(self.template) if not escaped)
        )
        self.parameters: tuple[str, ...] = named or ((parameter,) if parameter else ())
        self.parameter: str | None = parameter or (named[0] if named else None)
        super().__init__(self.render())

    def render(self, name: Callable[[str], str] = str) -> str:
        """The message with each placeholder written by `name` (the parameter's name by default)."""
        return _PLACEHOLDER.sub(
            lambda found: "{" + found.group(2) + "}" if found.group(1) else name(found.group(2)),
            self.template,
        )


class InputError(MisflagError):
    """An input file or table is missing, empty, malformed, of the wrong type or lacks a column."""


class ExpressionError(InputError):
    """A SQL expression given by the user does not parse or names an unknown column."""


class RuleError(MisflagError):
    """A rules or settings file (matching rule, Splink settings, due-process rules) is invalid."""


class DatasetError(MisflagError):
    """A bundled dataset cannot be obtained or fails its checksum."""


class EngineError(MisflagError):
    """The execution engine (DuckDB or Spark) is unavailable or failed on valid input."""


class LedgerError(MisflagError):
    """The decision ledger cannot be read, written or verified."""


class LedgerRuleViolation(LedgerError):
    """An event breaks a due-process rule of the ledger; the rejection itself is logged."""
