"""`/docs`: Swagger UI 5 (Apache-2.0) served from the files of the `fastapi-offline` package (MIT), never
from a CDN (FastAPI's own /docs loads it from one). Only the bundle, its style sheet and icon are served.

The page loads the bundle's script and style and `static/docs.js` from this service, so it works offline
and under the default Content-Security-Policy (no inline script).
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

router = APIRouter(include_in_schema=False)
_OWN = Path(__file__).with_name("static")
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}
_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>misflag API</title>
<link rel="stylesheet" href="/static/swagger/swagger-ui.css">
<link rel="icon" type="image/png" href="/static/swagger/favicon.png"></head>
<body><div id="swagger-ui"></div>
<script src="/static/swagger/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script>
</body></html>"""


def _swagger_folder() -> Path:
    """The package's folder of Swagger UI files (found without importing the package)."""
    spec = find_spec("fastapi_offline")
    if spec is None or spec.origin is None:
        raise HTTPException(
            503, "the API page needs the fastapi-offline package (pip install fastapi-offline)"
        )
    return Path(spec.origin).parent / "static"


@router.get("/docs", response_class=HTMLResponse)
def docs() -> HTMLResponse:
    """Swagger UI of the OpenAPI description at /openapi.json."""
    return HTMLResponse(_PAGE)


@router.get("/static/swagger/{name}")
def swagger_asset(name: str) -> FileResponse:
    """One of Swagger UI's files, from the installed package."""
    if name not in _ASSETS:
        raise HTTPException(404, "no such file")
    return FileResponse(_swagger_folder() / name, media_type=_ASSETS[name])


@router.get("/static/docs.js")
def docs_script() -> FileResponse:
    """The script that starts Swagger UI on /openapi.json."""
    return FileResponse(_OWN / "docs.js", media_type="text/javascript")
