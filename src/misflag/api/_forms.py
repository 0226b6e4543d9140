"""Web forms generated from the CLI's own commands, so the page offers the same options with the same help.

A workbench audit names the CLI command it mirrors (e.g. `misflag biometrics audit`) and which of its
options the web offers; each option becomes a `FormField` carrying the command's flag, help text, type,
default and choices. `read_form` turns a submitted form back into keyword values with the command's own
click types, one line per problem (the flag named as on the command line). The decision audit's form is
generated the same way from `DecisionSpec` (see `_request`), whose metadata the CLI also reads.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from typer.models import OptionInfo

from misflag._text import clipped, shown
from misflag.errors import InputError, literal

#: Longest text a form field takes (an expression, a JSON group mix).
MAX_TEXT = 2000
#: Most lines a repeatable field takes.
MAX_ITEMS = 20
#: A switch's submitted values. A browser sends nothing for an unchecked box, so the page precedes each box
#: with a hidden "off" (the box's "on", when checked, comes last and wins); a post without the field takes
#: the CLI's default, as the CLI does when the flag is left out.
SWITCH_VALUES = dict.fromkeys(("on", "true", "1", "yes"), True) | dict.fromkeys(
    ("off", "false", "0", "no"), False
)

Kind = Literal["text", "integer", "number", "bool", "list", "choice"]


@dataclass(frozen=True)
class FormField:
    """One option of a web form: the CLI's flag, help, type, default and (for a choice) the values."""

    name: str
    flag: str
    help: str
    kind: Kind
    default: Any
    required: bool
    choices: tuple[str, ...] = ()
    item: Kind = "text"
    #: What the web takes where it differs from the CLI (e.g. no file paths).
    note: str = ""
    #: A switch's "off" flag where the CLI has one (`--raw-scores` of `--probabilities/--raw-scores`).
    off_flag: str = ""

    @property
    def shown_default(self) -> str:
        """The default as the form shows it (blank for none; one per line for a list)."""
        if self.default is None or self.default is False:
            return ""
        if isinstance(self.default, (list, tuple)):
            return "\n".join(str(item) for item in self.default)
        return str(self.default)


def _kind(hint: Any) -> tuple[Kind, Kind]:
    """(kind, item kind) of a command parameter's annotation; an Enum is a choice."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        inner = [arg for arg in args if arg is not type(None)]
        return _kind(inner[0]) if len(inner) == 1 else ("text", "text")
    if origin is list:
        return "list", _kind(args[0])[0]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "choice", "choice"
    kinds: dict[Any, Kind] = {bool: "bool", int: "integer", float: "number"}
    return kinds.get(hint, "text"), kinds.get(hint, "text")


@cache
def _options(function: Callable[..., Any]) -> dict[str, tuple[OptionInfo, Any]]:
    """A typer command's options: name → (its typer.Option, its annotation)."""
    hints = get_type_hints(function)
    return {
        name: (parameter.default, hints[name])
        for name, parameter in inspect.signature(function).parameters.items()
        if isinstance(parameter.default, OptionInfo)
    }


def _by_flag(options: dict[str, tuple[OptionInfo, Any]], name: str) -> tuple[OptionInfo, Any]:
    """The option whose flag is `--` + `name` dashed: a field of the web's form keeps its flag's name
    (`threshold`) where the option generated from a spec has its field's (`thresholds`)."""
    flag = "--" + name.replace("_", "-")
    return next(found for found in options.values() if flag in (found[0].param_decls or ()))


def command_fields(
    function: Callable[..., Any],
    names: Sequence[str],
    choices: Mapping[str, Sequence[str]] | None = None,
    notes: Mapping[str, str] | None = None,
) -> tuple[FormField, ...]:
    """The form fields of a CLI command's options `names` (each its parameter's name or its flag's), in that
    order; `choices` restricts a text option to fixed values (e.g. a rule preset instead of a file path,
    which the web never reads); `notes` says where the web takes less than the CLI."""
    options = _options(function)
    out = []
    for name in names:
        option, hint = options[name] if name in options else _by_flag(options, name)
        kind, item = _kind(hint)
        allowed = tuple(choices.get(name, ())) if choices else ()
        if kind == "choice":
            allowed = tuple(str(member.value) for member in hint)
        if allowed and kind != "list":
            kind = "choice"
        declared = [d for d in option.param_decls or () if d.startswith("--")]
        flag = max(declared, key=len) if declared else "--" + name.replace("_", "-")
        default = option.default
        required = default is ... or default is Ellipsis
        out.append(
            FormField(
                name=name,
                flag=flag.split("/")[0],
                off_flag=flag.partition("/")[2],
                help=option.help or "",
                kind=kind,
                default=None if required else default,
                required=required,
                choices=allowed,
                item=item,
                note=(notes or {}).get(name, ""),
            )
        )
    return tuple(out)


def spec_fields(spec_class: type, skip: Sequence[str] = ()) -> tuple[FormField, ...]:
    """The form fields of a spec dataclass whose fields carry their CLI help in `metadata["help"]` (as
    `DecisionSpec`'s do, which the CLI's options are built from), leaving out `skip`."""
    hints = get_type_hints(spec_class)
    out = []
    for spec_field in dataclasses.fields(spec_class):
        if spec_field.name in skip or "help" not in spec_field.metadata:
            continue
        hint = hints[spec_field.name]
        kind, item = _kind(hint)
        if get_origin(hint) is tuple:
            kind, item = "list", "text"
        default = None if spec_field.default is dataclasses.MISSING else spec_field.default
        flag = spec_field.metadata.get("flag") or "--" + spec_field.name.replace("_", "-")
        out.append(
            FormField(
                name=spec_field.name,
                flag=str(flag),
                help=str(spec_field.metadata["help"]),
                kind=kind,
                default=default,
                required=spec_field.default is dataclasses.MISSING,
                item=item,
            )
        )
    return tuple(out)


#: The longest unbroken run of characters a message echoes whole (a value, an expression, a group name).
ECHO = 60
#: The longest message a page shows: past it, the rest is cut (group lists of long, hostile names).
LONGEST_MESSAGE = 300


def shorten(message: str) -> str:
    """A job's or a spec's whole message with every long unbroken run cut as `misflag._text.clipped` cuts
    it: the net under messages of the audits, some of which still echo a value whole (a 2,000-character
    expression is named by its start on the page). Values this module echoes go through `shown`."""
    text = re.sub(rf"\S{{{ECHO + 1},}}", lambda run: clipped(run.group()), message)
    return text if len(text) <= LONGEST_MESSAGE else text[: LONGEST_MESSAGE - 3] + "..."


def _convert(field: FormField, text: str, kind: Kind) -> Any:
    if len(text) > MAX_TEXT:
        raise InputError(f"{field.flag} is longer than {MAX_TEXT:,} characters")
    if kind == "integer":
        try:
            number = int(text)
        except ValueError:
            raise InputError(f"{field.flag} must be a whole number, not {literal(shown(text))}") from None
        if not -(2**63) <= number < 2**63:
            raise InputError(
                f"{field.flag} must be a whole number of at most 18 digits, not {literal(shown(text))}"
            )
        return number
    if kind == "number":
        try:
            value = float(text)
        except ValueError:
            raise InputError(f"{field.flag} must be a number, not {literal(shown(text))}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise InputError(f"{field.flag} must be a finite number, not {literal(shown(text))}")
        return value
    if kind == "choice" and text not in field.choices:
        raise InputError(
            f"{field.flag} must be one of {', '.join(field.choices)}, not {literal(shown(text))}"
        )
    return text


def _switch(field: FormField, text: str) -> bool:
    """A switch's value: blank or absent is the CLI's default, else on/off (true/false, 1/0, yes/no)."""
    if not text:
        return bool(field.default)
    if text not in SWITCH_VALUES:
        raise InputError(f"{field.flag} must be on or off, not {literal(shown(text))}")
    return SWITCH_VALUES[text]


def read_form(fields: Sequence[FormField], form: Mapping[str, str]) -> dict[str, Any]:
    """Keyword values of a submitted form: blanks take the command's default, a missing required one is
    refused, numbers and choices are checked as the CLI checks them."""
    values: dict[str, Any] = {}
    for field in fields:
        text = form.get(field.name, "")
        if field.kind == "bool":
            values[field.name] = _switch(field, text.strip().lower())
            continue
        if field.kind == "list":
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            if len(lines) > MAX_ITEMS:
                raise InputError(f"{field.flag} takes at most {MAX_ITEMS} lines")
            values[field.name] = [_convert(field, line, field.item) for line in lines]
            continue
        text = text.strip()
        if not text:
            if field.required:
                raise InputError(f"{field.flag} is required")
            values[field.name] = field.default
            continue
        values[field.name] = _convert(field, text, field.kind)
    return values
