"""The release register: every output already published from the same data, so that a new one is
protected against all of them (tau-ARGUS's linked tables, across calls) or refused.

A JSON file the auditor keeps next to the data, as private as the data: `{"format":
"misflag-release-register/1", "releases": [{"name", "sha256", "rows", "metadata", "withheld_counts"}]}`,
where `withheld_counts` holds the true values of a release's sensitive withheld counts (so that a later
audit knows which of them are sensitive; never publish the register). A release is keyed by its input's digest (the sha256 in
its metadata), so only outputs of a file input can be registered; a new audit of the same digest is
audited jointly with every release of it (`--where` breakdowns linked as in `disclosure check`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from misflag.disclosure._load import COLUMNS, bundle_output
from misflag.disclosure._model import Output
from misflag.errors import InputError
from misflag.result import AuditResult

REGISTER_FORMAT = "misflag-release-register/1"
#: (attribute, group, stage, metric, part) of a withheld count, as a release's rows name it
CountKey = tuple[str, str | None, str, str, str]


@dataclass
class Releases:
    """What a decision audit run inside `ReleaseRegister.protecting()` is protected against: the earlier
    releases, and the auditor's own values of their sensitive withheld counts; the audit leaves its own
    in `withheld` for the register to keep."""

    outputs: tuple[Output, ...]
    values: dict[str, dict[CountKey, float] | None]  # None: recorded without them (all audited)
    withheld: dict[CountKey, float] = field(default_factory=dict)

    def value(self, rows: Sequence[tuple[str, str, str | None, str, str, str]]) -> float | None:
        """An earlier release's count, as its audit knew it (None: it was not sensitive; nan: unknown,
        as for a release recorded without its values, so audited as sensitive)."""
        unknown = False
        for name, *key in rows:
            table = self.values.get(name)
            if table is None:
                unknown = True
                continue
            found = table.get(cast(CountKey, tuple(key)))
            if found is not None:
                return found
        return float("nan") if unknown else None


RELEASED: ContextVar[Releases | None] = ContextVar("released", default=None)


class ReleaseRegister:
    """The releases recorded in one register file (read when opened; written whole, atomically)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.releases = self._read()

    def _read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        problem = f"release register {self.path} is not a misflag release register"
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            raise InputError(problem) from None
        if not isinstance(data, dict) or data.get("format") != REGISTER_FORMAT:
            raise InputError(problem)
        releases = data.get("releases")
        if not isinstance(releases, list) or not all(_valid(r) for r in releases):
            raise InputError(
                f"{problem} (a release lacks its name, digest, rows or metadata, or its withheld counts are malformed)"
            )
        return releases

    def outputs(self, digest: str | None = None) -> list[Output]:
        """Every release (of one input digest, when given) as a reader holds it."""
        return [
            bundle_output(r["name"], r["rows"], r["metadata"])
            for r in self.releases
            if digest is None or r["sha256"] == digest
        ]

    def record(
        self,
        name: str,
        rows: Sequence[dict[str, Any]],
        metadata: dict[str, Any],
        withheld: dict[CountKey, float] | None = None,
    ) -> None:
        """Add a release (its rows as published, its metadata, the auditor's values of its sensitive
        withheld counts) and write the register. Without the values, a later audit takes every withheld
        count of the release as sensitive (safe, and costlier)."""
        from misflag.io import write_atomic

        digest = (metadata.get("input") or {}).get("sha256")
        if not digest:
            raise InputError(
                f"{name}: only an output of a file input carries the input's digest and can be registered"
            )
        if any(r["name"] == name for r in self.releases):
            raise InputError(f"{name}: a release of that name is already registered")
        counts = None if withheld is None else [[*key, value] for key, value in withheld.items()]
        release = {
            "name": name,
            "sha256": digest,
            "rows": list(rows),
            "metadata": metadata,
            "withheld_counts": counts,
        }
        text = json.dumps(
            {"format": REGISTER_FORMAT, "releases": [*self.releases, release]}, indent=1, default=str
        )

        def write(temporary: Path) -> None:
            temporary.write_text(text, encoding="utf-8")

        write_atomic(self.path, write, "release register")
        self.releases.append(json.loads(json.dumps(release, default=str)))

    def audit(self, name: str, source: Any, **options: Any) -> AuditResult:
        """`audit_decisions(source, **options)` protected against every release of the same input, then
        recorded as release `name` (nothing is recorded when the audit refuses)."""
        from misflag.decisions import audit_decisions

        if any(r["name"] == name for r in self.releases):
            raise InputError(f"{name}: a release of that name is already registered")
        with self.protecting() as releases:
            result = audit_decisions(source, **options)
        self.record(name, result.rows(), result.metadata, releases.withheld)
        return result

    @contextmanager
    def protecting(self) -> Iterator[Releases]:
        """Decision audits run inside are protected against every release of the same input."""
        values = {
            r["name"]: None
            if r.get("withheld_counts") is None
            else {cast(CountKey, tuple(c[:5])): float(c[5]) for c in r["withheld_counts"]}
            for r in self.releases
        }
        token = RELEASED.set(Releases(tuple(self.outputs()), values))
        try:
            yield cast(Releases, RELEASED.get())
        finally:
            RELEASED.reset(token)


def _valid(release: Any) -> bool:
    return (
        isinstance(release, dict)
        and isinstance(release.get("name"), str)
        and isinstance(release.get("sha256"), str)
        and isinstance(release.get("metadata"), dict)
        and isinstance(release.get("rows"), list)
        and all(isinstance(r, dict) and set(COLUMNS) <= set(r) for r in release["rows"])
        and (release.get("withheld_counts") is None or _counts(release["withheld_counts"]))
    )


def _counts(counts: Any) -> bool:
    """[[attribute, group, stage, metric, part, value], ...] with a numeric value."""
    return isinstance(counts, list) and all(
        isinstance(c, list) and len(c) == 6 and isinstance(c[5], int | float) and not isinstance(c[5], bool)
        for c in counts
    )
