"""Server-rendered pages of the audit web service (Jinja2, autoescaped; they reuse the report's blocks)."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse

from misflag import __version__


@cache
def _environment() -> jinja2.Environment:
    loader = jinja2.ChoiceLoader(
        [
            jinja2.PackageLoader("misflag.api", "templates"),
            jinja2.PackageLoader("misflag.report", "templates"),
        ]
    )
    return jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)


def render_page(name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A page from its template; `error` (one line) is shown at the top when given."""
    context.setdefault("error", None)
    text = _environment().get_template(name).render(version=__version__, **context)
    return HTMLResponse(text, status_code=status)
