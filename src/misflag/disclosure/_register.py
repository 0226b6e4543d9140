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

import fcntl
import json
import math
import os
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from misflag._text import shown, shown_path
from misflag.disclosure._load import bundle_output, well_formed
from misflag.disclosure._model import Output

# the decision audit (docs/architecture.md: decisions -> disclosure._register) reads these from here too
from misflag.disclosure._releases import RELEASED, CountKey, Releases, release_min_cell
from misflag.errors import InputError, literal
from misflag.io import read_regular_file
from misflag.result import AuditResult

if TYPE_CHECKING:
    from misflag.decisions import DecisionSpec

REGISTER_FORMAT = "misflag-release-register/1"
#: The largest register read (bytes): past it the file is not one misflag wrote for one input's releases.
REGISTER_LIMIT = 1 << 30
#: Audits whose releases in a register only an audit of the same kind links (its own reader model or
#: check, not this folder's): the decision audit's reader leaves them out. Their metadata's "audit" names them.
SELF_LINKED = ("biometrics", "monitor", "linkage-audit")
#: The path of a register misflag names itself: a digest's (or, for the monitor, a log path's) in a
#: `releases` folder of its data directory (`data_dir_register`) or of the web service's.
KEPT = re.compile(r"(?:.*/)?releases/(?:path-)?[0-9a-f]{64}\.json")


class ReleaseRegister:
    """The releases recorded in one register file (read when opened; written whole, atomically)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.releases = self._read()

    def _read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        problem = f"release register {_named(self.path)} is not a misflag release register"
        try:
            data = json.loads(read_regular_file(self.path, REGISTER_LIMIT).decode("utf-8"))
        except OSError as error:  # a FIFO, a device, a folder, a file over the limit
            raise InputError(f"release register {_named(self.path)}: {error.strerror}") from None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise InputError(problem) from None
        if not isinstance(data, dict) or data.get("format") != REGISTER_FORMAT:
            raise InputError(problem)
        releases = data.get("releases")
        if not isinstance(releases, list) or not all(valid_release(r) for r in releases):
            raise InputError(
                f"{problem} (a release lacks its name, digest, rows or metadata, or one of them or its withheld "
                "counts is malformed)"
            )
        return releases

    def outputs(self, digest: str | None = None) -> list[Output]:
        """Every release (of one input digest, when given) as a reader holds it."""
        return [
            bundle_output(r["name"], r["rows"], r["metadata"])
            for r in self.releases
            if (digest is None or r["sha256"] == digest) and r["metadata"].get("audit") not in SELF_LINKED
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
                f"{literal(shown(name))}: only an output of a file input carries the input's digest and can be registered"
            )
        if any(r["name"] == name for r in self.releases):
            raise InputError(f"{literal(shown(name))}: a release of that name is already registered")
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

        return self.recorded(name, lambda: audit_decisions(source, **options), source)

    def recorded(self, name: str, run: Callable[[], AuditResult], source: Any = None) -> AuditResult:
        """`run()` (a decision audit) protected against every release of the same input, then recorded.
        `source`: the input file `run` audits, on which a --where other than value lists is linked."""
        if any(r["name"] == name for r in self.releases):
            raise InputError(f"{literal(shown(name))}: a release of that name is already registered")
        with self.protecting(source) as releases:
            result = run()
        warn_unlinked(self.releases, (result.metadata.get("input") or {}).get("sha256"), "decisions")
        result.metadata["release"] = name
        self.record(name, result.rows(), result.metadata, releases.withheld)
        return result

    @contextmanager
    def protecting(self, source: Any = None) -> Iterator[Releases]:
        """Decision audits run inside are protected against every release of the same input (`source`:
        the input file, on which a --where other than value lists is linked; else it is not)."""
        values = {
            r["name"]: None
            if r.get("withheld_counts") is None
            else {cast(CountKey, tuple(c[:5])): float(c[5]) for c in r["withheld_counts"]}
            for r in self.releases
        }
        min_cells = {r["name"]: release_min_cell(r["metadata"]) for r in self.releases}
        path = Path(source) if isinstance(source, str | Path) else None
        token = RELEASED.set(Releases(tuple(self.outputs()), values, min_cells=min_cells, source=path))
        try:
            yield cast(Releases, RELEASED.get())
        finally:
            RELEASED.reset(token)


def audit_registered(
    spec: DecisionSpec, source: Any, run: Callable[[DecisionSpec], AuditResult]
) -> AuditResult:
    """A decision audit with `--release-register PATH`, `--protect-releases` (the register of the input's
    digest in misflag's data directory) or `--ledger URL` (the releases kept in a ledger,
    `_ledger_register`): protected against every earlier release of the same input, or refused in one
    line naming them; recorded on success. The register file is locked for the whole audit, so two
    audits of the same data cannot both miss each other. Neither the register's path nor the ledger's
    URL is ever published (the output's spec carries `protect_releases` and neither of them). Where the
    digest is needed before the audit (the data directory's register, the ledger), the input is hashed
    once: the output's sha256 is that digest (`io.hashed_once`)."""
    from misflag.io._readers import hashed_once

    file = input_file(source)
    if spec.ledger is not None and (spec.release_register is not None or spec.protect_releases):
        raise InputError(
            "give {ledger} or a release register ({release_register}, {protect_releases}), not both: "
            "each release is recorded in one place"
        )
    if spec.release_register is not None:
        return _in_register(spec, spec.release_register, run, file)
    with hashed_once(file) as digest:
        if spec.ledger is not None:
            from misflag.disclosure._ledger_register import audit_in_ledger

            return audit_in_ledger(spec, run, digest, file)
        return _in_register(spec, data_dir_register(digest), run, file)


def data_dir_register(digest: str) -> Path:
    """The register of the input `digest` in misflag's data directory (`--protect-releases`), beside
    datasets/, its folder made private where missing."""
    from misflag.datasets._fetch import data_dir

    path = data_dir().parent / "releases" / f"{digest}.json"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _named(path: Path) -> str:
    """A register as a message names it: by the path the user gave (so that registers of one name in
    two folders are told apart; up to `PATH_SHOWN` characters, which an absolute path seldom passes),
    but one that misflag names itself (`KEPT`: `data_dir_register`'s, the web service's own) by its file
    name alone: the folders of misflag's data directory, or of a web service, are not a client's to see."""
    return literal(shown_path(path.name if KEPT.fullmatch(path.as_posix()) else path))


def input_file(source: Any) -> Path:
    """The input as a file path: a release is keyed by the file's sha256 (an in-memory table has none)."""
    if not isinstance(source, str | Path) or not Path(source).is_file():
        raise InputError(
            "a release register keys releases by the input file's sha256: give a file (CSV or Parquet)"
        )
    return Path(source)


def _in_register(
    spec: DecisionSpec, path: Path, run: Callable[[DecisionSpec], AuditResult], source: Path
) -> AuditResult:
    """The audit of `source` protected against the register file at `path`, under its lock, and recorded."""
    inner = replace(spec, release_register=None, protect_releases=False)

    def protected() -> AuditResult:
        result = run(inner)
        result.metadata["spec"]["protect_releases"] = True  # as recorded in the register too
        return result

    with locked(Path(path)):
        register = ReleaseRegister(path)
        return register.recorded(release_name(spec, len(register.releases) + 1), protected, source)


def audit_linked(
    source: Any,
    register: Path | None,
    audit: str,
    run: Callable[[list[dict[str, Any]]], AuditResult],
    describe: Callable[[int], str],
) -> AuditResult:
    """An audit that links its own earlier releases (`SELF_LINKED`: the biometric audit) run inside a
    register: `run(earlier)` gets the register's releases of the same input (its sha256) by an audit of
    the same kind (`audit`, the metadata's "audit") and protects its output jointly with them, or
    refuses; on success the output is recorded as release `describe(number)`. The register is the file
    at `register`, else the one of the input's digest in misflag's data directory, locked for the whole
    audit; the input is hashed once, before the audit (`io.hashed_once`)."""
    from misflag.io._readers import hashed_once

    with hashed_once(input_file(source)) as digest:
        if register is None:
            register = data_dir_register(digest)
        with locked(Path(register)):
            releases = ReleaseRegister(register)
            earlier = [
                r for r in releases.releases if r["sha256"] == digest and r["metadata"].get("audit") == audit
            ]
            result = run(earlier)
            if (result.metadata.get("input") or {}).get("sha256") != digest:
                raise InputError(
                    "the input changed while it was audited; nothing was recorded: run the audit again"
                )
            warn_unlinked(releases.releases, digest, audit)
            name = describe(len(releases.releases) + 1)
            result.metadata["release"] = name
            releases.record(name, result.rows(), result.metadata)
            return result


def warn_unlinked(releases: Iterable[dict[str, Any]], digest: str | None, audit: str) -> None:
    """A warning when the register holds releases of this input by another kind of audit (a decision
    audit's, a biometric audit's, a monitor's): each kind's reader links only its own, so this output is
    not protected jointly with them, nor they with it, and the user must know before publishing it."""
    kinds = (_kind(r) for r in releases if digest is not None and r.get("sha256") == digest)
    others = Counter(kind for kind in kinds if kind != audit)
    if others:
        held = " and ".join(f"{count} {_NOUN[kind]}" for kind, count in sorted(others.items()))
        warnings.warn(
            f"the release register holds {held} release(s) of this input, which this {_NOUN[audit]} "
            "does not link: this output is protected only against its own kind's releases, not jointly "
            "with those",
            stacklevel=2,
        )


#: How a warning names each kind of audit.
_NOUN = {
    "decisions": "decision audit",
    "biometrics": "biometric audit",
    "monitor": "monitor",
    "linkage-audit": "linkage audit",
}


def _kind(release: dict[str, Any]) -> str:
    """The audit a release's metadata names: a self-linked kind, else "decisions" (older releases name none)."""
    metadata = release.get("metadata")
    audit = metadata.get("audit") if isinstance(metadata, dict) else None
    return str(audit) if audit in SELF_LINKED else "decisions"


def release_name(spec: DecisionSpec, number: int) -> str:
    """A release's name in the register: its number and what it publishes."""
    tables = "; ".join(spec.table_sets) if spec.table_sets else ", ".join(spec.groups)
    words = [f"{number}: {tables or 'overall'}"]
    words += ["intersected"] if spec.intersect else []
    words += [f"by {spec.breakdown}"] if spec.breakdown is not None else []
    words += [f"where {spec.where}"] if spec.where is not None else []
    return " ".join(words)[:300]


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on the register (a `.lock` file beside it, 0600) for the block."""
    try:
        usable = not path.is_dir() and path.parent.is_dir()
    except OSError as problem:  # e.g. a name past the system's limits
        raise InputError(f"release register {_named(path)}: {problem.strerror}") from None
    if not usable:
        raise InputError(f"release register {_named(path)}: give a file in an existing folder")
    if path.exists() and not path.is_file():  # a FIFO or a device: no lock is made beside it
        raise InputError(f"release register {_named(path)}: not a regular file")
    lock = path.with_name(f"{path.name}.lock")
    try:
        descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as problem:
        raise InputError(f"cannot lock the release register {_named(path)}: {problem.strerror}") from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def valid_release(release: Any) -> bool:
    """A release as a register (file or ledger entry) holds it: name, digest, well-formed rows and metadata."""
    return (
        isinstance(release, dict)
        and isinstance(release.get("name"), str)
        and isinstance(release.get("sha256"), str)
        and isinstance(release.get("metadata"), dict)
        and well_formed(release.get("rows"), release["metadata"])
        and (release.get("withheld_counts") is None or _counts(release["withheld_counts"]))
    )


def _counts(counts: Any) -> bool:
    """[[attribute, group, stage, metric, part, value], ...] with a numeric value."""
    return isinstance(counts, list) and all(
        isinstance(c, list)
        and len(c) == 6
        and isinstance(c[5], int | float)
        and not isinstance(c[5], bool)
        and math.isfinite(c[5])
        for c in counts
    )
