"""HTTP routes of the ledger under `misflag serve`: append events, read, verify, prove, export, tokens, rules.

Every route needs `Authorization: Bearer <token>`: none or an unknown token → 401; a role the route does
not allow → 403; a due-process violation → 409 (and the rejection is logged); an invalid event → 422.
Only tokens created in the sealed, verified chain are admitted. On PostgreSQL the service refuses to run as
the owner of the ledger's tables unless MISFLAG_LEDGER_ALLOW_OWNER=1; it seals the tail in the background.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParameter
from fastapi.responses import PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from misflag.errors import LedgerError, LedgerRuleViolation, MisflagError, RuleError
from misflag.ledger import (
    CASE_EVENTS,
    Event,
    Ledger,
    LedgerUnavailable,
    Principal,
    RuleSet,
    authenticate,
    consistency_proof,
    create_token,
    export_decision_log,
    export_ledger,
    inclusion_proof,
    list_tokens,
    log_read,
    read_case,
    read_entries,
    revoke_token,
    signed_head,
    token_id,
)

router = APIRouter(prefix="/ledger", tags=["ledger"])
_bearer = HTTPBearer(auto_error=False, description="A ledger token: misflag ledger token create")
_open_lock = threading.Lock()
ALL = ("recorder", "reviewer", "auditor", "admin")
MAX_SEQ = 2**62


class EventIn(BaseModel):
    """One case event; the actor and role are taken from the token."""

    kind: str = Field(
        description="flagged, reviewed, identity_claim, identity_verified, action, notice_sent, "
        "appeal_filed, appeal_decided or corrected"
    )
    case_id: str = Field(description="Pseudonymous case id (never a name or id number)")
    payload: dict[str, Any] = Field(default_factory=dict)
    groups: dict[str, str] = Field(default_factory=dict, description='Audit attributes, e.g. {"sex": "F"}')


class EventsIn(BaseModel):
    events: list[EventIn] = Field(min_length=1, max_length=10_000)


class TokenIn(BaseModel):
    name: str
    role: Literal["recorder", "reviewer", "auditor", "admin"]


class RulesIn(BaseModel):
    rule_set: dict[str, Any]
    reason: str = ""


def get_ledger(request: Request) -> Ledger:
    """The app's ledger, opened (and created) on first use from `settings.ledger_db`."""
    state = request.app.state
    with _open_lock:
        ledger = getattr(state, "ledger", None)
        if ledger is None:
            allowed = os.environ.get("MISFLAG_LEDGER_ALLOW_OWNER") == "1"
            try:
                ledger = Ledger.open(state.settings.ledger_db, owner="allow" if allowed else "refuse")
            except LedgerError as error:
                raise HTTPException(503, str(error)) from None
            ledger.start_sealer()
            state.ledger = ledger
    return ledger


def allow(*roles: str) -> Callable[..., Principal]:
    """A dependency admitting holders of a token with one of `roles`."""

    def check(
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
        ledger: Ledger = Depends(get_ledger),
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        try:
            principal = authenticate(ledger, credentials.credentials)
        except LedgerError as error:
            raise HTTPException(503, str(error)) from None
        if principal is None:
            raise HTTPException(401, "unknown token", headers={"WWW-Authenticate": "Bearer"})
        if principal.role not in roles:
            raise HTTPException(403, f"role {principal.role} may not do this (allowed: {', '.join(roles)})")
        return principal

    return check


def _call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a ledger call and turn misflag's errors into HTTP answers."""
    try:
        return function(*args, **kwargs)
    except LedgerRuleViolation as error:
        raise HTTPException(409, str(error)) from None
    except LedgerUnavailable as error:
        raise HTTPException(503, str(error)) from None
    except (RuleError, LedgerError) as error:
        raise HTTPException(422, str(error)) from None
    except MisflagError as error:
        raise HTTPException(400, str(error)) from None


@router.post("/events")
def append_events(
    body: EventsIn,
    who: Principal = Depends(allow("recorder", "reviewer", "admin")),
    ledger: Ledger = Depends(get_ledger),
) -> dict[str, Any]:
    """Append events atomically (all or none); each is checked against the due-process rules."""
    for item in body.events:
        roles = CASE_EVENTS.get(item.kind, (None, ALL))[1]
        if who.role not in roles:
            raise HTTPException(
                403, f"role {who.role} may not record {item.kind} (allowed: {', '.join(roles)})"
            )
    events = [
        _call(Event.from_dict, item.model_dump(), actor=who.name, role=who.role, actor_id=who.token_id)
        for item in body.events
    ]
    return {"entries": _call(ledger.append, events)}


@router.get("/entries")
def entries(
    start: int = Query(0, ge=0, le=MAX_SEQ),
    limit: int = Query(100, ge=1, le=10_000),
    who: Principal = Depends(allow("auditor", "admin")),
    ledger: Ledger = Depends(get_ledger),
) -> dict[str, Any]:
    """Entries from `start` with their hashes (auditor reads are logged)."""
    return {"entries": _call(read_entries, ledger, start=start, limit=limit, reader=who)}


@router.get("/cases/{case_id}")
def case(
    case_id: str,
    who: Principal = Depends(allow("reviewer", "auditor", "admin")),
    ledger: Ledger = Depends(get_ledger),
) -> dict[str, Any]:
    """Every entry of one case (auditor reads are logged); unknown case → 404."""
    found = _call(_case_or_none, ledger, case_id, who)
    if found is None:
        raise HTTPException(404, f"no case {case_id!r}")
    return {"case_id": case_id, "entries": found}


def _case_or_none(ledger: Ledger, case_id: str, who: Principal) -> list[dict[str, Any]] | None:
    try:
        return read_case(ledger, case_id, reader=who)
    except LedgerUnavailable:
        raise
    except LedgerError:
        return None


@router.get("/verify")
def verify(
    require_sealed: bool = False,
    key_fingerprint: str | None = Query(
        None,
        max_length=64,
        description="The signing key's fingerprint you were told out of band (`misflag ledger init` "
        "prints it): only the key with that id is trusted, and only then can the answer be ok. Without "
        "it the check runs under the service's own key anchors and a consistent ledger is answered "
        "`unpinned` (ok false), with the fingerprint to compare with the one you were given.",
    ),
    who: Principal = Depends(allow("auditor", "admin")),
    ledger: Ledger = Depends(get_ledger),
) -> dict[str, Any]:
    """Check the whole chain and every checkpoint against the key pinned by `key_fingerprint`; without it,
    against the service's own anchors, which can show the ledger consistent but never ok."""
    _call(log_read, ledger, who, "verify", {})
    report: dict[str, Any] = _call(
        ledger.verify, require_sealed=require_sealed, key_fingerprint=key_fingerprint
    ).to_dict()
    anchors = ", ".join(report["anchors"]) or "none"
    report["trusted"] = (
        f"key {key_fingerprint.strip().lower()}, pinned by the caller"
        if key_fingerprint is not None
        else f"the service's own key anchors ({anchors}; the operator's view): not ok until you pass "
        "key_fingerprint, the fingerprint you were told out of band"
    )
    return report


@router.get("/checkpoints")
def checkpoints(
    who: Principal = Depends(allow(*ALL)), ledger: Ledger = Depends(get_ledger)
) -> dict[str, Any]:
    """Every signed checkpoint and the trusted keys that sign them (pinned, or handed over by a signed
    rotation; never keys merely stored in the database)."""
    keys = {name: value.hex() for name, value in _call(ledger.authority).schedule.ever.items()}
    return {"checkpoints": _call(ledger.checkpoints), "public_keys": keys}


@router.post("/checkpoints")
def seal(
    who: Principal = Depends(allow("recorder", "admin")), ledger: Ledger = Depends(get_ledger)
) -> dict[str, Any]:
    """Seal every entry so far under a new signed checkpoint; the answer is a signed tree head."""
    return signed_head(_call(ledger.checkpoint))


@router.get("/heads/latest", response_class=PlainTextResponse)
def latest_head(who: Principal = Depends(allow(*ALL)), ledger: Ledger = Depends(get_ledger)) -> str:
    """The latest signed tree head as one JSON line: a witness appends it to its own file
    (`curl ... >> witness.jsonl`) and later checks the ledger with `misflag ledger verify --witness`."""
    marks = _call(ledger.checkpoints)
    if not marks:
        raise HTTPException(404, "no checkpoint yet")
    return json.dumps(signed_head(marks[-1]), sort_keys=True) + "\n"


@router.get("/proofs/inclusion")
def prove_inclusion(
    seq: int = Query(..., ge=0, le=MAX_SEQ),
    tree_size: int | None = Query(None, ge=1, le=MAX_SEQ),
    who: Principal = Depends(allow("auditor", "admin")),
    ledger: Ledger = Depends(get_ledger),
) -> dict[str, Any]:
    """Proof that entry `seq` is in a signed checkpoint (checkable offline: misflag ledger check-proof)."""
    _call(log_read, ledger, who, "inclusion_proof", {"seq": seq})
    proof: dict[str, Any] = _call(inclusion_proof, ledger, seq, tree_size)
    return proof


@router.get("/proofs/consistency")
def prove_consistency(
    first: int = Query(..., ge=1, le=MAX_SEQ),
    second: int | None = Query(None, ge=1, le=MAX_SEQ),
    who: Principal = Depends(allow("auditor", "admin")),
    ledger: Ledger = Depends(get_ledger),
) -> dict[str, Any]:
    """Proof that one signed checkpoint is a prefix of a later one."""
    _call(log_read, ledger, who, "consistency_proof", {"first": first, "second": second})
    proof: dict[str, Any] = _call(consistency_proof, ledger, first, second)
    return proof


@router.get("/export")
def export(
    format: Literal["csv", "parquet", "ledger"] = "csv",
    who: Principal = Depends(allow("auditor", "admin")),
    ledger: Ledger = Depends(get_ledger),
) -> Response:
    """The decision log (one row per case) for `misflag decisions audit` (CSV cells neutralised against
    formulas), or with format=ledger every row of the ledger, for `misflag ledger verify --export`: the
    rows as they stand, an unsealed tail included (a read seals nothing; `POST /ledger/checkpoints` does)."""
    _call(log_read, ledger, who, "export", {"format": format})
    name = "ledger.jsonl" if format == "ledger" else f"decision-log.{format}"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        if format == "ledger":
            _call(export_ledger, ledger, path, seal=False)  # a GET writes no checkpoint
        else:
            _call(export_decision_log, ledger, path, format)
        content = path.read_bytes()
    media = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet", "ledger": "application/x-ndjson"}
    return Response(
        content,
        media_type=media[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/tokens")
def new_token(
    body: TokenIn, who: Principal = Depends(allow("admin")), ledger: Ledger = Depends(get_ledger)
) -> dict[str, Any]:
    """Create a token; it is shown once and stored only as a hash. Its id names it in listings and revocation."""
    token = _call(create_token, ledger, body.name, body.role, actor=who.name)
    return {"id": token_id(token), "name": body.name, "role": body.role, "token": token}


@router.get("/tokens")
def tokens(
    who: Principal = Depends(allow("admin")), ledger: Ledger = Depends(get_ledger)
) -> list[dict[str, Any]]:
    """Every token ever made: id, holder, role, when made, and when and by whom revoked (no secrets)."""
    listed: list[dict[str, Any]] = _call(list_tokens, ledger)
    return listed


@router.post("/tokens/{token_id}/revoke")
def revoke(
    identifier: str = PathParameter(
        ...,
        alias="token_id",
        pattern="^[0-9a-f]{16}$",
        description="The token's id, from GET /ledger/tokens.",
    ),
    who: Principal = Depends(allow("admin")),
    ledger: Ledger = Depends(get_ledger),
) -> dict[str, Any]:
    """Revoke a token for good; the revocation is a ledger entry. Requests with it then get 401."""
    receipt: dict[str, Any] = _call(revoke_token, ledger, identifier, actor=who.name)
    return receipt


@router.get("/rules")
def rules(who: Principal = Depends(allow(*ALL)), ledger: Ledger = Depends(get_ledger)) -> dict[str, Any]:
    """The due-process rule set in force."""
    rule_set: dict[str, Any] = _call(ledger.rules).to_dict()
    return rule_set


@router.put("/rules")
def set_rules(
    body: RulesIn, who: Principal = Depends(allow("admin")), ledger: Ledger = Depends(get_ledger)
) -> dict[str, Any]:
    """Put a new rule set in force; loosening needs a reason and is logged as a signed entry."""
    new = _call(RuleSet.from_dict, body.rule_set)
    receipt: dict[str, Any] = _call(ledger.set_rules, new, actor=who.name, reason=body.reason)
    return receipt
