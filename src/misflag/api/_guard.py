"""The service's front door, one ASGI middleware around every route (the ledger's included).

In order, for each request:
  * Host: only the names in `allowed_hosts` (loopback by default) are served, so a web page whose DNS
    name was rebound to 127.0.0.1 cannot read or drive the service (400);
  * cross-site writes: a POST/PUT/PATCH/DELETE whose Origin (or Referer, or Sec-Fetch-Site) shows another
    site is refused (403); the pages' own forms also carry an anti-forgery token bound to a cookie;
  * access token: when the service is reachable beyond loopback, every route needs a ledger token of role
    auditor or admin, as `Authorization: Bearer` or the cookie set by /login (401);
  * body size: counted while it streams, refused past the limit of its route (413), never read whole;
  * every response gets the security headers (CSP unless the route set its own, nosniff, no framing,
    referrer to other sites); an unexpected error becomes a one-line 500 with the same headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from misflag._text import shown
from misflag.api._pages import DEFAULT_CSP, reply
from misflag.api._settings import ServeSettings
from misflag.errors import InputError, literal

log = logging.getLogger("misflag.serve")

FORM_COOKIE = "misflag_form"
SESSION_COOKIE = "misflag_token"
TOKEN_ROLES = ("auditor", "admin")
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{43}\Z")
#: RFC 3986 `host [":" port]`, the host an IPv6 literal or a DNS name (ASCII only, checked before lower()).
_HOST_HEADER = re.compile(
    r"(?:\[(?P<literal>[0-9A-Fa-f:.]+)\]|(?P<name>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?))(?::(?P<port>[0-9]{1,5}))?",
    re.ASCII,
)
#: Multipart framing around an uploaded file (boundaries, part headers, the anti-forgery field).
_MULTIPART_SLACK = 64 * 1024
#: Routes that take files; every other route takes at most `max_body_bytes`.
_UPLOAD_ROUTES = re.compile(
    r"^/(api/uploads|upload|inventory/[a-z]+|audits/[a-z-]+/upload|audits/[a-z-]+/uploads/[0-9a-f]{32}/records)/?\Z"
)
#: Routes open without an access token: the login page and the static assets of /docs.
_OPEN_ROUTES = re.compile(r"^/(login|logout|static/.*)\Z")
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # not no-referrer: under it browsers send `Origin: null` with the service's own form posts, and the
    # Origin check could no longer tell them from a sandboxed attacker's; no URL leaves the site either way
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


class BodyTooLarge(HTTPException):
    """A request body grew past its route's limit while streaming."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit:,} bytes")


class Guard:
    """Per-app secrets and checks: host names, origins, form tokens, access tokens, body limits."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.hosts = frozenset(host_name(h) for h in settings.allowed_hosts)
        self._secret = secrets.token_bytes(32)

    def form_token(self, request: Request) -> str:
        """The anti-forgery token a page puts in its forms: an HMAC of the visitor's form cookie."""
        cookie = request.scope.get("state", {}).get(FORM_COOKIE) or request.cookies.get(FORM_COOKIE, "")
        digest = hmac.new(self._secret, cookie.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def form_token_ok(self, request: Request, value: str) -> bool:
        """Whether a posted form token matches the cookie the browser sent with the post."""
        cookie = request.cookies.get(FORM_COOKIE, "")
        return bool(_COOKIE_VALUE.match(cookie)) and hmac.compare_digest(self.form_token(request), value)

    def body_limit(self, path: str) -> int:
        if _UPLOAD_ROUTES.match(path):
            return self.settings.max_upload_bytes + _MULTIPART_SLACK
        return self.settings.max_body_bytes

    def refusal(self, request: Request) -> tuple[int, str] | None:
        """Why this request is refused before any route sees it (status, one line), or None."""
        headers = request.headers
        host = headers.get("host", "")
        if host_of_header(host) not in self.hosts:
            shown = ", ".join(sorted(self.hosts))
            return 400, f"this service answers only to the host names {shown} (add one with --allowed-host)"
        if request.method in _UNSAFE and _cross_site(headers, host):
            return 403, "cross-site request refused: post from this service's own pages"
        declared = headers.get("content-length", "")
        limit = self.body_limit(request.url.path)
        if declared.isdigit() and int(declared) > limit:
            return 413, f"the request body is larger than the limit of {limit:,} bytes"
        return None

    async def unauthenticated(self, request: Request) -> tuple[int, str] | None:
        """Why a request lacks access when tokens are required (status, one line), or None."""
        path = request.url.path
        if not self.settings.require_token or _OPEN_ROUTES.match(path) or path.startswith("/ledger/"):
            return None
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        token = credential.strip() if scheme.lower() == "bearer" else request.cookies.get(SESSION_COOKIE, "")
        if not token:
            return 401, "this service needs an access token: sign in at /login or send Authorization: Bearer"
        role = await run_in_threadpool(token_role, request, token)
        if role is None:
            return 401, "unknown or revoked access token"
        if role not in TOKEN_ROLES:
            return 403, f"role {role} may not use the audit pages (allowed: {', '.join(TOKEN_ROLES)})"
        return None


def token_role(request: Request, token: str) -> str | None:
    """The role of a live ledger token, or None (unknown, revoked, or the ledger cannot be read)."""
    from misflag.api._ledger_routes import get_ledger
    from misflag.errors import LedgerError
    from misflag.ledger import authenticate

    try:
        principal = authenticate(get_ledger(request), token)
    except (HTTPException, LedgerError):
        return None
    return principal.role if principal else None


def host_of_header(value: str) -> str | None:
    """The host of a Host header, normalised, or None unless it is RFC 3986 `host [":" port]`.

    The host is an IPv6 literal in brackets (no zone, written back in its compressed form) or a DNS name
    (letters, digits and hyphens in dot-separated labels, an IPv4 address included; a final dot dropped,
    lower case). RFC 3986's percent-encoding, sub-delimiters and IPvFuture are refused, as is anything
    after the host but a port of 1-65535: `[::1].evil.com` and `127.0.0.1:8000@evil.com` are no hosts.
    """
    found = _HOST_HEADER.fullmatch(value.strip(" \t"))
    if found is None:
        return None
    port = found.group("port")
    if port is not None and not 1 <= int(port) <= 65535:
        return None
    if found.group("literal") is not None:
        try:
            return f"[{ipaddress.IPv6Address(found.group('literal')).compressed}]"
        except ValueError:
            return None
    name = found.group("name").lower().removesuffix(".")
    return name if len(name) <= 253 else None


def host_name(entry: str) -> str:
    """An allowed-host entry (`--allowed-host`, the bound address) as `host_of_header` writes it.

    An entry may also be a bare IPv6 address, as `--host` takes it. Raises InputError for anything else.
    """
    text = entry.strip()
    if text.count(":") > 1 and not text.startswith("["):
        text = f"[{text}]"
    name = host_of_header(text)
    if name is None:
        raise InputError(
            f"allowed host {literal(shown(entry, 80))} is not a host name, IPv4 or [IPv6] address"
        )
    return name


def _cross_site(headers: Headers, host: str) -> bool:
    """Whether a browser says this write comes from another site (non-browser clients send no Origin).

    `Origin: null` (a sandboxed frame, a data: URL, a page under no-referrer) passes only when the
    browser's Sec-Fetch-Site says the request is same-origin."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site not in {None, "same-origin", "none"}:
        return True
    origin = headers.get("origin") or headers.get("referer")
    if origin is None:
        return False
    if origin == "null":
        return fetch_site != "same-origin"
    return urlsplit(origin).netloc.lower() != host.strip().lower()


class GuardMiddleware:
    """Pure ASGI middleware applying a `Guard` to every HTTP request and response."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app, self.guard = app, guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        new_cookie = None
        if not _COOKIE_VALUE.match(request.cookies.get(FORM_COOKIE, "")):
            new_cookie = secrets.token_urlsafe(32)
            scope.setdefault("state", {})[FORM_COOKIE] = new_cookie
        secure = scope.get("scheme") == "https"
        state: dict[str, Any] = {"started": False, "too_large": False, "swallow": False}
        limit = self.guard.body_limit(request.url.path)

        async def decorated_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                if state["started"]:
                    return
                state["started"] = True
                _add_headers(message, new_cookie, secure)
            await send(message)

        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] = state.get("received", 0) + len(message.get("body", b""))
                if state["received"] > limit:
                    state["too_large"] = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            if state["swallow"]:
                return
            if message["type"] == "http.response.start" and state["too_large"] and message["status"] != 413:
                state["swallow"] = True
                await _send_reply(request, 413, BodyTooLarge(limit).detail, decorated_send)
                return
            await decorated_send(message)

        problem = self.guard.refusal(request) or await self.guard.unauthenticated(request)
        if problem is not None:
            await _send_reply(request, *problem, decorated_send)
            return
        try:
            await self.app(scope, counted_receive, guarded_send)
        except BodyTooLarge as error:
            if not state["started"]:
                await _send_reply(request, 413, str(error.detail), decorated_send)
        except Exception as error:  # a bug: one line for the client, the traceback for the server log
            log.exception("internal error on %s", request.url.path)
            if state["started"]:
                raise
            message = f"internal error ({type(error).__name__}); please report it"
            await _send_reply(request, 500, message, decorated_send)


async def _send_reply(request: Request, status: int, message: str, send: Send) -> None:
    response = reply(request, status, message)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"

    async def no_body() -> Message:
        return {"type": "http.disconnect"}

    await response(request.scope, no_body, send)


def _add_headers(message: MutableMapping[str, Any], new_cookie: str | None, secure: bool) -> None:
    headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
    present = {name.lower() for name, _ in headers}
    if b"content-security-policy" not in present:
        headers.append((b"content-security-policy", DEFAULT_CSP.encode()))
    headers += [(name, value) for name, value in SECURITY_HEADERS if name not in present]
    if new_cookie is not None:
        flags = "; Secure" if secure else ""
        cookie = f"{FORM_COOKIE}={new_cookie}; Path=/; HttpOnly; SameSite=Strict{flags}"
        headers.append((b"set-cookie", cookie.encode()))
    message["headers"] = headers
