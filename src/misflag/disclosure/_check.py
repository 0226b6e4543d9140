"""`misflag disclosure check OUTPUT... [--input DATA]`: the LP audit over saved outputs jointly, the
auditor's last check before publishing them.

Without the data the check cannot tell which withheld counts are sensitive, so it audits every one that
is not known to hold `min_cell` or more people, and lists counts of 10 read as "7 to 11 people" that
the audit itself rightly published. With the data (`data=`, `--input`), every bundle of that input (the
same sha256 in its metadata) has its withheld counts counted again from it (its spec run with nothing
withheld, `_counted`, as the ledger register does), and only the counts of 1 to min_cell - 1 people
are audited, min_cell being the auditor's (`--min-cell`): a bundle's own min_cell, which anyone can
edit, only raises it. Outputs of another input, and plain rows, which name no
input, are checked as without the data (every withheld count possibly sensitive) and listed as such.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from misflag._text import shown
from misflag.disclosure._audit import DisclosureAudit, audit_outputs
from misflag.disclosure._counted import sensitive_counts
from misflag.disclosure._goal import protection_level
from misflag.disclosure._load import load_output, parsed
from misflag.disclosure._model import Output
from misflag.disclosure._register import CountKey, Releases, release_min_cell
from misflag.disclosure._where_cells import tied_expressions
from misflag.errors import InputError, MisflagError, literal, named_path

#: Most distinct input digests an error names (a release of many inputs is named by its first ones).
NAMED_DIGESTS = 5


@dataclass(frozen=True)
class ReleaseCheck:
    """What the check found: the joint audit of the outputs, and, when the data was given, which
    outputs' withheld counts were counted again from it and which were checked with values unknown."""

    audit: DisclosureAudit
    outputs: tuple[Output, ...]
    min_cell: int
    data: Path | None = None
    counted: tuple[str, ...] = ()  # outputs of `data`: only their sensitive withheld counts audited
    unknown: tuple[str, ...] = ()  # with `data`: outputs of another input, or naming none


def check_outputs(
    paths: Sequence[str | Path], *, min_cell: int = 10, data: str | Path | None = None
) -> ReleaseCheck:
    """The LP audit over the saved outputs at `paths` jointly, at the protection level
    ceil(min_cell / 2) (docs/disclosure.md "Checking a release"). With `data` (the CSV or Parquet file
    the outputs were audited from), only the withheld counts that truly hold 1 to min_cell - 1 people
    are audited (a bundle's own min_cell counts only where it is higher)."""
    if isinstance(min_cell, bool) or not isinstance(min_cell, int) or min_cell < 1:
        raise InputError("{min_cell} must be a whole number of 1 or more", parameter="min_cell")
    if not paths:
        raise InputError("give at least one saved output to check")
    files = [Path(p) for p in paths]
    outputs = [load_output(path) for path in files]  # one clear error for a file that is not an output
    _refuse_tied(outputs)
    if data is None:
        audit = audit_outputs(outputs, protection_level(min_cell), sensitive_below=min_cell)
        return ReleaseCheck(audit, tuple(outputs), min_cell)
    if not isinstance(data, str | Path):
        raise InputError(f"{{data}} must be a file path, got {type(data).__name__}", parameter="data")
    source = _input_file(Path(data))
    with ExitStack() as stack:
        digest = _digest(source, stack)
        payloads = [_payload(path, output) for path, output in zip(files, outputs, strict=True)]
        ours = [payload is not None and _digest_of(payload) == digest for payload in payloads]
        if not any(ours):
            raise InputError(_none_match(source, digest, payloads))
        values: dict[str, dict[CountKey, float] | None] = {}
        for path, output, payload, mine in zip(files, outputs, payloads, ours, strict=True):
            values[output.name] = (
                _counted_again(path, payload, source, digest, min_cell) if mine and payload else None
            )
        # on the data: a --where over group expressions linked by the cells it keeps (`_where_cells`), and
        # the census (what no one holds is a known zero: a grouping nested in another, or one following
        # the truth or a flag, as a reader sees it)
        reader = Releases((), {}, source=source)
        groups = tuple(dict.fromkeys(g for o in outputs for g in o.groups))
        outputs = [
            reader.linked(o, digest, groups) if mine else o for o, mine in zip(outputs, ours, strict=True)
        ]
    # a bundle made at a higher min_cell keeps its counts sensitive, and its protection level, up to it
    made_at = [
        release_min_cell(p.get("metadata")) for p, mine in zip(payloads, ours, strict=True) if mine and p
    ]
    level = max([min_cell, *made_at])
    known = Releases(tuple(outputs), values)
    audit = audit_outputs(
        outputs,
        protection_level(level),
        lambda target: known.value(target.rows),
        sensitive_below=level,
    )
    counted = tuple(o.name for o, mine in zip(outputs, ours, strict=True) if mine)
    unknown = tuple(o.name for o, mine in zip(outputs, ours, strict=True) if not mine)
    return ReleaseCheck(audit, tuple(outputs), level, source, counted, unknown)


def _refuse_tied(outputs: Sequence[Output]) -> None:
    """InputError where an output's group expression or --where reads the truth or a decision and a
    count is withheld: the check's reader model does not hold that tie (a group's people share a truth
    or a flag), and a reader who knows it can pin counts the check would certify
    (tests/security/test_group_truth_ties.py); the release register refuses such an output too."""
    if not any(row.get("suppressed") for output in outputs for row in output.rows):
        return
    tied = next(((o.name, e) for o in outputs for e in tied_expressions(o)), None)
    if tied is not None:
        raise InputError(
            f"cannot certify these outputs: {literal(shown(tied[1]))} of output {literal(shown(tied[0]))} "
            "reads the truth or a decision, and counts are withheld: a reader who knows that its people "
            "share a truth or a flag could pin counts this check's model leaves open; check (and publish) "
            "the outputs without it"
        )


def _input_file(path: Path) -> Path:
    try:
        found = path.is_file()
    except (OSError, ValueError):  # a name past the system's limit, or one holding a NUL byte
        found = False
    if not found:
        raise InputError(
            f"input {named_path(path)} is not a file: give the CSV or Parquet file the outputs were audited from"
        )
    return path


def _digest(source: Path, stack: ExitStack) -> str:
    """The input's sha256, hashed once for the whole check (each re-run reads it, unchanged, without
    hashing it again; a change since is caught by the re-run's own digest)."""
    from misflag.io._readers import hashed_once

    try:
        return stack.enter_context(hashed_once(source))
    except OSError as problem:
        raise InputError(f"cannot read input {named_path(source)}: {problem.strerror or problem}") from None


def _payload(path: Path, output: Output) -> dict[str, Any] | None:
    """A bundle's rows and metadata (None for plain rows: they name no input), read again from the
    file that `load_output` read; refused when the file changed in between."""
    if path.suffix.lower() == ".csv":
        return None
    try:
        data = parsed(path, path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, InputError):  # unreadable now, or no longer JSON: the file changed
        data = None
    if isinstance(data, list) and data == output.rows:
        return None
    if not isinstance(data, dict) or data.get("rows") != output.rows:
        raise InputError(f"output {named_path(path)} changed while it was checked: check it again")
    return data


def _digest_of(payload: dict[str, Any]) -> str | None:
    digest = (payload["metadata"].get("input") or {}).get("sha256")
    return digest if isinstance(digest, str) else None


def _none_match(source: Path, digest: str, payloads: list[dict[str, Any] | None]) -> str:
    """The error for an input that is none of the outputs' input, naming the digests."""
    theirs = list(dict.fromkeys(d for p in payloads if p is not None and (d := _digest_of(p)) is not None))
    if not theirs:
        named = "none of them names its input's sha256 (plain rows, or outputs of an in-memory table)"
    else:
        more = f" and {len(theirs) - NAMED_DIGESTS} more" if len(theirs) > NAMED_DIGESTS else ""
        listed = (d if re.fullmatch("[0-9a-f]{64}", d) else literal(shown(d)) for d in theirs[:NAMED_DIGESTS])
        named = "theirs have sha256 " + ", ".join(listed) + more
    return (
        f"input {named_path(source)} (sha256 {digest}) is the input of none of these outputs: {named}; "
        "give the file they were audited from"
    )


def _counted_again(
    path: Path, payload: dict[str, Any], source: Path, digest: str, min_cell: int
) -> dict[CountKey, float]:
    """The output's sensitive withheld counts at the auditor's `min_cell` (its own only where higher),
    its spec run again on `source`; an error of the re-run names the output (the settings are the
    output's, not the user's)."""
    from misflag.decisions import run_audit

    problem = f"output {named_path(path)} cannot be counted again from {named_path(source)}"
    if not isinstance(payload["metadata"].get("spec"), dict):
        raise InputError(f"{problem}: its metadata has no spec")
    try:
        return sensitive_counts(payload, lambda spec: run_audit(spec, str(source)), digest, min_cell)
    except MisflagError as error:
        raise InputError(f"{problem}: {literal(error.render())}") from None
