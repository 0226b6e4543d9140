"""The workbench form's expressions checked against the upload's columns: as the CLI checks them, and no
masked (identifier-looking) column read, except by the id fields an audit allows, and those only as bare
columns (docs/security.md, "Ids over masked columns")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from misflag.api._preview import DATES
from misflag.api._request import columns_read, is_bare_column
from misflag.errors import InputError
from misflag.io import check_expression

if TYPE_CHECKING:
    from misflag.api._workbench import Audit


def check_columns(
    audit: Audit, values: Mapping[str, Any], columns: list[str], masked: dict[str, str]
) -> None:
    """Every expression of the form over the upload's columns, as the CLI checks it; no masked column read."""
    flags = {f.name: f.flag for f in audit.fields()}
    lowered = {name.lower(): (name, reason) for name, reason in masked.items()}
    texts: list[tuple[str, Any]] = []
    for name in audit.expressions:
        value = values.get(name)
        texts += [(name, item) for item in value] if isinstance(value, list) else [(name, value)]
    texts += [("stage", stage.partition("=")[2]) for stage in values.get("stage", ())]
    bare: dict[str, bool] = {}
    reads_masked = False
    for name, text in texts:
        if not text:
            continue
        rendered = check_expression(str(text), columns, flags.get(name, name))
        if name in audit.masked_ok:
            bare[name] = is_bare_column(rendered)
            reads_masked |= bool(columns_read(rendered, flags.get(name, name)) & lowered.keys())
            continue
        for read in sorted(columns_read(rendered, flags.get(name, name))):
            if read in lowered:
                column, reason = lowered[read]
                if name in audit.dates_ok and reason == DATES:
                    continue
                raise InputError(
                    f"{flags.get(name, name)} cannot read {column}: its values are masked on this service "
                    f"(it looks like an identifier: {reason})"
                )
    _masked_ids_named_bare(bare, reads_masked, flags)


def _masked_ids_named_bare(bare: dict[str, bool], reads_masked: bool, flags: dict[str, str]) -> None:
    """Where an id field (subjects, reviewer pool) reads a masked column, every id field is a bare column.

    A job's outcome depends on which ids are equal: an expression such as `CASE WHEN name = 'Jane Roe'
    THEN 'x' ...`, or a constant on the other side, would turn it into an answer about a masked value.
    Bare columns only compare the data's own values with each other."""
    wrapped = sorted(flags.get(name, name) for name, plain in bare.items() if not plain)
    if reads_masked and wrapped:
        raise InputError(
            f"{', '.join(wrapped)} must name a column as it is (no expression or constant) when an id "
            "reads a masked column: an expression over masked values would answer questions about them"
        )
