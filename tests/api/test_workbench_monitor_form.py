"""The workbench's monitor form is `misflag monitor` without what names a ledger or a file on the server.

`--ledger-key` is the signing key of the ledger `--ledger` monitors; the web has no ledger mode (the
service opens no ledger and reads no file path a form names), so neither is on the form, nor are
`--state`, `--table` and `--release-register`. The form is built from the CLI command's options named in
`api/_workbench._monitor_fields` (`api._forms.command_fields`), not from every field of `MonitorSpec`:
`--ledger-key` is the command's own option, as `--ledger` is, and no spec field.
"""

from __future__ import annotations

import inspect
from dataclasses import fields

from misflag.api._workbench import AUDITS
from misflag.commands.monitor import monitor
from misflag.monitor import MonitorSpec

#: The command's options that name a ledger or a file (or say where output goes): never on the web form.
SERVER_SIDE = {
    "source",
    "ledger",
    "ledger_key",
    "state",
    "table",
    "release_register",
    "save",
    "report",
    "pdf",
}


def test_the_monitor_form_names_no_ledger_and_no_server_file() -> None:
    form = {field.name: field for field in AUDITS["monitor"].fields()}
    options = set(inspect.signature(monitor).parameters)
    assert {"ledger", "ledger_key"} <= options - set(form)  # the CLI has them, the form does not
    assert not SERVER_SIDE & set(form)
    assert form["time"].note == "On this service: required (there is no ledger mode)."
    assert "ledger_key" not in {spec_field.name for spec_field in fields(MonitorSpec)}
