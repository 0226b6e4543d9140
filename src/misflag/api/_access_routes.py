"""Signing in to a service that needs an access token (`misflag serve` beyond loopback).

`POST /login` checks a ledger token (role auditor or admin) and keeps it in an HttpOnly, SameSite=Strict
cookie, so the browser sends it with this service's own pages only; `POST /logout` removes it. API
clients send the same token as `Authorization: Bearer` instead.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from misflag.api._guard import SESSION_COOKIE, TOKEN_ROLES, Guard, token_role
from misflag.api._pages import render_page

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render_page("login.html", request=request)


@router.post("/login")
async def login(request: Request) -> Response:
    guard: Guard = request.app.state.guard
    form = await request.form()
    token, posted = str(form.get("token", "")).strip(), str(form.get("csrf_token", ""))
    if not guard.form_token_ok(request, posted):
        message = "the form's anti-forgery token is missing or stale; reload the page"
        return render_page("login.html", request=request, error=message, status=403)
    role = await run_in_threadpool(token_role, request, token) if token else None
    if role not in TOKEN_ROLES:
        message = "unknown or revoked token, or its role may not use the audit pages (auditor or admin)"
        return render_page("login.html", request=request, error=message, status=401)
    answer = RedirectResponse("/", status_code=303)
    secure = request.url.scheme == "https"
    answer.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/")
    return answer


@router.post("/logout")
def logout() -> Response:
    answer = RedirectResponse("/login", status_code=303)
    answer.delete_cookie(SESSION_COOKIE, path="/")
    return answer
