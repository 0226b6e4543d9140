"""The release register in a ledger (`misflag decisions audit --ledger URL`): every release of an input is a
sealed `released` entry holding only what was published, and a new audit of the same input is protected
against all of them, or refused, as with the register file (docs/disclosure.md).

A ledger entry is what a flagged person may be shown, so it never holds a withheld value. The true
values a later audit needs (which of an earlier release's withheld counts are sensitive, 1 to min_cell
- 1 people) are counted again from the data being audited: the earlier release's own spec, run with
nothing withheld on the same input (the same digest; `_counted`, shared with `disclosure check
--input`). Reading the releases, auditing and recording are not one transaction (an audit takes long,
the ledger's writers wait for none): the record is appended only if no release of the input arrived
meanwhile, checked in the appending transaction; else the audit runs again against it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from misflag._text import shown
from misflag.disclosure._counted import Run, plain, sensitive_counts
from misflag.disclosure._load import bundle_output
from misflag.disclosure._register import SELF_LINKED, input_file, release_name, valid_release, warn_unlinked
from misflag.disclosure._releases import RELEASED, CountKey, Releases, release_min_cell
from misflag.errors import InputError, LedgerError, MisflagError, literal
from misflag.result import AuditResult

if TYPE_CHECKING:
    from misflag.decisions import DecisionSpec
    from misflag.ledger import Ledger

#: Audits of one input tried before giving up when other audits of it keep recording releases meanwhile.
ATTEMPTS = 5


def audit_in_ledger(spec: DecisionSpec, run: Run, digest: str, source: Path) -> AuditResult:
    """`run(spec)` protected against every release of the input `digest` (the file `source`) recorded
    in the ledger `spec.ledger`, then recorded there (nothing is recorded when the audit refuses). The
    ledger's URL is never published: the output's spec has `ledger` null and `protect_releases` true."""
    from misflag.ledger import Ledger

    store = Ledger.open(str(spec.ledger), create=False)
    try:
        store.require_signing_key()  # before the audit: a release is sealed when it is recorded
        return _audit(store, spec, run, digest, source)
    finally:
        store.close()


def _audit(store: Ledger, spec: DecisionSpec, run: Run, digest: str, source: Path) -> AuditResult:
    from misflag.ledger._releases import record_release, releases_of

    inner = replace(spec, ledger=None, release_register=None, protect_releases=False)
    counted: dict[int, dict[CountKey, float]] = {}  # per release entry: its sensitive withheld counts
    for _ in range(ATTEMPTS):
        everything = releases_of(store, digest)
        earlier = [(s, p) for s, p in everything if not _self_linked(p)]  # a biometric release: its own model
        for seq, payload in earlier:
            if seq not in counted:
                counted[seq] = _counted_again(seq, checked_release(seq, payload), run, digest)
        outputs = tuple(bundle_output(p["name"], p["rows"], p["metadata"]) for _, p in earlier)
        values: dict[str, dict[CountKey, float] | None] = {p["name"]: counted[s] for s, p in earlier}
        min_cells = {p["name"]: release_min_cell(p["metadata"]) for _, p in earlier}
        token = RELEASED.set(Releases(outputs, values, min_cells=min_cells, source=source))
        try:
            result = run(inner)
        finally:
            RELEASED.reset(token)
        result.metadata["spec"]["protect_releases"] = True
        warn_unlinked([p for _, p in everything if isinstance(p, dict)], digest, "decisions")
        result.metadata["release"] = release_name(spec, len(everything) + 1)
        seen = [seq for seq, _ in everything]
        if record_release(store, release_payload(result, digest, seen), seen):
            return result
    raise InputError(
        f"other audits of this input kept recording releases in the ledger ({ATTEMPTS} tries); "
        "nothing was recorded: run the audit again"
    )


def audit_linked_in_ledger(
    url: str,
    source: Any,
    audit: str,
    run: Callable[[list[dict[str, Any]]], AuditResult],
    describe: Callable[[int], str],
) -> AuditResult:
    """`disclosure._register.audit_linked` with the releases kept in the ledger at `url`: `run(earlier)`
    gets the input's earlier releases by an audit of the same kind (`audit`, the metadata's "audit"),
    whose output is recorded as a sealed `released` entry holding only what it publishes (the biometric
    audit counts withheld values again from the data itself), appended only if the input's releases are
    still those read (else audited again, as `audit_in_ledger`)."""
    from misflag.io._readers import hashed_once
    from misflag.ledger import Ledger
    from misflag.ledger._releases import record_release, releases_of

    with hashed_once(input_file(source)) as digest:
        store = Ledger.open(url, create=False)
        try:
            store.require_signing_key()  # before the audit: a release is sealed when it is recorded
            for _ in range(ATTEMPTS):
                everything = releases_of(store, digest)
                earlier = [
                    checked_release(seq, payload)
                    for seq, payload in everything
                    if isinstance(payload, dict) and (payload.get("metadata") or {}).get("audit") == audit
                ]
                result = run(earlier)
                if (result.metadata.get("input") or {}).get("sha256") != digest:
                    raise InputError(
                        "the input changed while it was audited; nothing was recorded: run the audit again"
                    )
                warn_unlinked([p for _, p in everything if isinstance(p, dict)], digest, audit)
                result.metadata["release"] = describe(len(everything) + 1)
                seen = [seq for seq, _ in everything]
                payload = {
                    "name": result.metadata["release"],
                    "sha256": digest,
                    "earlier": seen,
                    "rows": plain(result.rows()),
                    "metadata": plain(result.metadata),
                }
                if record_release(store, payload, seen):
                    return result
        finally:
            store.close()
    raise InputError(
        f"other audits of this input kept recording releases in the ledger ({ATTEMPTS} tries); "
        "nothing was recorded: run the audit again"
    )


def _self_linked(payload: Any) -> bool:
    """A release an audit of another kind links with its own model (`SELF_LINKED`): not this reader's."""
    metadata = payload.get("metadata") if isinstance(payload, dict) else None
    return isinstance(metadata, dict) and metadata.get("audit") in SELF_LINKED


def release_payload(result: AuditResult, digest: str, earlier: Sequence[int] = ()) -> dict[str, Any]:
    """What a release entry holds: the rows and metadata as published (plain JSON: a number JSON cannot
    hold is null, as in the rows), the input's sha256, its --where and groups, and the entries of the
    input's earlier releases it was protected against (so that a later audit sees one of them cut)."""
    return payload_of(result.metadata["release"], result.rows(), result.metadata, digest, earlier)


def payload_of(
    name: str, rows: list[dict[str, Any]], metadata: dict[str, Any], digest: str, earlier: Sequence[int]
) -> dict[str, Any]:
    """`release_payload` of a decision output given as its published rows and metadata (a saved bundle's,
    for `misflag disclosure release --ledger`)."""
    spec = metadata["spec"]
    return {
        "name": name,
        "sha256": digest,
        "earlier": list(earlier),
        "where": spec.get("where"),
        "groups": list(spec.get("groups") or ()),
        "rows": plain(rows),
        "metadata": plain(metadata),
    }


def _counted_again(seq: int, payload: dict[str, Any], run: Run, digest: str) -> dict[CountKey, float]:
    """`sensitive_counts` of ledger entry `seq`; an error of its re-run names the entry (the settings
    are the entry's, not the user's)."""
    try:
        return sensitive_counts(payload, run, digest)
    except MisflagError as error:
        raise LedgerError(
            f"ledger entry {seq} (release {literal(shown(payload['name']))}) cannot be run again on this "
            f"input: {error.template}"
        ) from None


def checked_release(seq: int, payload: Any) -> dict[str, Any]:
    """A release entry's payload, refused in one line when it is not one (the writer vouched for it, so
    only another program writing through the service could have made it)."""
    if not isinstance(payload, dict) or not valid_release(payload):
        raise LedgerError(f"ledger entry {seq} is not a misflag release (its rows or metadata are malformed)")
    if not isinstance(payload["metadata"].get("spec"), dict):
        raise LedgerError(f"ledger entry {seq} is not a misflag release (its metadata has no spec)")
    return payload
