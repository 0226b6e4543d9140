"""DecisionSpec is the one list of a decision audit's options: the Python keywords, the CLI options and
the HTTP schema are derived from it, and these tests fail the day one of them drifts."""

from __future__ import annotations

import inspect
from dataclasses import MISSING, fields
from typing import Any

import typer.main

from misflag.api._request import SPEC_FIELDS, AuditRequest, command_line
from misflag.commands.decisions import app
from misflag.decisions import DecisionSpec, audit_decisions

SPEC_NAMES = [f.name for f in fields(DecisionSpec)]
#: Spec fields HTTP does not carry: a path on the service's machine (the service sets its own register),
#: and a ledger to open (a service opens no ledger a request names).
LOCAL_ONLY = {"release_register", "ledger"}
#: Options of the CLI command that are not questions of the audit (where and how it runs, what it writes).
COMMAND_ONLY = {
    "source",
    "engine",
    "table",
    "settings",
    "counts_form",
    "output_format",
    "save",
    "report",
    "pdf",
}


def _cli_options() -> dict[str, Any]:
    command = typer.main.get_command(
        app
    )  # a one-command app is that command, with typer's completion options
    completion = {"install_completion", "show_completion"}
    return {param.name: param for param in command.params if param.name and param.name not in completion}


def test_every_field_has_help() -> None:
    for spec_field in fields(DecisionSpec):
        assert spec_field.metadata["help"].strip(), spec_field.name


def test_python_keywords_are_the_spec_fields_with_their_defaults() -> None:
    parameters = inspect.signature(audit_decisions).parameters
    keywords = [n for n, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert keywords == [*SPEC_NAMES, "engine", "table", "progress"]
    assert list(parameters) == ["source", *keywords]
    for spec_field in fields(DecisionSpec):
        default = parameters[spec_field.name].default
        expected = inspect.Parameter.empty if spec_field.default is MISSING else spec_field.default
        assert default == expected, spec_field.name


def test_cli_offers_every_field_under_its_flag_with_its_default_and_help() -> None:
    options = _cli_options()
    assert set(options) == set(SPEC_NAMES) | COMMAND_ONLY
    flags = {
        "groups": "--group",
        "stages": "--stage",
        "missing_values": "--missing-value",
        "table_sets": "--table-set",
    }
    for spec_field in fields(DecisionSpec):
        option = options[spec_field.name]
        assert option.opts == [flags.get(spec_field.name, "--" + spec_field.name.replace("_", "-"))]
        assert option.help == spec_field.metadata["help"]
        if isinstance(spec_field.default, tuple):
            assert option.multiple and not option.default
        elif spec_field.default is MISSING:  # required, unless a --settings file gives it
            assert option.default is None and not option.required
        else:
            assert option.default == spec_field.default, spec_field.name


def test_http_schema_fields_are_the_spec_fields_described_by_their_help() -> None:
    assert list(SPEC_FIELDS) == [name for name in SPEC_NAMES if name not in LOCAL_ONLY]
    properties = AuditRequest.model_json_schema()["properties"]
    assert set(properties) == {"upload_id", *SPEC_NAMES} - LOCAL_ONLY
    for spec_field in fields(DecisionSpec):
        if spec_field.name in LOCAL_ONLY:
            continue
        assert properties[spec_field.name]["description"] == spec_field.metadata["help"]


def test_command_line_uses_the_cli_flags() -> None:
    spec = DecisionSpec(
        truth="t", stages=(("a", "x"), ("b", "y")), groups=("race",), missing_values=("NA",), min_cell=5
    )
    assert command_line(spec, "f.csv") == (
        "misflag decisions audit f.csv --truth t --stage a=x --stage b=y --group race --min-cell 5 "
        "--missing-value NA"
    )
