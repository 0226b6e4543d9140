"""Option values read without Pydantic where the answer is plain: a tenth of a second off every command.

Typer 0.29 converts every option's text through a Pydantic `TypeAdapter`, built when the option is first
read: importing Pydantic and building some thirty adapters costs about 0.1 s of CPU per command, more than
the audit of a small file. Most values need none of it: text stays text, `1000` is an integer, `0.05` a
number, `json` a member of the format enum, and an option left out is None. `plain_values` gives each
option of a command a converter that answers those cases itself and hands every other value, unchanged,
to typer's own converter (built only then), so anything unusual (`1_000`, ` 12 `, a bad number, a path)
is read, or refused, exactly as before. tests/test_cli.py checks both converters agree on every option.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any, get_args, get_origin

#: Text whose int() and float() are what Pydantic's lax mode gives (no signs, spaces, `_` or exponents).
_INTEGER = re.compile(r"-?[0-9]{1,18}")
_DECIMAL = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,15})?")

#: A value `_plain` cannot read: the option's own typer converter reads it.
_UNREAD = object()


class PlainValues:
    """One option's converter: plain cases here, every other value through typer's converter."""

    def __init__(self, descriptor: Any) -> None:
        self.descriptor = descriptor
        self.annotation = descriptor.annotation
        info = descriptor.parameter_info
        self.plain = (
            descriptor.file_annotation is None
            and info.parser is None
            and getattr(info, "min", None) is None
            and getattr(info, "max", None) is None
            and not getattr(info, "clamp", False)
            and getattr(info, "case_sensitive", True)
        )
        self._typer: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        """The option's value, as typer's RuntimeParam.coerce returns it."""
        multiple = param.multiple or param.nargs == -1
        if value is None:
            return () if multiple else None
        if self.plain and not (multiple and isinstance(value, str)):
            read = _plain(self.annotation, value)
            if read is not _UNREAD:
                return read
        return self.typer().coerce(value, param=param, ctx=ctx)

    def typer(self) -> Any:
        """Typer's own converter (the Pydantic adapter), built on first need."""
        if self._typer is None:
            from typer._coercion import build_runtime_param

            self._typer = build_runtime_param(self.descriptor)
        return self._typer


def _plain(annotation: Any, value: Any) -> Any:
    """The value read as `annotation`, or _UNREAD when the case is not a plain one."""
    if get_origin(annotation) is list and isinstance(value, list | tuple):
        (item,) = get_args(annotation)
        items = [_plain(item, v) for v in value]
        return _UNREAD if any(i is _UNREAD for i in items) else items
    if annotation is str and isinstance(value, str) and _utf8(value):
        return value
    if annotation is int and type(value) is int:
        return value
    if annotation is int and isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    if annotation is float and type(value) is float:
        return value
    if annotation is float and isinstance(value, str) and _DECIMAL.fullmatch(value):
        return float(value)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        if isinstance(value, annotation):
            return value
        for member in annotation:
            if isinstance(value, str) and value == member.value:
                return member
    return _UNREAD


def _utf8(text: str) -> bool:
    """Whether the text encodes as UTF-8 (argv bytes that do not decode arrive as lone surrogates)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def plain_values(command: Any) -> Any:
    """Give every typer option and argument of a click command (its `--help` and its subcommands'
    included) a PlainValues."""
    help_option = command.get_help_option(command.context_class(command))  # built once per command
    for param in [*getattr(command, "params", []), help_option]:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is not None and getattr(param, "_runtime_param", False) is None:
            param._runtime_param = PlainValues(descriptor)
    for sub in getattr(command, "commands", {}).values():
        plain_values(sub)
    return command
