"""The ledger's read-only page for a token holder: verify status, one case's timeline, the exported log.

The page holds no data of its own: its script asks the ledger's JSON API (`_ledger_routes`) with the
token the visitor types, so every check of the token and its role stays there (verify and export:
auditor or admin; a case: reviewer, auditor or admin). The token is kept in the page only, never stored.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from misflag.api._pages import render_page

router = APIRouter(include_in_schema=False)


@router.get("/ledger-view", response_class=HTMLResponse)
def ledger_view(request: Request) -> HTMLResponse:
    return render_page("ledger_view.html", request=request)
