"""Server-rendered pages of the audit web service (Jinja2, autoescaped; they reuse the report's blocks).

Each page gets its own Content-Security-Policy: scripts only with the page's nonce, nothing loaded from
another host. A stored HTML report, whose Vega scripts are inlined, is served with the SHA-256 hashes of
exactly those scripts (Vega compiles its expressions, hence 'unsafe-eval' on report pages only).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from functools import cache
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.requests import Request

from misflag import __version__

_COMMON = "default-src 'none'; base-uri 'none'; frame-ancestors 'none'"
#: Every response without a policy of its own (JSON, files, errors, /docs).
DEFAULT_CSP = (
    f"{_COMMON}; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'"
)
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\btype=\"application/json\")[^>]*>(.*?)</script>", re.S)


@cache
def _environment() -> jinja2.Environment:
    loader = jinja2.ChoiceLoader(
        [
            jinja2.PackageLoader("misflag.api", "templates"),
            jinja2.PackageLoader("misflag.report", "templates"),
        ]
    )
    from misflag.report._write import environment as report_environment

    environment = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)
    environment.filters["spec_json"] = report_environment().filters["spec_json"]
    return environment


def page_csp(nonce: str, charts: bool = False) -> str:
    """The policy of a rendered page: its own inline scripts (by nonce), fetches to this service only.

    A page with charts also runs this service's own copy of the report's Vega scripts, which compile
    their expressions (hence 'unsafe-eval', as on report pages)."""
    scripts = f"'nonce-{nonce}'" + (" 'self' 'unsafe-eval'" if charts else "")
    return (
        f"{_COMMON}; script-src {scripts}; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "connect-src 'self'; form-action 'self'"
    )


def render_page(
    name: str, *, request: Request | None = None, status: int = 200, charts: bool = False, **context: Any
) -> HTMLResponse:
    """A page from its template; `error` (one line) is shown at the top when given.

    With the request, the page's forms get its anti-forgery token (`form_token`); `charts` allows the
    report's chart scripts (`page_csp`)."""
    context.setdefault("error", None)
    nonce = secrets.token_urlsafe(16)
    guard = getattr(request.app.state, "guard", None) if request is not None else None
    token = guard.form_token(request) if guard is not None and request is not None else ""
    text = (
        _environment()
        .get_template(name)
        .render(version=__version__, csp_nonce=nonce, form_token=token, **context)
    )
    return HTMLResponse(
        text, status_code=status, headers={"Content-Security-Policy": page_csp(nonce, charts)}
    )


def report_csp(html: str) -> str:
    """The policy of a stored report: exactly its inline scripts (SHA-256), inline styles, data images."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"{_COMMON}; script-src {hashes or chr(39) + 'none' + chr(39)} 'unsafe-eval'; "
        "style-src 'unsafe-inline'; img-src data: blob:; form-action 'none'"
    )


def report_response(html: str, filename: str | None = None) -> HTMLResponse:
    """A stored HTML report, inline, or as a download when `filename` is given."""
    headers = {"Content-Security-Policy": report_csp(html)}
    if filename is not None:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return HTMLResponse(html, headers=headers)


def wants_page(request: Request) -> bool:
    """Browsers reading pages get an HTML message; API clients get JSON."""
    path = request.url.path
    api = path.startswith(("/api/", "/ledger", "/openapi", "/docs", "/static")) or path.endswith(
        (".json", ".csv")
    )
    inventory_api = path.startswith("/inventory/") and request.query_params.get("format") != "html"
    return not api and not inventory_api and "text/html" in request.headers.get("accept", "")


def reply(request: Request, status: int, message: str) -> Response:
    """A one-line refusal or error, as a page or as JSON `{"detail": ...}`."""
    if wants_page(request):
        return render_page("base.html", request=request, error=message, status=status)
    return JSONResponse({"detail": message}, status_code=status)
