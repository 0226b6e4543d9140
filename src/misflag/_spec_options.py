"""An audit's spec as its command's options: each field of a spec dataclass describes itself once.

A field's metadata (`option`) holds its help and its flag; the command line's options are generated from
it (`with_spec_options`, read back by `spec_values`), and the HTTP schema and the web forms read the same
metadata, so no option of an audit is written twice. typer is imported only where options are built: the
specs import this module, and a library caller of an audit never loads the command line.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, Field, fields
from types import GenericAlias
from typing import Any, cast, get_args, get_origin, get_type_hints

from misflag._text import shown
from misflag.errors import InputError, literal

#: The item types a repeatable option converts itself; any other tuple field is repeated text.
_ITEMS = (str, int, float)


def option(
    help_text: str,
    flag: str | None = None,
    *,
    aliases: tuple[str, ...] = (),
    off: str | None = None,
    local: bool = False,
    required: bool = False,
    parse: Callable[[Any], Any] | None = None,
    text: str | None = None,
) -> dict[str, Any]:
    """A spec field's metadata: its user-facing help; its CLI flag where not `--` + the dashed name, other
    flags it answers to (`aliases`) and, for a switch, the flag that turns it off (`off`); `local` for an
    option the HTTP schema never carries (the service opens nothing a request names); `required` for a
    field the command line itself requires (otherwise a field without a default is an optional option,
    since a settings file may give it, and `spec_values` refuses it missing); `parse` turns the option's
    value as typed (a list for a repeatable option) into the field's value; `text` is the typed default of
    a field given as text and parsed (a band's LOW,HIGH).
    """
    given = {
        "flag": flag,
        "aliases": aliases,
        "off": off,
        "local": local,
        "required": required,
        "parse": parse,
        "text": text,
    }
    return {"help": help_text} | {key: value for key, value in given.items() if value}


def each(parse: Callable[[str], Any]) -> Callable[[Sequence[str]], tuple[Any, ...]]:
    """A repeatable option's `parse`: `parse` applied to every value given, as a tuple."""

    def parse_each(texts: Sequence[str]) -> tuple[Any, ...]:
        return tuple(parse(text) for text in texts)

    return parse_each


def parse_stage(text: str) -> tuple[str, str]:
    """`NAME=EXPR` as given to `--stage` (the first '=' splits; the expression may contain more): the
    decision audit's and the monitor's pipeline stages."""
    name, separator, expression = str(text).partition("=")
    if not separator or not name.strip() or not expression.strip():
        raise InputError(f"{{stages}} must be NAME=EXPR, got {literal(shown(text))}")
    return name.strip(), expression.strip()


def option_flag(spec_field: Field[Any]) -> str:
    """The CLI flag of a spec field: `--group` for groups, `--target-fpr` for target_fpr."""
    return str(spec_field.metadata.get("flag") or "--" + spec_field.name.replace("_", "-"))


def _parameter(spec_field: Field[Any], hint: Any) -> inspect.Parameter:
    """A spec field as a typer option: a tuple field repeatable, a required one optional unless its
    metadata says the command line requires it."""
    import typer  # here, not at the top: the specs import this module (see the module's docstring)

    metadata = spec_field.metadata
    args = get_args(hint)
    default: Any
    if get_origin(hint) is tuple and args[-1] is Ellipsis:
        item = args[0] if args[0] in _ITEMS else str
        hint, default = GenericAlias(list, (item,)), list(cast(tuple[Any, ...], spec_field.default))
    elif "text" in metadata:
        hint, default = str, metadata["text"]
    elif spec_field.default is MISSING:
        hint, default = (hint, ...) if metadata.get("required") else (hint | None, None)
    else:
        default = spec_field.default
    flag = option_flag(spec_field) + (f"/{metadata['off']}" if "off" in metadata else "")
    flags = (flag, *metadata.get("aliases", ()))
    info = typer.Option(default, *flags, help=metadata["help"])
    return inspect.Parameter(spec_field.name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=hint)


def user_fields(spec_class: type) -> list[Field[Any]]:
    """The fields a user gives, those with `option` metadata; a field without is set by the command (the
    linkage audit's blocking rules, read from its --settings file)."""
    return [spec_field for spec_field in fields(spec_class) if "help" in spec_field.metadata]


def with_spec_options(
    command: Callable[..., Any],
    spec_class: type,
    *,
    order: Sequence[str] = (),
    after: Mapping[str, str] | None = None,
) -> Callable[..., Any]:
    """Give `command`, whose `**options` takes them, one option per user field of `spec_class` (typer
    reads `__signature__`), so that a help screen keeps the order it always had: in field order, except the
    fields named in `order`, which take the places those fields have in that order; after the command's
    first parameter (its source), except that a field named in `after` and those after it follow the
    command's own parameter named there."""
    hints = get_type_hints(spec_class)
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    named = {spec_field.name: spec_field for spec_field in user_fields(spec_class)}
    reordered = iter(order)
    sequence = [named[next(reordered)] if name in order else named[name] for name in named]
    placed: dict[str, list[inspect.Parameter]] = {p.name: [] for p in own}
    anchor = own[0].name
    for spec_field in sequence:
        anchor = (after or {}).get(spec_field.name, anchor)
        placed[anchor].append(_parameter(spec_field, hints[spec_field.name]))
    parameters = [item for p in own for item in (p, *placed[p.name])]
    command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in parameters], return_annotation=None
    )
    command.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": None}
    return command


def spec_values(
    spec_class: type, options: Mapping[str, Any], *, unchecked: Sequence[str] = ()
) -> dict[str, Any]:
    """The values of the spec's user fields from its generated options: each field's `parse` applied, a
    repeatable option as a tuple; a required field left out is refused in one line naming its flag,
    except those in `unchecked` (which the command fills another way, e.g. the monitor's time from a
    ledger)."""
    values: dict[str, Any] = {}
    for spec_field in user_fields(spec_class):
        value = options[spec_field.name]
        parse = spec_field.metadata.get("parse")
        if value is None:
            if spec_field.default is MISSING and spec_field.name not in unchecked:
                raise InputError(f"{option_flag(spec_field)} is required: {spec_field.metadata['help']}")
        elif parse is not None:
            value = parse(value)
        elif isinstance(value, list):
            value = tuple(value)
        values[spec_field.name] = value
    return values
