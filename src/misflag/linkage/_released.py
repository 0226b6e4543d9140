"""A linkage audit through the release register its spec names (docs/linkage-audit.md, "Releases of the
same pairs").

Each output alone pins none of the counts it withholds (`_disclosure`), but two outputs of the same pairs
and records under other settings can: `--group group` withholds C (and B to protect it), and a second
output with C folded into A publishes A + C, so C = (A + C) - A. The LP audit models one output, so a run
with `--release-register` or `--protect-releases` is refused, in one line naming the earlier release and
the settings that differ, when the register holds a release of the same inputs (the pairs' and the
records' sha256) under other settings (or another labelled sample) and either of the two withholds a
count; the same settings again are allowed (the same output). On success the output is recorded there,
as the monitor's are (`misflag.monitor._released`), with the register file and its lock of
`disclosure._register`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from misflag._text import shown
from misflag.disclosure._register import (
    ReleaseRegister,
    data_dir_register,
    input_file,
    locked,
    warn_unlinked,
)
from misflag.errors import InputError, literal
from misflag.io import file_sha256
from misflag.linkage._evaluate import LinkageAuditSpec
from misflag.result import AuditResult

#: The metadata's "audit" of a linkage audit's output, and so of its releases.
AUDIT = "linkage-audit"
#: Spec fields that say where a release is recorded, not what it publishes.
WHERE_RECORDED = ("release_register", "protect_releases")


def audit_registered(
    spec: LinkageAuditSpec,
    pairs: Any,
    records: Any | None,
    labels: Any | None,
    run: Callable[[LinkageAuditSpec], AuditResult],
) -> AuditResult:
    """`run(spec)` checked against the register's releases of the same pairs and records, under the
    register's lock, and recorded there; refused (nothing recorded) where an earlier release under other
    settings and this output could give a withheld count back. Neither the register's path nor its
    releases are published (the output's spec has `protect_releases` true and no path)."""
    from misflag.io._readers import hashed_once

    inner = replace(spec, release_register=None, protect_releases=False)
    files = {"records": records, "labels": labels}
    known = {name: _digest(source) for name, source in files.items()}
    with hashed_once(input_file(pairs)) as digest:
        key = (digest, known["records"])
        register = spec.release_register or data_dir_register(_hex(key))
        with locked(Path(register)):
            opened = ReleaseRegister(register)
            earlier = [r for r in opened.releases if _inputs(r) == key and _kind(r) == AUDIT]
            settings = _settings(inner, known["labels"])
            for release in earlier:
                if _withholds(release["rows"]):
                    _check_settings(release, settings, "it withholds counts")
            name = release_name(inner, len(opened.releases) + 1)
            if any(r["name"] == name for r in opened.releases):
                raise InputError(f"{literal(shown(name))}: a release of that name is already registered")
            result = run(inner)
            if _inputs({"metadata": result.metadata}) != key:
                raise InputError(
                    "the inputs changed while they were audited; nothing was recorded: audit again"
                )
            rows = result.rows()
            if _withholds(rows):
                for release in earlier:
                    _check_settings(release, settings, "this output withholds counts")
            warn_unlinked(opened.releases, digest, AUDIT)  # another kind's releases of the pairs file
            result.metadata["spec"]["protect_releases"] = True  # as recorded in the register too
            result.metadata["release"] = name
            opened.record(name, rows, {**result.metadata, "labels_sha256": known["labels"]})
            return result


def _digest(source: Any | None) -> str | None:
    """A second input's sha256 (None where not given): the records and the labelled sample are files
    too, since a release is keyed by (and compared on) every file it reads."""
    return None if source is None else file_sha256(input_file(source))


def _hex(key: tuple[str, str | None]) -> str:
    """One digest for the pairs' and the records' digests: the name of their register in misflag's data
    directory (`--protect-releases`)."""
    return hashlib.sha256(f"{AUDIT} {key[0]} {key[1] or ''}".encode()).hexdigest()


def _inputs(release: dict[str, Any]) -> tuple[Any, Any]:
    """The (pairs, records) digests a release (or an output's metadata) names."""
    metadata = release.get("metadata") or {}
    return tuple((metadata.get(name) or {}).get("sha256") for name in ("input", "records"))  # type: ignore[return-value]


def _kind(release: dict[str, Any]) -> Any:
    return release["metadata"].get("audit")


def _settings(spec: LinkageAuditSpec, labels: str | None) -> dict[str, Any]:
    """The spec's fields as an output's metadata holds them (after JSON), but where it is recorded, and
    the labelled sample's digest (`labels`: another sample gives other figures)."""
    from misflag.linkage._audit import published_spec

    data = json.loads(json.dumps(published_spec(spec), default=str))
    return {key: value for key, value in data.items() if key not in WHERE_RECORDED} | {"labels": labels}


def _withholds(rows: list[dict[str, Any]]) -> bool:
    """Whether an output withholds any figure (a row suppressed)."""
    return any(row.get("suppressed") for row in rows)


def _check_settings(release: dict[str, Any], settings: dict[str, Any], because: str) -> None:
    """Refused when the earlier release was made with other settings (`because`: which side withholds)."""
    theirs = {**(release["metadata"].get("spec") or {}), "labels": release["metadata"].get("labels_sha256")}
    differ = [key for key, value in settings.items() if theirs.get(key) != value]
    if differ:
        named = ", ".join(
            f"{{{key}}} {literal(shown(theirs.get(key)))} (now {literal(shown(settings[key]))})"
            for key in differ
        )
        raise InputError(
            f"earlier release {literal(shown(release['name']))} of these pairs and records was published "
            f"with {named}, and {because}: together the two outputs could give withheld counts back; audit "
            "with its settings, or keep another release register"
        )


def release_name(spec: LinkageAuditSpec, number: int) -> str:
    """A linkage release's name in the register: its number and what it publishes."""
    thresholds = ", ".join(f"{t:g}" for t in spec.thresholds)
    return f"{number}: linkage by {', '.join(spec.groups) or 'overall'} at {thresholds}"[:300]
