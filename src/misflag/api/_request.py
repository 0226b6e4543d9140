"""The HTTP form of a decision audit, derived from `misflag.decisions.DecisionSpec`, and its one check.

Each field of the spec becomes a JSON field of `POST /api/audits`, described by the field's help (a tuple
becomes a list; a stage is `NAME=EXPR` as after `--stage`), so a field added to the spec is offered over HTTP without an edit here.
A request is turned into a DecisionSpec and checked by the same functions as the CLI: the expressions
by the spec's own check against the upload's columns, so HTTP, the CLI and the Python API give the same
one-line message. No expression (flag, stages, truth, where, group, weight, count, margin, score) may read a masked
(identifier-looking) column; that is decided on the parsed tree's column references, never on words of
the text.
"""

from __future__ import annotations

import shlex
import types
from dataclasses import MISSING, fields
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

import sqlglot
from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlglot import exp

from misflag.decisions import DecisionSpec
from misflag.decisions._counts import CheckedSpec, check_spec
from misflag.decisions._spec import option_flag
from misflag.errors import InputError

_TEXT = Annotated[str, Field(max_length=2000)]
ID = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
#: HTTP bounds of some fields (the spec checks the rest); a field not named here has none of its own.
_BOUNDS: dict[str, dict[str, Any]] = {
    "truth": {"min_length": 1},
    "stages": {"max_length": 20},
    "groups": {"max_length": 10},
    "seed": {"ge": 0, "lt": 2**32},
    "replicates": {"ge": 100, "le": 100_000},
    "min_cell": {"ge": 1, "le": 1_000_000},
}
#: List fields where a blank item (an empty line of the form) means nothing.
_BLANKS_DROPPED = frozenset({"groups", "stages"})


def _http_type(hint: Any) -> Any:
    """The JSON type of a spec field's type, or None for a type HTTP does not carry."""
    if hint is str:
        return _TEXT
    if hint in (bool, int, float):
        return hint
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        return hint
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        kind = _http_type(inner[0]) if len(inner) == 1 else None
        return None if kind is None else kind | None
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _TEXT if get_origin(args[0]) is tuple else _http_type(args[0])
        return None if item is None else list[item]  # type: ignore[valid-type]
    return None


def _request_model() -> type[BaseModel]:
    hints = get_type_hints(DecisionSpec)
    definitions: dict[str, Any] = {"upload_id": (ID, ...)}
    for spec_field in fields(DecisionSpec):
        kind = _http_type(hints[spec_field.name])
        if kind is None or spec_field.metadata.get("local"):  # a path or URL on the service's machine
            continue
        bounds = {"description": spec_field.metadata["help"], **_BOUNDS.get(spec_field.name, {})}
        if spec_field.default is not MISSING and isinstance(spec_field.default, tuple):
            definitions[spec_field.name] = (kind, Field(default_factory=list, **bounds))
        elif spec_field.default is not MISSING:
            definitions[spec_field.name] = (kind, Field(spec_field.default, **bounds))
        else:
            definitions[spec_field.name] = (kind, Field(..., **bounds))
    return create_model(
        "AuditRequest",
        __config__=ConfigDict(extra="forbid"),
        __doc__="A decision audit of an upload: the fields of `misflag decisions audit`, as JSON.",
        **definitions,
    )


AuditRequest = _request_model()
#: Field names of the HTTP form besides the upload id (the spec's fields HTTP carries).
SPEC_FIELDS = tuple(name for name in AuditRequest.model_fields if name != "upload_id")


def to_spec(body: BaseModel) -> DecisionSpec:
    """The DecisionSpec of a request: blank list items dropped; an absent or null field is absent.

    Texts pass as the CLI would pass them, so a whitespace-only expression is refused ("--where is
    empty") by the same check; the page's form leaves its blank fields out itself.
    """
    data: dict[str, Any] = {}
    for name, value in body.model_dump(exclude={"upload_id"}).items():
        if name in _BLANKS_DROPPED:
            value = [item.strip() for item in value if item.strip()]
        data[name] = value
    return DecisionSpec.from_dict(data)


def labelled_expressions(spec: DecisionSpec, checked: CheckedSpec) -> list[tuple[str, str]]:
    """(what, SQL) of every expression of a checked audit, named as a message names them."""
    out = [("where", checked.where)] if checked.where else []
    for (name, _), expression in zip(spec.pipeline, checked.stages, strict=True):
        out.append(("flag" if spec.flag is not None else f"stage {name}", expression))
    out.append(("truth", checked.truth))
    out += [("group", expression) for expression in checked.groups]
    out += [("weight", checked.weight)] if checked.weight else []
    out += [("count", checked.count)] if checked.count else []
    out += [("margin", checked.margin)] if checked.margin else []
    out += [("score", checked.score)] if checked.score else []
    return out


def check_audit(spec: DecisionSpec, columns: list[str], masked: dict[str, str], max_replicates: int) -> None:
    """The CLI's checks of every expression, the service's bounds, and no expression reading a masked
    column: its values never leave the engine, not through a group label, a count or an error."""
    if spec.replicates > max_replicates:
        raise InputError(f"--replicates must be at most {max_replicates} on this service")
    checked = check_spec(spec, tuple(columns))
    lowered = {name.lower(): (name, reason) for name, reason in masked.items()}
    for what, rendered in labelled_expressions(spec, checked):
        for read in sorted(columns_read(rendered, what)):
            if read not in lowered:
                continue
            name, reason = lowered[read]
            if what == "group":
                raise InputError(
                    f"cannot group by {name}: it looks like an identifier ({reason}); "
                    "group by categories such as race or sex"
                )
            raise InputError(
                f"the {what} expression cannot read {name}: its values are masked on this service "
                f"(it looks like an identifier: {reason})"
            )


def columns_read(expression: str, what: str = "group") -> set[str]:
    """Lower-cased names of the columns a checked expression reads, from its parsed tree.

    A construct that reads columns without naming them (a star, COLUMNS(...)) is refused outright."""
    tree = sqlglot.parse_one(expression, read="duckdb")
    if any(isinstance(node, (exp.Star, exp.Columns)) for node in tree.walk()):
        raise InputError(f"a {what} expression must name its columns (no * or COLUMNS(...))")
    return {column.name.lower() for column in tree.find_all(exp.Column)}


def is_bare_column(expression: str) -> bool:
    """Whether a checked expression is one column named as it is (no function, operator or constant)."""
    return isinstance(sqlglot.parse_one(expression, read="duckdb").unnest(), exp.Column)


def command_line(spec: DecisionSpec, filename: str) -> str:
    """The equivalent `misflag decisions audit` command, for the report's reproducibility block."""
    words = ["misflag", "decisions", "audit", filename]
    for spec_field in fields(DecisionSpec):
        value = getattr(spec, spec_field.name)
        if spec_field.default is not MISSING and value == spec_field.default and spec_field.name != "truth":
            continue
        if spec_field.name not in SPEC_FIELDS:  # set by the service, not the user (a release register's path)
            continue
        option = option_flag(spec_field)
        if isinstance(value, bool):
            words += [option] if value else []
        elif spec_field.name == "stages":
            for name, expression in value:
                words += [option, f"{name}={expression}"]
        elif isinstance(value, tuple):
            for item in value:
                words += [option, str(item)]
        elif value is not None:
            words += [option, str(value)]
    return " ".join(_quote(word) for word in words)


def _quote(word: str) -> str:
    """Shell quoting that stays readable: double quotes around SQL with single-quoted strings."""
    if "'" in word and not any(c in word for c in '"$`\\!'):
        return f'"{word}"'
    return shlex.quote(word)
